import { type BrokerKeys, createBrokerKeys } from "./broker-keys.ts";
import { createReplayCache, type ReplayCache } from "./dpop.ts";
import type { FetchLike, VerifierConfig } from "./options.ts";
import { createVerifiedTokens, type VerifiedTokens } from "./verified-tokens.ts";
import { createRevocations, type Revocations } from "./revocations.ts";

// The kit's per-process (per-isolate on Workers) state, all of it here: one key cache per broker,
// one verified-token cache per (broker, audience). Every middleware and verifyBrokerToken call with
// the same broker shares them, so several routes cost one JWKS fetch and one cache.

/** An origin trusts one broker, maybe two during a migration; more caches than this is a leak. */
const MAX_BROKERS = 16;
/** Origins verifying tokens for several audiences in one process (a gateway) stay bounded too. */
const MAX_AUDIENCES = 64;

export interface VerifierState {
  readonly keys: BrokerKeys;
  readonly verified: VerifiedTokens;
  /** DPoP proofs seen by this origin (RFC 9449 §11.1), shared by its routes like the token cache. */
  readonly proofs: ReplayCache;
  /** The broker's revocation list, polled; undefined when the origin turned the check off. */
  readonly revocations: Revocations | undefined;
}

const brokers = new Map<string, BrokerKeys>();
const audiences = new Map<string, { verified: VerifiedTokens; proofs: ReplayCache }>();
const revocationLists = new Map<string, Revocations>();
const fetchIds = new WeakMap<FetchLike, number>();
let nextFetchId = 0;

export function stateFor(config: VerifierConfig): VerifierState {
  // A different fetch reaches the broker another way (a service binding, a test's stand-in):
  // its keys are not interchangeable with the global fetch's.
  let fetchId = fetchIds.get(config.fetch);
  if (fetchId === undefined) {
    fetchId = nextFetchId++;
    fetchIds.set(config.fetch, fetchId);
  }
  const brokerKey = `${fetchId} ${config.issuer}`;
  let keys = brokers.get(brokerKey);
  if (!keys) {
    keys = createBrokerKeys(config.issuer, config.fetch);
    evictOldest(brokers, MAX_BROKERS);
    brokers.set(brokerKey, keys);
  }
  const audienceKey = `${brokerKey} ${config.audience} ${config.clockSkewSeconds}`;
  let audience = audiences.get(audienceKey);
  if (!audience) {
    audience = { verified: createVerifiedTokens(), proofs: createReplayCache() };
    evictOldest(audiences, MAX_AUDIENCES);
    audiences.set(audienceKey, audience);
  }
  let revocations: Revocations | undefined;
  if (config.revocationPollSeconds > 0) {
    const listKey = `${brokerKey} ${config.revocationPollSeconds}`;
    revocations = revocationLists.get(listKey);
    if (!revocations) {
      revocations = createRevocations(config.issuer, config.fetch, config.revocationPollSeconds);
      evictOldest(revocationLists, MAX_BROKERS);
      revocationLists.set(listKey, revocations);
    }
  }
  return { keys, ...audience, revocations };
}

function evictOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size >= max) map.delete(map.keys().next().value as K);
}
