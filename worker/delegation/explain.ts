import type { Broker } from "../broker.ts";
import { createDpopReplayCache, readDpopProof } from "../dpop.ts";
import type { ExchangeFailure } from "../errors.ts";
import type { ExchangeRequest } from "../exchange-request.ts";
import type { Explanation } from "../explain.ts";
import type { KeepAlive } from "../jwks.ts";
import { delegate } from "./exchange.ts";

// POST /explain with an actor_token: the delegation stages of POST /token, and the decision
// instead of a token. Token verification failures (request, DPoP proof, actor, subject) are
// refused exactly as /token refuses them; decisions (delegation rules, binding, lifetime) are
// explained. A DPoP proof is checked as /token checks it but not spent: explain mints nothing.

export type DelegationExplanation =
  | { readonly refused: ExchangeFailure; readonly fields: Record<string, unknown> }
  | { readonly explanation: Explanation; readonly fields: Record<string, unknown> };

export async function explainDelegation(
  request: Request,
  exchange: ExchangeRequest & { readonly actorToken: string },
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<DelegationExplanation> {
  const { config } = broker;
  const expectation = {
    method: "POST",
    url: `${config.issuer}/token`,
    clockSkewSeconds: config.entra.clockSkewSeconds,
  };
  const proof = await readDpopProof(request.headers, expectation, createDpopReplayCache(), now);
  if (!proof.ok) return { refused: { stage: "dpop", ...proof.error }, fields: { resource: exchange.resource } };
  const delegated = await delegate(exchange, proof.value?.jkt, broker, now, keepAlive);
  if (delegated.ok) {
    const { grant, ttlSeconds, fields } = delegated.value;
    return {
      explanation: {
        decision: "granted",
        reason: "granted",
        rule: grant.rule,
        scope: grant.scopes.join(" "),
        expiresIn: ttlSeconds,
        candidates: [],
      },
      fields,
    };
  }
  const { failure, fields } = delegated.error;
  // Before any decision (a token that fails verification): /token's refusal, byte for byte.
  if (failure.stage === "actor" || failure.stage === "subject" || failure.stage === "request")
    return { refused: failure, fields };
  return { explanation: { decision: "denied", reason: failure.reason, candidates: [] }, fields };
}
