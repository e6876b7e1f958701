import { audit, sha256Hex } from "../audit.ts";
import type { Config } from "../config.ts";
import type { Caller } from "../entra-token.ts";
import { reasonOf, toWireError, type ExchangeFailure } from "../errors.ts";
import { readExchangeRequest } from "../exchange-request.ts";
import { tokenHash, verifiedCallersFor } from "../verified-callers.ts";
import type { JwksCache } from "../jwks.ts";
import { issuedLifetime } from "../lifetime.ts";
import { mint } from "../mint.ts";
import { decide } from "../policy.ts";
import { firstRevoked } from "../revocations/guard.ts";
import type { RevocationStore } from "../revocations/store.ts";
import { guardCaller, guardFields, tokenGuardResponse, type GuardRefusal } from "../safeguards.ts";

// POST /token: parse ─► verify Entra token ─► policy ─► mint ─► respond. Thin on purpose.
export async function tokenExchange(
  request: Request,
  config: Config,
  jwks: JwksCache,
  now: number,
  revocations?: RevocationStore,
): Promise<Response> {
  const parsed = await readExchangeRequest(request);
  if (!parsed.ok) return deny({ stage: "request", problem: parsed.error }, now);
  const exchange = parsed.value;

  // A service presents the same Entra token on every exchange for its whole life (about an hour):
  // the bounded verification cache makes a repeat cost a hash instead of RSA + claim checks.
  const callers = verifiedCallersFor(config, jwks);
  const verified = await callers.verify(exchange.subjectToken, await tokenHash(exchange.subjectToken), now);
  if (!verified.ok) return deny({ stage: "verify", problem: verified.error }, now, { resource: exchange.resource });
  const caller = verified.value;

  // Revocations and rate limits, on every request: a cached verification must not outlive a revocation.
  const guarded = await guardCaller(
    config.operations,
    config.policy.rateLimits,
    revocations,
    caller,
    exchange.resource,
    now,
  );
  if (!guarded.ok) return refuse(guarded.error, now, callerFields(caller, now, exchange.resource));

  const decision = decide(caller, { resource: exchange.resource, scopes: exchange.scopes }, config.policy);
  if (!decision.ok)
    return deny({ stage: "policy", denial: decision.error }, now, callerFields(caller, now, exchange.resource));
  const grant = decision.value;
  const ruleRevoked = firstRevoked(guarded.value.revocations, [["rule", grant.rule]], now);
  if (ruleRevoked)
    return refuse(ruleRevoked, now, { ...callerFields(caller, now, exchange.resource), rule: grant.rule });

  const lifetime = issuedLifetime(grant, config.maxTokenTtlSeconds, caller, now);
  if (!lifetime.ok)
    return deny({ stage: "lifetime", problem: lifetime.error }, now, callerFields(caller, now, exchange.resource));
  const ttlSeconds = lifetime.value;

  const issued = await mint({ issuer: config.issuer, caller, grant, ttlSeconds, now }, config.signingKeys);
  audit(
    {
      event: "token_exchange",
      outcome: "granted",
      reason: "granted",
      ...callerFields(caller, now, grant.resource),
      roles: grant.roles,
      rule: grant.rule,
      ...(guarded.value.rateLimit !== undefined && { rate_limit: guarded.value.rateLimit }),
      scope: issued.scope,
      jti: issued.jti,
      exp: issued.expiresAt,
      token_sha256: await sha256Hex(issued.token),
    },
    now,
  );
  return Response.json(
    {
      access_token: issued.token,
      issued_token_type: exchange.requestedTokenType,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      scope: issued.scope,
    },
    { headers: NO_STORE },
  );
}

// RFC 6749 §5.1: token responses, errors included, must not be cached.
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

function deny(failure: ExchangeFailure, now: number, fields: Record<string, unknown> = {}): Response {
  const wire = toWireError(failure);
  audit({ event: "token_exchange", outcome: "denied", reason: reasonOf(failure), ...fields }, now);
  const headers: Record<string, string> = { ...NO_STORE };
  if (wire.retryAfterSeconds !== undefined) headers["retry-after"] = String(wire.retryAfterSeconds);
  return Response.json({ error: wire.error, error_description: wire.description }, { status: wire.status, headers });
}

function refuse(refusal: GuardRefusal, now: number, fields: Record<string, unknown>): Response {
  const outcome = refusal.reason === "revocations_unavailable" ? "error" : "denied";
  audit({ event: "token_exchange", outcome, reason: refusal.reason, ...fields, ...guardFields(refusal) }, now);
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
