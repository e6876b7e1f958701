import type { Caller } from "../entra-token.ts";
import { mint, type IssuedToken } from "../mint.ts";
import type { Grant } from "../policy.ts";
import type { SigningKeys } from "../signing-keys.ts";
import { BoundedLru } from "../lru.ts";

// Downstream tokens are reused across requests of the same caller to the same origin with the
// same scopes, so the broker signs once per token lifetime rather than once per request (POST /token
// and forward mode alike).
// Keyed by the hash of the caller's Entra token (one caller, one token) + the grant; concurrent
// misses for one key share a single signature.

/** One entry per (caller token, route grant): 10,000 live pairs per isolate is a large fleet. */
const MAX_ENTRIES = 10_000;
/** A minted token is ~1 KB (more with many roles); this bound holds whatever the policy says. */
const MAX_WEIGHT_BYTES = 16 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 512;
/**
 * A reused token must outlive its trip to the origin and the origin's own clock skew; tokens
 * within this of exp are replaced, not reused…
 */
export const REUSE_MARGIN_SECONDS = 30;
/** …and so are tokens in the last tenth of their life, so long-lived ones refresh early too. */
const REUSE_MARGIN_FRACTION = 0.1;

export interface MintRequest {
  readonly issuer: string;
  readonly caller: Caller;
  readonly grant: Grant;
  readonly ttlSeconds: number;
  readonly now: number;
  /** RFC 9449: the key the token is bound to; part of the reuse key. */
  readonly jkt?: string;
}

export interface MintedToken {
  readonly issued: IssuedToken;
  readonly reused: boolean;
}

export interface MintedTokens {
  /** `revoked` says whether a cached token's jti has been revoked: such a token is replaced, never reused. */
  get(callerTokenHash: string, request: MintRequest, revoked?: (jti: string) => boolean): Promise<MintedToken>;
}

export function createMintedTokens(keys: SigningKeys): MintedTokens {
  const cache = new BoundedLru<string, IssuedToken>({ maxEntries: MAX_ENTRIES, maxWeight: MAX_WEIGHT_BYTES });
  const inflight = new Map<string, Promise<IssuedToken>>();

  return {
    async get(callerTokenHash, request, revoked) {
      const { grant, now } = request;
      // The rule and roles are part of the key: a token is reused only for the exact same grant.
      const key = [
        callerTokenHash,
        grant.resource,
        grant.rule,
        grant.scopes.join(" "),
        grant.roles.join(" "),
        request.jkt ?? "",
      ].join("\n");
      const cached = cache.get(key);
      if (cached && reusable(cached, now) && !revoked?.(cached.jti)) return { issued: cached, reused: true };
      if (cached) cache.delete(key);

      const pending = inflight.get(key);
      if (pending) return { issued: await pending, reused: true };
      const minting = mint(request, keys);
      inflight.set(key, minting);
      try {
        const issued = await minting;
        cache.set(key, issued, issued.token.length * 2 + key.length * 2 + ENTRY_OVERHEAD_BYTES);
        return { issued, reused: false };
      } finally {
        inflight.delete(key);
      }
    },
  };
}

function reusable(token: IssuedToken, now: number): boolean {
  const margin = Math.max(REUSE_MARGIN_SECONDS, Math.ceil(token.expiresIn * REUSE_MARGIN_FRACTION));
  const issuedAt = token.expiresAt - token.expiresIn;
  return now >= issuedAt && token.expiresAt - now >= margin;
}
