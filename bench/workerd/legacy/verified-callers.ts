import type { Config, EntraConfig } from "../../../worker/config.ts";
import { verifyEntraToken, type Caller, type VerificationProblem } from "./entra-token.ts";
import type { JwksCache } from "./jwks.ts";
import { encodeBase64Url } from "./jws.ts";
import { ok, type Result } from "../../../worker/result.ts";
import { BoundedLru } from "../../../worker/lru.ts";

// Callers present the same Entra token on request after request (exchanges and forwards):
// verifying it once (RSA, JSON, claims) and remembering the Caller is what makes a repeated token cheap. Only successes are
// kept, keyed by a SHA-256 of the token string, and a hit is re-checked against the clock on
// every use: an entry never outlives the token's exp (+ skew) or its maximum age, and a clock
// that moved backwards past the verification time (where nbf was checked) sends it back to
// full verification.

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
}

export interface VerifiedCallers {
  verify(token: string, tokenHash: string, now: number): Promise<Result<Caller, VerificationProblem>>;
}

export function createVerifiedCallers(entra: EntraConfig, jwks: JwksCache): VerifiedCallers {
  const cache = new BoundedLru<string, Entry>({ maxEntries: MAX_ENTRIES, maxWeight: MAX_WEIGHT_BYTES });
  return {
    async verify(token, tokenHash, now) {
      const hit = cache.get(tokenHash);
      if (hit && now >= hit.verifiedAt && now < hit.validUntil) return ok(hit.caller);
      if (hit) cache.delete(tokenHash);
      // The full check also produces the precise reason (expired, too old…) for the audit log.
      const verified = await verifyEntraToken(token, entra, jwks, now);
      if (verified.ok) {
        const caller = verified.value;
        // Mirrors verifyEntraToken's time checks: expired at exp + skew, too old past the max age.
        const validUntil = Math.min(
          caller.expiresAt + entra.clockSkewSeconds,
          caller.issuedAt + entra.maxTokenAgeSeconds + 1,
        );
        cache.set(tokenHash, { caller, verifiedAt: now, validUntil }, token.length * 2 + ENTRY_OVERHEAD_BYTES);
      }
      return verified;
    },
  };
}

// One cache per isolate and parsed config, shared by POST /token and forward mode: a token used
// for both is verified once, the memory bound holds for the isolate as a whole, and an entry is
// only ever reused under the settings (tenants, audiences, keys) that produced it.
const byConfig = new WeakMap<Config, VerifiedCallers>();

export function verifiedCallersFor(config: Config, jwks: JwksCache): VerifiedCallers {
  let callers = byConfig.get(config);
  if (!callers) byConfig.set(config, (callers = createVerifiedCallers(config.entra, jwks)));
  return callers;
}

/** The cache key of a bearer token: its SHA-256, so no token is kept as a key. */
export async function tokenHash(token: string): Promise<string> {
  return encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}
