// Remembers client-assertion jtis until they expire, so a captured assertion cannot be replayed.

/** Upper bound on remembered jtis, so a flood of distinct assertions cannot grow memory without limit. */
export const REPLAY_CACHE_MAX_ENTRIES = 10_000;

export interface ReplayCache {
  /** Records `key` until `expiresAtSec`; false when it is already recorded and unexpired (a replay). */
  firstUse(key: string, expiresAtSec: number, nowSec: number): boolean;
  readonly size: number;
}

export function createReplayCache(maxEntries = REPLAY_CACHE_MAX_ENTRIES): ReplayCache {
  const seen = new Map<string, number>();
  const sweep = (nowSec: number) => {
    for (const [k, exp] of seen) if (exp < nowSec) seen.delete(k);
  };
  return {
    firstUse(key, expiresAtSec, nowSec) {
      const known = seen.get(key);
      if (known !== undefined && known >= nowSec) return false;
      if (seen.size >= maxEntries) sweep(nowSec);
      // Still full of live entries: drop the oldest. This weakens replay detection only for an
      // attacker who can already mint maxEntries valid assertions, i.e. who holds the key anyway.
      if (seen.size >= maxEntries) seen.delete(seen.keys().next().value!);
      seen.set(key, expiresAtSec);
      return true;
    },
    get size() {
      return seen.size;
    },
  };
}
