import type { Grant } from "./policy.ts";
import { err, ok, type Result } from "./result.ts";

/** A token that would live shorter than this is useless to its holder (or could expire before the
 *  origin checks it): the caller should get a fresh Entra token instead. */
export const MIN_ISSUED_TTL_SECONDS = 10;

export interface LifetimeProblem {
  readonly reason: "subject_token_expiring";
}

/** Which limit decided a minted token's lifetime (POST /explain reports it). */
export type LifetimeCap = "rule" | "broker" | "subject_token";

export interface Lifetime {
  readonly seconds: number;
  readonly cappedBy: LifetimeCap;
}

/** A minted token lives min(rule cap, global cap, the subject token's remaining life), whole seconds. */
export function issuedLifetime(
  grant: Grant,
  maxTokenTtlSeconds: number,
  caller: { readonly expiresAt: number },
  now: number,
): Result<number, LifetimeProblem> {
  const lifetime = explainedLifetime(grant, maxTokenTtlSeconds, caller.expiresAt - now);
  return lifetime.ok ? ok(lifetime.value.seconds) : lifetime;
}

/**
 * The same computation, naming the cap; `subjectRemaining` undefined = no subject token (what-if).
 * On a tie the more specific limit is named: the rule before the broker before the subject token.
 */
export function explainedLifetime(
  grant: Grant,
  maxTokenTtlSeconds: number,
  subjectRemaining: number | undefined,
): Result<Lifetime, LifetimeProblem> {
  const caps: [LifetimeCap, number][] = [
    ["rule", grant.maxTtlSeconds],
    ["broker", maxTokenTtlSeconds],
  ];
  if (subjectRemaining !== undefined) caps.push(["subject_token", subjectRemaining]);
  let [cappedBy, limit] = caps[0]!;
  for (const [name, value] of caps) if (value < limit) [cappedBy, limit] = [name, value];
  const seconds = Math.floor(limit);
  return seconds < MIN_ISSUED_TTL_SECONDS ? err({ reason: "subject_token_expiring" }) : ok({ seconds, cappedBy });
}
