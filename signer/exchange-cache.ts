/**
 * Exchanged tokens reused per (resource, scope) while enough lifetime remains, with the broker's own
 * reuse rules for minted tokens (worker/forward/minted-tokens.ts): a service calling an origin a
 * thousand times a second costs the broker one exchange per token lifetime, not a thousand.
 * Concurrent misses for one key share one exchange.
 */
import type { ExchangedToken } from "./exchange.ts";

/** A reused token must outlive its trip to the origin and the origin's clock skew… */
export const REUSE_MARGIN_SECONDS = 30;
/** …and tokens in the last tenth of their life are replaced too, so long-lived ones refresh early. */
const REUSE_MARGIN_FRACTION = 0.1;
/** One signer serves a handful of origins; the bound stops a caller cycling resources from growing memory. */
const MAX_ENTRIES = 1_000;

type Entry = { readonly token: ExchangedToken; readonly issuedAt: number; readonly expiresAt: number };

export type ExchangeCache = {
  /** A cached token (with `expires_in` counted from `now`), or the result of `exchange`, shared by concurrent callers. */
  get(
    resource: string,
    scope: string | undefined,
    nowMs: () => number,
    exchange: () => Promise<ExchangedToken>,
  ): Promise<{ token: ExchangedToken; cached: boolean }>;
  readonly size: number;
};

export function createExchangeCache(): ExchangeCache {
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<ExchangedToken>>();

  return {
    async get(resource, scope, nowMs, exchange) {
      const key = `${resource}\n${scope ?? ""}`;
      const now = nowMs() / 1000;
      const entry = entries.get(key);
      if (entry && reusable(entry, now))
        return { token: { ...entry.token, expires_in: Math.floor(entry.expiresAt - now) }, cached: true };
      if (entry) entries.delete(key);
      const pending = inflight.get(key);
      if (pending) return { token: await pending, cached: true };
      const p = exchange();
      inflight.set(key, p);
      try {
        const token = await p;
        const issuedAt = nowMs() / 1000;
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
        entries.set(key, { token, issuedAt, expiresAt: issuedAt + token.expires_in });
        return { token, cached: false };
      } finally {
        inflight.delete(key);
      }
    },
    get size() {
      return entries.size;
    },
  };
}

function reusable(entry: Entry, now: number): boolean {
  const lifetime = entry.expiresAt - entry.issuedAt;
  const margin = Math.max(REUSE_MARGIN_SECONDS, Math.ceil(lifetime * REUSE_MARGIN_FRACTION));
  return now >= entry.issuedAt && entry.expiresAt - now >= margin;
}
