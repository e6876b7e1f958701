import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { type BrokerMetadata, discover } from "./discovery.ts";
import { fetchJson, FETCH_TIMEOUT_MS, isObject } from "./fetch-json.ts";
import { failure, type Failure } from "./failure.ts";
import type { FetchLike } from "./options.ts";
import { err, ok, type Result } from "./result.ts";

// The broker's public keys, found by discovery and cached per issuer for the life of the process
// (or isolate). The cache is what stands between a flood of forged tokens and the broker, so every
// path that can trigger a fetch is bounded, with the same policy as the broker's own Entra key cache.

/** Keys are reused this long before a refresh on next use (the broker publishes keys before they sign). */
export const JWKS_FRESH_MS = 5 * 60 * 1000;
/** An unknown kid may force a refetch at most this often: a flood of bad kids costs one fetch. */
export const UNKNOWN_KID_COOLDOWN_MS = 60 * 1000;
/** When the broker is unreachable, known keys keep working this long: its outage must not stop origins… */
export const STALE_IF_ERROR_MS = 24 * 60 * 60 * 1000;
/** …and a failed fetch is not retried sooner than this, so an outage is not hammered either. */
export const FAILURE_BACKOFF_MS = 10 * 1000;
/** Discovery is re-read this often: jwks_uri and algorithms change rarely. */
export const METADATA_FRESH_MS = 60 * 60 * 1000;
/**
 * How long a request waits for a refresh another request started before doing its own. On Workers a
 * promise tied to another request's I/O may never settle if that request is cancelled, so sharing a
 * fetch must never mean waiting for it without a bound (metadata + keys: two fetches).
 */
export const SHARED_FETCH_WAIT_MS = 2 * FETCH_TIMEOUT_MS + 1000;
/** Bounds the key map (and import work) whatever the document claims; the broker publishes 2-3. */
export const MAX_KEYS = 16;
/** kids are short identifiers; a long one is junk we should not keep. */
const MAX_KID_LENGTH = 128;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

export interface KeySet {
  readonly getKey: JWTVerifyGetKey;
  readonly kids: ReadonlySet<string>;
  readonly algorithms: readonly string[];
  readonly fetchedAt: number;
}

export interface BrokerKeys {
  /**
   * The key set to verify a token whose header names `kid`, refreshing per the policy above. When
   * the cached set is fresh and holds the kid (nearly every request), the answer is immediate.
   */
  keySetFor(kid: string, now: number): Result<KeySet, Failure> | Promise<Result<KeySet, Failure>>;
  /** Fetches started (metadata and keys) since creation: tests and benches count them. */
  fetchCount(): number;
}

interface Refresh {
  readonly done: Promise<void>;
}

export function createBrokerKeys(issuer: string, fetcher: FetchLike): BrokerKeys {
  let keys: KeySet | undefined;
  let metadata: { value: BrokerMetadata; fetchedAt: number } | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  let lastProblem: Failure = failure("keys_unavailable", { detail: "the broker's keys have not been fetched yet" });
  let inflight: Refresh | undefined;
  let fetches = 0;

  const counted: FetchLike = (input, init) => {
    fetches++;
    return fetcher(input, init);
  };

  async function load(now: number): Promise<void> {
    if (!metadata || now - metadata.fetchedAt >= METADATA_FRESH_MS) {
      const discovered = await discover(counted, issuer);
      if (!discovered.ok) {
        lastProblem = discovered.error;
        lastFailureAt = now;
        return;
      }
      metadata = { value: discovered.value, fetchedAt: now };
    }
    const { jwksUri, algorithms } = metadata.value;
    const fetched = await fetchJson(counted, jwksUri);
    if (!fetched.ok) {
      lastProblem = failure("keys_unavailable", { detail: fetched.error });
      lastFailureAt = now;
      return;
    }
    const vetted = vetKeySet(fetched.value, algorithms);
    if (!vetted.ok) {
      lastProblem = failure("broker_metadata_invalid", { detail: `${jwksUri}: ${vetted.error}` });
      lastFailureAt = now;
      return;
    }
    keys = {
      getKey: createLocalJWKSet(vetted.value),
      kids: new Set(vetted.value.keys.map((k) => k.kid as string)),
      algorithms,
      fetchedAt: now,
    };
  }

  async function refresh(now: number): Promise<void> {
    const shared = inflight;
    if (shared) {
      if (await settlesWithin(shared.done, SHARED_FETCH_WAIT_MS)) return;
      // The request that started it may have been cancelled: fetch for ourselves.
      if (inflight === shared) inflight = undefined;
    }
    lastAttemptAt = now;
    const mine: Refresh = {
      done: load(now)
        .catch(() => {
          lastFailureAt = now; // a bug in vetting must not wedge the cache
        })
        .finally(() => {
          if (inflight === mine) inflight = undefined;
        }),
    };
    inflight = mine;
    await mine.done;
  }

  return {
    fetchCount: () => fetches,
    keySetFor(kid, now) {
      if (keys && !inflight && keys.kids.has(kid) && now - keys.fetchedAt < JWKS_FRESH_MS) return ok(keys);
      return keySetAfterRefresh(kid, now);
    },
  };

  async function keySetAfterRefresh(kid: string, now: number): Promise<Result<KeySet, Failure>> {
    const backingOff = now - lastFailureAt < FAILURE_BACKOFF_MS;
    const stale = !keys || now - keys.fetchedAt >= JWKS_FRESH_MS;
    if (stale && !backingOff) await refresh(now);
    else if (inflight) await settlesWithin(inflight.done, SHARED_FETCH_WAIT_MS);

    // A kid we have not seen may be a freshly rotated key, but only one refetch per cooldown.
    if (keys && !keys.kids.has(kid) && now - lastAttemptAt >= UNKNOWN_KID_COOLDOWN_MS && !backingOff) {
      await refresh(now);
    }
    const current = keys;
    if (!current || now - current.fetchedAt >= STALE_IF_ERROR_MS) return err(lastProblem);
    if (!current.kids.has(kid)) {
      return err(failure("key_not_found", { detail: `kid ${JSON.stringify(kid)} is not in the broker's JWKS` }));
    }
    return ok(current);
  }
}

/** Keeps the keys the broker can have signed with; odd entries are skipped, not fatal. */
export function vetKeySet(doc: unknown, algorithms: readonly string[]): Result<JSONWebKeySet, string> {
  if (!isObject(doc) || !Array.isArray(doc.keys)) return err('is not a JWK set ({"keys":[…]})');
  const kept: JSONWebKeySet["keys"] = [];
  const kids = new Set<string>();
  for (const candidate of doc.keys.slice(0, MAX_KEYS)) {
    if (!isObject(candidate)) continue;
    const { kid } = candidate;
    if (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH || kids.has(kid)) continue;
    const alg = algorithmOf(candidate);
    if (!alg || !algorithms.includes(alg)) continue;
    if (candidate.alg !== undefined && candidate.alg !== alg) continue;
    if (candidate.use !== undefined && candidate.use !== "sig") continue;
    // A private member in a public set means the broker is leaking its key: use none of it.
    if (PRIVATE_MEMBERS.some((m) => m in candidate)) continue;
    kids.add(kid);
    kept.push({ ...candidate, alg } as JSONWebKeySet["keys"][number]);
  }
  if (kept.length === 0) return err(`holds no ${algorithms.join(" or ")} signing key`);
  return ok({ keys: kept });
}

function algorithmOf(jwk: Record<string, unknown>): string | undefined {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
