import { base64url } from "jose";
import type { EntraConfig } from "./config.ts";
import { verifyEntraToken, type Caller, type VerificationProblem } from "./entra-token.ts";
import type { EntraKey, JwksCache, KeepAlive } from "./jwks.ts";
import { ok, type Result } from "./result.ts";
import { BoundedLru } from "./lru.ts";

// Callers present the same Entra token on request after request (exchanges and forwards):
// verifying it once (RSA, JSON, claims) and remembering the Caller is what makes a repeated token cheap. Only successes are
// kept, keyed by a SHA-256 of the token string, and a hit is re-checked against the clock on
// every use: an entry never outlives the token's exp (+ skew) or its maximum age, and a clock
// that moved backwards past the verification time (where nbf was checked) sends it back to
// full verification. An entry also dies with the Entra key that verified it: once a fresh key set
// no longer publishes that key (how an identity provider revokes one), the token is checked again.

/** Distinct live callers per isolate are few; 10,000 covers a large fleet with room to spare. */
const MAX_ENTRIES = 10_000;
/**
 * An entry costs roughly its token's size (the roles dominate) plus fixed overhead. Tokens are
 * capped at 16 KiB, so 10,000 worst-case entries would be ~160 MB: the weight bound keeps the
 * cache within 16 MiB, well inside the 128 MB isolate limit, whatever callers send.
 */
const MAX_WEIGHT_BYTES = 16 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 512;

interface Entry {
  readonly caller: Caller;
  /** Unix seconds: when it was verified; earlier "now" values are not trusted with it. */
  readonly verifiedAt: number;
  /** Unix seconds: first instant the token must be verified again (expired or too old). */
  readonly validUntil: number;
  readonly keysUrl: string;
  readonly signedBy: EntraKey;
}

export interface VerifiedSubject {
  readonly caller: Caller;
  /** The subject token's identity as a cache key (a SHA-256: no token is kept as a key). */
  readonly subjectKey: string;
}

export interface VerifiedCallers {
  verify(token: string, now: number, keepAlive?: KeepAlive): Promise<Result<VerifiedSubject, VerificationProblem>>;
}

export function createVerifiedCallers(entra: EntraConfig, jwks: JwksCache): VerifiedCallers {
  const cache = new BoundedLru<string, Entry>({ maxEntries: MAX_ENTRIES, maxWeight: MAX_WEIGHT_BYTES });
  return {
    async verify(token, now, keepAlive) {
      const subjectKey = await tokenCacheKey(token);
      const hit = cache.get(subjectKey);
      if (hit && now >= hit.verifiedAt && now < hit.validUntil && jwks.isPublished(hit.keysUrl, hit.signedBy))
        return ok({ caller: hit.caller, subjectKey });
      if (hit) cache.delete(subjectKey);
      // The full check also produces the precise reason (expired, too old…) for the audit log.
      const verified = await verifyEntraToken(token, entra, jwks, now, keepAlive);
      if (!verified.ok) return verified;
      const { caller, keysUrl, signedBy } = verified.value;
      // Mirrors verifyEntraToken's time checks: expired at exp + skew, too old past the max age.
      const validUntil = Math.min(
        caller.expiresAt + entra.clockSkewSeconds,
        caller.issuedAt + entra.maxTokenAgeSeconds + 1,
      );
      const entry = { caller, verifiedAt: now, validUntil, keysUrl, signedBy };
      cache.set(subjectKey, entry, token.length * 2 + ENTRY_OVERHEAD_BYTES);
      return ok({ caller, subjectKey });
    },
  };
}

/** The cache key of a bearer token: its SHA-256, so no token is kept as a key. */
async function tokenCacheKey(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}
