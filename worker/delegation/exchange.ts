import type { Broker } from "../broker.ts";
import { verifyBrokerToken } from "../broker-token.ts";
import type { Caller } from "../entra-token.ts";
import { actorProblem, type ExchangeFailure } from "../errors.ts";
import type { ExchangeRequest } from "../exchange-request.ts";
import type { KeepAlive } from "../jwks.ts";
import { issuedLifetime } from "../lifetime.ts";
import { err, ok, type Result } from "../result.ts";
import { decideDelegation, type DelegatedGrant } from "./decide.ts";

// POST /token with an actor_token (RFC 8693 §2.1): verify the actor's Entra token ─► verify the
// subject token as one of ours ─► delegation decision ─► binding ─► lifetime. The route mints.

export interface Delegation {
  /** The actor: the new token's client_id, whose Entra token authenticated the request. */
  readonly actor: Caller;
  readonly grant: DelegatedGrant;
  readonly ttlSeconds: number;
  /** The jti of the subject token (T1), checked against the revocation list by the route. */
  readonly subjectJti: string;
  /** For the audit line: who acts for whom, along which chain. */
  readonly fields: Record<string, unknown>;
}

export interface DelegationRefusal {
  readonly failure: ExchangeFailure;
  readonly fields: Record<string, unknown>;
}

export async function delegate(
  exchange: ExchangeRequest & { readonly actorToken: string },
  /** Thumbprint of the key the request's DPoP proof was made with, if it had one. */
  jkt: string | undefined,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<Delegation, DelegationRefusal>> {
  const { config } = broker;
  const { resource } = exchange;
  // The actor token is an Entra token like any subject token: the same checks and the same cache.
  const verified = await broker.callers.verify(exchange.actorToken, now, keepAlive);
  if (!verified.ok) return err({ failure: { stage: "actor", ...actorProblem(verified.error) }, fields: { resource } });
  const { caller: actor } = verified.value;
  const actorFields = {
    tenant: actor.tenantId,
    client_id: actor.appId,
    token_version: actor.tokenVersion,
    resource,
    subject_token_remaining_s: actor.expiresAt - now,
  };

  const subject = await verifyBrokerToken(
    exchange.subjectToken,
    config.issuer,
    config.signingKeys,
    config.entra.clockSkewSeconds,
    now,
  );
  if (!subject.ok) return err({ failure: { stage: "subject", ...subject.error }, fields: actorFields });
  const t1 = subject.value;
  const chainFields = {
    ...actorFields,
    sub: t1.subject,
    via: t1.audience,
    actors: [actor.appId, ...t1.actors],
    subject_jti: t1.jti,
    subject_token_remaining_s: Math.min(actor.expiresAt, t1.expiresAt) - now,
  };

  const decision = decideDelegation(
    { subject: t1, actor, resource, scopes: exchange.scopes },
    config.policy.delegation,
  );
  if (!decision.ok) return err({ failure: { stage: "delegation", ...decision.error }, fields: chainFields });
  const grant = decision.value;

  // A bound T1 reached the actor without its key, and the actor token stands in for possession
  // (docs/agent-tokens.md); but binding never loosens along a chain: the next token is bound too.
  if (!jkt && (t1.jkt !== undefined || grant.requireDpop)) {
    const because = t1.jkt !== undefined ? "subject_token_bound" : "rule";
    return err({ failure: { stage: "dpop", reason: "dpop_required", because }, fields: chainFields });
  }

  // exp ≤ T1's exp and ≤ the actor token's: the holder's credentials end at the earlier of the two.
  const lifetime = issuedLifetime(
    grant,
    config.maxTokenTtlSeconds,
    { ...actor, expiresAt: Math.min(actor.expiresAt, t1.expiresAt) },
    now,
  );
  if (!lifetime.ok) return err({ failure: { stage: "lifetime", ...lifetime.error }, fields: chainFields });
  return ok({
    actor,
    grant,
    ttlSeconds: lifetime.value,
    subjectJti: t1.jti,
    fields: { ...chainFields, rule: grant.rule },
  });
}
