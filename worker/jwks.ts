import { importJWK } from "jose";
import { isObject } from "./json.ts";
import { readCapped } from "./lib/read-capped.ts";
import { err, ok, type Result } from "./result.ts";

// Entra's signing keys, fetched from the one configured JWKS URL per tenant and cached for the
// life of the isolate. This fetch policy is our own code because jose's remote key set has no
// streamed size cap, no stale-if-error, no failure backoff and cannot say "unavailable" apart from
// "no such key". The cache is the only thing standing between a flood of forged tokens and
// Microsoft's key endpoint, so every path that can trigger a fetch is bounded.

/** Keys are reused this long before a refresh on next use (Entra rotates with overlap). */
export const JWKS_FRESH_MS = 60 * 60 * 1000;
/** An unknown kid may force a refetch at most this long after the last successful fetch: a flood of bad kids costs one fetch. */
export const UNKNOWN_KID_COOLDOWN_MS = 60 * 1000;
/** When the endpoint fails, known keys keep working this long: an outage must not stop all exchanges… */
export const STALE_IF_ERROR_MS = 24 * 60 * 60 * 1000;
/** …and a failed fetch is not retried sooner than this, so an outage is not hammered either. */
export const FAILURE_BACKOFF_MS = 10 * 1000;
/** A slow endpoint must not hold requests open: the caller gets a 503 instead. */
export const FETCH_TIMEOUT_MS = 5 * 1000;
/** Entra's JWKS is ~10 KiB; a larger answer is an attack or a misconfiguration, not keys. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** Bounds the per-URL key map (and import work) whatever the document claims. */
const MAX_KEYS = 64;
/** RSA keys below this are refused (NIST SP 800-131A); Entra uses 2048-bit keys. */
const MIN_RSA_BITS = 2048;
/** Bounds the number of cached JWKS URLs (one per allow-listed tenant in practice). */
const MAX_URLS = 256;
/**
 * A request that needs keys while another request's fetch is pending polls for its result this
 * often, and takes the fetch over once the other has had a whole fetch timeout plus this margin.
 * On Workers a request must not await I/O started by another request: if that request is
 * cancelled (its client went away), the promise may never settle (jose turns its own sharing off
 * on Workers for this reason). Polling shared memory from one's own context cannot hang.
 */
const WAIT_POLL_MS = 20;
const FETCH_LEASE_MS = FETCH_TIMEOUT_MS + 1000;
/** RFC 7517 / RFC 7518 §6.3.2, §6.4: members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

export interface JwksProblem {
  readonly reason: "key_not_found" | "jwks_unavailable";
}

/** One published Entra key. Compared by identity: a cached verification stays valid only while this very key is published. */
export interface EntraKey {
  readonly kid: string;
  readonly n: string;
  readonly e: string;
  /** Imported on first use; undefined when Web Crypto refuses it (e.g. e = 1). */
  imported?: Promise<CryptoKey | undefined>;
}

interface KeySet {
  readonly byKid: ReadonlyMap<string, EntraKey>;
  readonly fetchedAt: number;
}

interface Entry {
  keys?: KeySet;
  lastSuccessAt: number;
  lastFailureAt: number;
  /** Set while one request fetches; others wait for it by polling, never by awaiting its I/O. */
  lease?: object;
}

export interface JwksCache {
  getKey(
    url: string,
    kid: string,
    now: number,
    keepAlive?: KeepAlive,
  ): Promise<Result<{ key: EntraKey; cryptoKey: CryptoKey }, JwksProblem>>;
  /** Whether `key` is still in the newest key set fetched from `url`: a removed key is revoked. */
  isPublished(url: string, key: EntraKey): boolean;
  /** Fetches performed per URL since creation: tests and benches count them. */
  fetchCount(url: string): number;
}

/**
 * ctx.waitUntil of the request that fetches: the fetch and the bookkeeping after it then finish even
 * if that request's client goes away, so the requests polling for its result are not left waiting.
 */
export type KeepAlive = (work: Promise<unknown>) => void;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;
/** Where refused keys are reported (once per URL and kid): the operator must hear about a leaked key. */
export type KeyAlarm = (event: { reason: "jwks_private_key_published"; url: string; kid: string }) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createJwksCache(
  fetcher: FetchLike = (input, init) => fetch(input, init),
  alarm: KeyAlarm = (event) => console.error(JSON.stringify({ event: "jwks_key_refused", outcome: "error", ...event })),
): JwksCache {
  const entries = new Map<string, Entry>();
  const fetches = new Map<string, number>();
  const alarmed = new Set<string>();

  function entryFor(url: string): Entry {
    let entry = entries.get(url);
    if (!entry) {
      if (entries.size >= MAX_URLS) entries.delete(entries.keys().next().value!);
      entry = { lastSuccessAt: -Infinity, lastFailureAt: -Infinity };
      entries.set(url, entry);
    }
    return entry;
  }

  async function refresh(url: string, entry: Entry, now: number, keepAlive?: KeepAlive): Promise<void> {
    const lease = {};
    entry.lease = lease;
    fetches.set(url, (fetches.get(url) ?? 0) + 1);
    const done = fetchKeySet(fetcher, url).then((doc) => {
      if (entry.lease !== lease) return; // taken over after our lease ran out: the newer fetch decides
      entry.lease = undefined;
      if (doc) {
        entry.keys = { byKid: vetKeys(url, doc, entry.keys?.byKid), fetchedAt: now };
        entry.lastSuccessAt = now;
      } else entry.lastFailureAt = now;
    });
    keepAlive?.(done);
    await done;
  }

  /** Waits (in this request's own context) for another request's fetch; false if it never finished. */
  async function awaitOtherFetch(entry: Entry): Promise<boolean> {
    const lease = entry.lease;
    // Liveness, not policy: measured on the monotonic clock, which Workers advance across timers.
    const deadline = performance.now() + FETCH_LEASE_MS;
    while (performance.now() < deadline) {
      await sleep(WAIT_POLL_MS);
      if (entry.lease !== lease) return true;
    }
    return false;
  }

  function vetKeys(url: string, doc: readonly unknown[], previous?: ReadonlyMap<string, EntraKey>) {
    const keys = new Map<string, EntraKey>();
    for (const candidate of doc.slice(0, MAX_KEYS)) {
      // Unusable entries (other key types, encryption keys, weak keys) are skipped, not fatal:
      // one odd key in a published set must not take the good ones down with it.
      if (!isObject(candidate) || typeof candidate.kid !== "string") continue;
      // A published private or symmetric key is a leaked key: whoever read it can sign.
      if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(candidate, m))) {
        const id = `${url} ${candidate.kid}`;
        if (!alarmed.has(id)) {
          alarmed.add(id);
          alarm({ reason: "jwks_private_key_published", url, kid: candidate.kid });
        }
        continue;
      }
      if (candidate.kty !== "RSA" || typeof candidate.n !== "string" || typeof candidate.e !== "string") continue;
      if (candidate.use !== undefined && candidate.use !== "sig") continue;
      if (candidate.alg !== undefined && candidate.alg !== "RS256") continue;
      if (modulusBits(candidate.n) < MIN_RSA_BITS) continue;
      // The same key republished keeps its identity (and import), so a refresh does not drop
      // cached verifications it made; a kid reused for other key material is a new key.
      const kept = previous?.get(candidate.kid);
      keys.set(
        candidate.kid,
        kept && kept.n === candidate.n && kept.e === candidate.e
          ? kept
          : { kid: candidate.kid, n: candidate.n, e: candidate.e },
      );
    }
    return keys;
  }

  return {
    fetchCount: (url) => fetches.get(url) ?? 0,
    isPublished(url, key) {
      return entries.get(url)?.keys?.byKid.get(key.kid) === key;
    },
    async getKey(url, kid, now, keepAlive) {
      const entry = entryFor(url);
      for (let attempt = 0; attempt < 2; attempt++) {
        const backingOff = now - entry.lastFailureAt < FAILURE_BACKOFF_MS;
        const stale = !entry.keys || now - entry.keys.fetchedAt >= JWKS_FRESH_MS;
        const known = entry.keys?.byKid.has(kid) ?? false;
        // The cooldown counts successful fetches only: after a failure, the backoff alone decides.
        const mayRefetchForKid = !known && now - entry.lastSuccessAt >= UNKNOWN_KID_COOLDOWN_MS;
        if (backingOff || !(stale || mayRefetchForKid)) break;
        if (!entry.lease) {
          await refresh(url, entry, now, keepAlive);
          break;
        }
        // Another request is fetching. With the key in hand (a stale set still serves), go on.
        if (known) break;
        if (await awaitOtherFetch(entry)) continue; // its result is in `entry` now: decide again
        entry.lease = undefined; // that request never finished (cancelled): fetch ourselves
      }

      const keys = entry.keys;
      if (!keys || now - keys.fetchedAt >= STALE_IF_ERROR_MS) return err({ reason: "jwks_unavailable" });
      const key = keys.byKid.get(kid);
      if (!key) {
        // An unknown kid while the endpoint is failing may be a rotation we cannot see yet:
        // a retryable 503, not a final 400.
        return entry.lastFailureAt > entry.lastSuccessAt
          ? err({ reason: "jwks_unavailable" })
          : err({ reason: "key_not_found" });
      }
      key.imported ??= importRsaKey(key);
      const cryptoKey = await key.imported;
      return cryptoKey ? ok({ key, cryptoKey }) : err({ reason: "key_not_found" });
    },
  };
}

async function fetchKeySet(fetcher: FetchLike, url: string): Promise<readonly unknown[] | undefined> {
  try {
    const response = await fetcher(url, {
      headers: { accept: "application/json" },
      // The configured URL is the only key source: a redirect elsewhere is a failure, not a hint.
      redirect: "manual",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      return undefined;
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > MAX_JWKS_BYTES) {
      await response.body.cancel();
      return undefined;
    }
    const bytes = await readCapped(response.body, MAX_JWKS_BYTES);
    if (bytes === "too_large") return undefined;
    const doc: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (!isObject(doc) || !Array.isArray(doc.keys)) return undefined;
    return doc.keys;
  } catch {
    return undefined; // network error, timeout, invalid JSON: all the same to the caller
  }
}

async function importRsaKey(key: EntraKey): Promise<CryptoKey | undefined> {
  try {
    return (await importJWK({ kty: "RSA", n: key.n, e: key.e }, "RS256")) as CryptoKey;
  } catch {
    return undefined;
  }
}

function modulusBits(n: string): number {
  const significant = n.replace(/^A+/, ""); // leading zero bits
  return Math.floor((significant.length * 6) / 8) * 8;
}
