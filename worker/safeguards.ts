import type { OperationsConfig } from "./config.ts";
import type { Caller } from "./entra-token.ts";
import type { KeepAlive } from "./jwks.ts";
import { challenge } from "./forward/refusals.ts";
import { checkRateLimit, rateLimitedResponse, type RateLimitPolicy } from "./rate-limit.ts";
import {
  firstRevoked,
  refusalFields,
  revocationsNow,
  tokenRefusalResponse,
  type RevocationRefusal,
} from "./revocations/guard.ts";
import type { RevocationSnapshot, RevocationStore } from "./revocations/store.ts";
import { err, ok, type Result } from "./result.ts";

// What both routes check once the caller is verified, cache hit or not: is this client, its
// tenant or the origin it wants revoked, and is it over its rate limit. Revocations come first:
// a revoked client is refused without spending its rate limit budget.

export type GuardRefusal =
  | RevocationRefusal
  | { readonly reason: "rate_limited"; readonly binding: string; readonly retryAfterSeconds: number };

export interface Guarded {
  /** The revocation list of this request (undefined: REVOCATIONS not bound), for the later checks. */
  readonly revocations: RevocationSnapshot | undefined;
  /** The rate limit tier that counted this request, for the audit line. */
  readonly rateLimit?: string;
}

export async function guardCaller(
  operations: OperationsConfig,
  rateLimits: RateLimitPolicy,
  store: RevocationStore | undefined,
  caller: Caller,
  origin: string,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<Guarded, GuardRefusal>> {
  const list = await revocationsNow(store, now, keepAlive);
  if (!list.ok) return list;
  const revoked = firstRevoked(
    list.value,
    [
      ["client", caller.appId],
      ["tenant", caller.tenantId],
      ["origin", origin],
    ],
    now,
  );
  if (revoked) return err(revoked);
  const limit = await checkRateLimit(rateLimits, operations.rateLimiters, caller.tenantId, caller.appId);
  if (limit.limited)
    return err({ reason: "rate_limited", binding: limit.binding, retryAfterSeconds: limit.retryAfterSeconds });
  return ok({ revocations: list.value, ...(limit.binding !== undefined && { rateLimit: limit.binding }) });
}

/** Audit fields that say which revocation or limit refused the request. */
export function guardFields(refusal: GuardRefusal): Record<string, unknown> {
  return refusal.reason === "rate_limited" ? { rate_limit: refusal.binding } : refusalFields(refusal);
}

export function tokenGuardResponse(refusal: GuardRefusal): Response {
  return refusal.reason === "rate_limited"
    ? rateLimitedResponse(refusal.retryAfterSeconds)
    : tokenRefusalResponse(refusal);
}

/** Forward mode (RFC 6750 §3.1): a revoked caller's token is invalid (401); a revoked destination is forbidden (403). */
export function forwardGuardResponse(refusal: GuardRefusal, realm: string): Response {
  switch (refusal.reason) {
    case "rate_limited":
      return rateLimitedResponse(refusal.retryAfterSeconds);
    case "revocations_unavailable":
      return tokenRefusalResponse(refusal);
    case "revoked": {
      const { kind } = refusal.revocation;
      return kind === "origin" || kind === "rule"
        ? challenge(
            403,
            realm,
            "insufficient_scope",
            "this origin has been revoked for this caller by the broker's operator",
          )
        : challenge(401, realm, "invalid_token", `this ${kind} has been revoked by the broker's operator`);
    }
  }
}
