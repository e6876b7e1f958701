import { sha256Key } from "./sha256.ts";
import type { BrokerToken } from "./token.ts";

// Tokens already verified, keyed by the SHA-256 of the token: a token used for many requests costs
// a hash and a map lookup after the first, not an ECDSA verification. The token itself is never
// kept. Entries hold what a signature check established; per-request checks (exp, scopes) run on
// every hit.

/** Bounds memory whatever callers send: a flood of distinct valid tokens evicts the coldest. */
export const MAX_VERIFIED_TOKENS = 10_000;

export interface VerifiedTokens {
  get(key: string): BrokerToken | undefined;
  set(key: string, token: BrokerToken): void;
  readonly size: number;
}

export function createVerifiedTokens(maxEntries = MAX_VERIFIED_TOKENS): VerifiedTokens {
  // A Map keeps insertion order: re-inserting on a hit makes the front the least recently used.
  const entries = new Map<string, BrokerToken>();
  return {
    get(key) {
      const token = entries.get(key);
      if (token === undefined) return undefined;
      entries.delete(key);
      entries.set(key, token);
      return token;
    },
    set(key, token) {
      entries.delete(key);
      entries.set(key, token);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    get size() {
      return entries.size;
    },
  };
}

export function tokenCacheKey(jwt: string): string {
  return sha256Key(jwt);
}
