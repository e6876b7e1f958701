import type { Caller } from "./entra-token.ts";
import type { Grant } from "./policy.ts";
import { err, ok, type Result } from "./result.ts";

/** A token that would live shorter than this is useless to its holder (or could expire before the
 *  origin checks it): the caller should get a fresh Entra token instead. */
export const MIN_ISSUED_TTL_SECONDS = 10;

export interface LifetimeProblem {
  readonly reason: "subject_token_expiring";
}

/** A minted token lives min(rule cap, global cap, the subject token's remaining life), whole seconds. */
export function issuedLifetime(
  grant: Grant,
  maxTokenTtlSeconds: number,
  caller: Caller,
  now: number,
): Result<number, LifetimeProblem> {
  const ttl = Math.floor(Math.min(grant.maxTtlSeconds, maxTokenTtlSeconds, caller.expiresAt - now));
  return ttl < MIN_ISSUED_TTL_SECONDS ? err({ reason: "subject_token_expiring" }) : ok(ttl);
}
