import { failure, type Failure } from "./failure.ts";
import { err, ok, type Result } from "./result.ts";
import type { BrokerToken } from "./token.ts";

// Delegation chains (RFC 8693 §4.1 `act`): a token the broker issued to B on A's behalf says
// `sub` A, `client_id` B and `act: {sub: B, act: <earlier hops>}`, newest first. The broker only
// ever narrows along a chain; an origin may still want fewer hops, or only actors it knows.

/** The broker caps chains at 10 actors; deeper nesting is not a broker token. */
const MAX_ACT_NESTING = 16;
const MAX_ID_LENGTH = 256;

/** The `act` claim → the actors, newest first (empty when nobody delegated). */
export function actorsOf(act: unknown): Result<readonly string[], Failure> {
  const actors: string[] = [];
  let node = act;
  while (node !== undefined) {
    if (typeof node !== "object" || node === null || Array.isArray(node) || actors.length >= MAX_ACT_NESTING)
      return err(failure("claim_invalid", { claim: "act", detail: "act must be nested {sub, act?} objects" }));
    const { sub, act: earlier } = node as { sub?: unknown; act?: unknown };
    if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_ID_LENGTH)
      return err(failure("claim_invalid", { claim: "act", detail: "every act needs a sub" }));
    actors.push(sub);
    node = earlier;
  }
  return ok(Object.freeze(actors));
}

/** What a route accepts of a chain; parsed once with the options. */
export interface DelegationRequirements {
  /** Most actors a token may carry; 0 accepts only tokens nobody delegated. */
  readonly maxDepth: number | undefined;
  /** When set, every actor in the chain must be one of these client ids. */
  readonly allowedActors: ReadonlySet<string> | undefined;
}

/** Per request, cached token or not: the chain must fit what this route accepts. */
export function checkDelegation(token: BrokerToken, required: DelegationRequirements): Result<BrokerToken, Failure> {
  const { actors } = token;
  if (required.maxDepth !== undefined && actors.length > required.maxDepth) {
    return err(
      failure("delegation_too_deep", {
        detail: `${actors.length} actors (${actors.join(" <- ")}); this route accepts at most ${required.maxDepth}`,
      }),
    );
  }
  const stranger = required.allowedActors && actors.find((actor) => !required.allowedActors!.has(actor));
  if (stranger !== undefined) {
    return err(failure("actor_not_allowed", { detail: `actor ${stranger} is not one this route accepts` }));
  }
  return ok(token);
}
