import { isObject } from "../../../worker/json.ts";
import { readCapped } from "../../../worker/lib/read-capped.ts";
import { err, ok, type Result } from "../../../worker/result.ts";

// Entra's signing keys, fetched from the one configured JWKS URL per tenant and cached for the
// life of the isolate. The cache is the only thing standing between a flood of forged tokens
// and Microsoft's key endpoint, so every path that can trigger a fetch is bounded.

/** Keys are reused this long before a background-free refresh on next use (Entra rotates with overlap). */
export const JWKS_FRESH_MS = 60 * 60 * 1000;
/** An unknown kid may force a refetch at most this often per URL: a flood of bad kids costs one fetch. */
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

export type JwksProblem = "key_not_found" | "jwks_unavailable";

interface KeySet {
  readonly jwks: ReadonlyMap<string, JsonWebKey>;
  readonly imported: Map<string, Promise<CryptoKey | undefined>>;
  readonly fetchedAt: number;
}

interface Entry {
  keys?: KeySet;
  lastAttemptAt: number;
  lastFailureAt: number;
  inflight?: Promise<void>;
}

export interface JwksCache {
  getKey(url: string, kid: string, now: number): Promise<Result<CryptoKey, JwksProblem>>;
  /** Fetches performed per URL since creation: tests and benches count them. */
  fetchCount(url: string): number;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export function createJwksCache(fetcher: FetchLike = (input, init) => fetch(input, init)): JwksCache {
  const entries = new Map<string, Entry>();
  const fetches = new Map<string, number>();

  async function refresh(url: string, entry: Entry, now: number): Promise<void> {
    if (entry.inflight) return entry.inflight; // single-flight: concurrent misses share one fetch
    entry.lastAttemptAt = now;
    fetches.set(url, (fetches.get(url) ?? 0) + 1);
    entry.inflight = fetchKeySet(fetcher, url)
      .then((jwks) => {
        if (jwks) entry.keys = { jwks, imported: new Map(), fetchedAt: now };
        else entry.lastFailureAt = now;
      })
      .finally(() => {
        entry.inflight = undefined;
      });
    return entry.inflight;
  }

  function entryFor(url: string): Entry {
    let entry = entries.get(url);
    if (!entry) {
      if (entries.size >= MAX_URLS) entries.delete(entries.keys().next().value!);
      entry = { lastAttemptAt: -Infinity, lastFailureAt: -Infinity };
      entries.set(url, entry);
    }
    return entry;
  }

  return {
    fetchCount: (url) => fetches.get(url) ?? 0,
    async getKey(url, kid, now) {
      const entry = entryFor(url);
      const backingOff = now - entry.lastFailureAt < FAILURE_BACKOFF_MS;
      const stale = !entry.keys || now - entry.keys.fetchedAt >= JWKS_FRESH_MS;
      if (stale && !backingOff) await refresh(url, entry, now);
      else if (entry.inflight) await entry.inflight;

      if (!entry.keys?.jwks.has(kid) && now - entry.lastAttemptAt >= UNKNOWN_KID_COOLDOWN_MS && !backingOff) {
        await refresh(url, entry, now); // a kid we have not seen may be a freshly rotated key
      }
      const keys = entry.keys;
      if (!keys || now - keys.fetchedAt >= STALE_IF_ERROR_MS) return err("jwks_unavailable");
      const jwk = keys.jwks.get(kid);
      if (!jwk) return err("key_not_found");
      let imported = keys.imported.get(kid);
      if (!imported) {
        imported = importRsaKey(jwk);
        keys.imported.set(kid, imported);
      }
      const key = await imported;
      return key ? ok(key) : err("key_not_found");
    },
  };
}

async function fetchKeySet(fetcher: FetchLike, url: string): Promise<ReadonlyMap<string, JsonWebKey> | undefined> {
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
    const keys = new Map<string, JsonWebKey>();
    for (const candidate of doc.keys.slice(0, MAX_KEYS)) {
      // Unusable entries (other key types, encryption keys, weak keys) are skipped, not fatal:
      // one odd key in a published set must not take the good ones down with it.
      if (!isObject(candidate) || typeof candidate.kid !== "string") continue;
      if (candidate.kty !== "RSA" || typeof candidate.n !== "string" || typeof candidate.e !== "string") continue;
      if (candidate.use !== undefined && candidate.use !== "sig") continue;
      if (candidate.alg !== undefined && candidate.alg !== "RS256") continue;
      if (modulusBits(candidate.n) < MIN_RSA_BITS) continue;
      keys.set(candidate.kid, { kty: "RSA", n: candidate.n, e: candidate.e });
    }
    return keys;
  } catch {
    return undefined; // network error, timeout, invalid JSON: all the same to the caller
  }
}

async function importRsaKey(jwk: JsonWebKey): Promise<CryptoKey | undefined> {
  try {
    return await crypto.subtle.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
  } catch {
    return undefined;
  }
}

function modulusBits(n: string): number {
  const significant = n.replace(/^A+/, ""); // leading zero bits
  return Math.floor((significant.length * 6) / 8) * 8;
}
