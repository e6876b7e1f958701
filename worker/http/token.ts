import { audit, sha256Hex } from "../audit.ts";
import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { Caller } from "../entra-token.ts";
import { toWireError, type ExchangeFailure } from "../errors.ts";
import { delegate } from "../delegation/exchange.ts";
import { readDpopProof } from "../dpop.ts";
import { readExchangeRequest, type ExchangeRequest } from "../exchange-request.ts";
import type { KeepAlive } from "../jwks.ts";
import { issuedLifetime } from "../lifetime.ts";
import { mint, type IssuedToken } from "../mint.ts";
import { decide } from "../policy.ts";
import { firstRevoked } from "../revocations/guard.ts";
import { guardCaller, guardFields, tokenGuardResponse, type GuardRefusal } from "../safeguards.ts";

// POST /token: parse ─► DPoP proof ─► verify Entra token ─► policy ─► mint ─► respond. Thin on
// purpose; with an actor_token the middle stages are delegation's (delegation/exchange.ts).
export async function tokenExchange(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Response> {
  const { config } = broker;
  const parsed = await readExchangeRequest(request);
  if (!parsed.ok) return deny({ stage: "request", ...parsed.error }, config, now);
  const exchange = parsed.value;

  // RFC 9449 §5: a proof, when sent, must be valid whether or not the grant needs one.
  const dpopExpectation = {
    method: "POST",
    url: `${config.issuer}/token`,
    clockSkewSeconds: config.entra.clockSkewSeconds,
  };
  const proof = await readDpopProof(request.headers, dpopExpectation, broker.dpopProofs, now);
  if (!proof.ok) return deny({ stage: "dpop", ...proof.error }, config, now, { resource: exchange.resource });
  const jkt = proof.value?.jkt;

  if (exchange.actorToken !== undefined) {
    const delegated = await delegate({ ...exchange, actorToken: exchange.actorToken }, jkt, broker, now, keepAlive);
    if (!delegated.ok) return deny(delegated.error.failure, config, now, delegated.error.fields);
    const { actor, grant, ttlSeconds, fields, subjectJti } = delegated.value;
    // The actor is a caller like any other: its client, tenant and the origin may be revoked, it
    // spends its own rate limit; and the token it acts on (T1) may have been revoked since it was minted.
    const guarded = await guardCaller(
      config.operations,
      config.policy.rateLimits,
      broker.revocations,
      actor,
      exchange.resource,
      now,
      keepAlive,
    );
    if (!guarded.ok) return refuse(guarded.error, config, now, fields);
    const revoked = firstRevoked(
      guarded.value.revocations,
      [
        ["token", subjectJti],
        ["rule", grant.rule],
      ],
      now,
    );
    if (revoked) return refuse(revoked, config, now, fields);
    // Minted afresh each time: a delegated token answers one request of someone else's work.
    const issued = await mint(
      {
        issuer: config.issuer,
        caller: actor,
        grant,
        ttlSeconds,
        now,
        delegation: { subject: grant.subject, actors: grant.actors },
        ...(jkt && { jkt }),
      },
      config.signingKeys,
    );
    const granted = {
      ...fields,
      roles: grant.roles,
      ...(jkt && { dpop_jkt: jkt }),
    };
    return respond(issued, false, exchange, granted, jkt, config, now, guarded.value.rateLimit);
  }

  // A service presents the same Entra token on every exchange for its whole life (about an hour):
  // the bounded verification cache makes a repeat cost a hash instead of RSA + claim checks.
  const verified = await broker.callers.verify(exchange.subjectToken, now, keepAlive);
  if (!verified.ok) return deny({ stage: "verify", ...verified.error }, config, now, { resource: exchange.resource });
  const { caller, subjectKey } = verified.value;

  // Revocations and rate limits, on every request: a cached verification must not outlive a revocation.
  const guarded = await guardCaller(
    config.operations,
    config.policy.rateLimits,
    broker.revocations,
    caller,
    exchange.resource,
    now,
    keepAlive,
  );
  if (!guarded.ok) return refuse(guarded.error, config, now, callerFields(caller, now, exchange.resource));

  const decision = decide(caller, { resource: exchange.resource, scopes: exchange.scopes }, config.policy);
  if (!decision.ok)
    return deny({ stage: "policy", ...decision.error }, config, now, callerFields(caller, now, exchange.resource));
  const grant = decision.value;
  const ruleRevoked = firstRevoked(guarded.value.revocations, [["rule", grant.rule]], now);
  if (ruleRevoked)
    return refuse(ruleRevoked, config, now, { ...callerFields(caller, now, exchange.resource), rule: grant.rule });

  const lifetime = issuedLifetime(grant, config.maxTokenTtlSeconds, caller, now);
  if (!lifetime.ok)
    return deny({ stage: "lifetime", ...lifetime.error }, config, now, callerFields(caller, now, exchange.resource));
  const ttlSeconds = lifetime.value;
  if (grant.requireDpop && !jkt)
    return deny(
      { stage: "dpop", reason: "dpop_required", because: "rule" },
      config,
      now,
      callerFields(caller, now, exchange.resource),
    );

  // A service that exchanges the same Entra token for the same grant again gets the token it was
  // given before while that has life left (the rule forward mode follows): one signature per
  // token lifetime instead of one per call, and one live token per caller and origin.
  // A reused token whose jti has been revoked is replaced, never handed out again; a bound token
  // is reused only for a proof by the same key.
  const { issued, reused } = await broker.mintedTokens.get(
    subjectKey,
    { issuer: config.issuer, caller, grant, ttlSeconds, now, ...(jkt && { jkt }) },
    (jti) => firstRevoked(guarded.value.revocations, [["token", jti]], now) !== undefined,
  );
  const fields = {
    ...callerFields(caller, now, grant.resource),
    roles: grant.roles,
    rule: grant.rule,
    ...(jkt && { dpop_jkt: jkt }),
  };
  return respond(issued, reused, exchange, fields, jkt, config, now, guarded.value.rateLimit);
}

async function respond(
  issued: IssuedToken,
  reused: boolean,
  exchange: ExchangeRequest,
  fields: Record<string, unknown>,
  jkt: string | undefined,
  config: Config,
  now: number,
  /** The rate limit tier that counted the request, if any. */
  rateLimit: string | undefined,
): Promise<Response> {
  audit(
    {
      event: "token_exchange",
      outcome: "granted",
      reason: "granted",
      ...fields,
      scope: issued.scope,
      jti: issued.jti,
      exp: issued.expiresAt,
      token_reused: reused,
      // The hash names a token once, when it is minted; a reuse is named by its jti.
      ...(!reused && { token_sha256: await sha256Hex(issued.token) }),
      ...(rateLimit !== undefined && { rate_limit: rateLimit }),
    },
    now,
    config,
  );
  return Response.json(
    {
      access_token: issued.token,
      issued_token_type: exchange.requestedTokenType,
      // RFC 9449 §5: a bound token is of type DPoP, and must be presented with that scheme.
      token_type: jkt ? "DPoP" : "Bearer",
      expires_in: issued.expiresAt - now,
      scope: issued.scope,
    },
    { headers: NO_STORE },
  );
}

// RFC 6749 §5.1: token responses, errors included, must not be cached.
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

function deny(failure: ExchangeFailure, config: Config, now: number, fields: Record<string, unknown> = {}): Response {
  const wire = toWireError(failure);
  audit({ event: "token_exchange", outcome: "denied", reason: failure.reason, ...fields }, now, config);
  const headers: Record<string, string> = { ...NO_STORE };
  if (wire.retryAfterSeconds !== undefined) headers["retry-after"] = String(wire.retryAfterSeconds);
  return Response.json({ error: wire.error, error_description: wire.description }, { status: wire.status, headers });
}

function refuse(refusal: GuardRefusal, config: Config, now: number, fields: Record<string, unknown>): Response {
  const outcome = refusal.reason === "revocations_unavailable" ? "error" : "denied";
  audit({ event: "token_exchange", outcome, reason: refusal.reason, ...fields, ...guardFields(refusal) }, now, config);
  return tokenGuardResponse(refusal);
}

function callerFields(caller: Caller, now: number, resource: string) {
  return {
    tenant: caller.tenantId,
    client_id: caller.appId,
    token_version: caller.tokenVersion,
    resource,
    subject_token_remaining_s: caller.expiresAt - now,
  };
}
