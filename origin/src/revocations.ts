import { FETCH_TIMEOUT_MS, fetchJson, isObject } from "./fetch-json.ts";
import { failure, type Failure } from "./failure.ts";
import type { FetchLike } from "./options.ts";
import { err, ok, type Result } from "./result.ts";
import type { BrokerToken } from "./token.ts";

// The broker's kill switch, enforced here too: the kit polls the broker's GET /revocations and
// refuses a token that a revocation matches and that was issued before it (the broker refuses to
// mint new ones itself). Without this, a revoked client's already-minted token would keep working
// at origins until it expires.
//
// Polling is lazy (no timers, so it works the same on Workers): a request that finds the list older
// than the poll interval starts a refresh and waits for it at most REVOCATIONS_WAIT_MS; every other
// request checks synchronously against the list in memory. When the
// broker cannot be reached the last list stays in force; before any list has been read, tokens are
// checked against none (fail open): revocation is a second line behind the broker's own refusal and
// short token lifetimes, and a broker outage must not stop every origin.

/** A request waits this long at most for a refresh: revocation checks must not make origins slow. */
export const REVOCATIONS_WAIT_MS = 1000;
/** After a failed read the broker is not asked again for this long. */
export const REVOCATIONS_BACKOFF_MS = 10 * 1000;
/** A read that has not settled by then is abandoned (on Workers it may belong to a cancelled request). */
const ABANDON_AFTER_MS = FETCH_TIMEOUT_MS + 1000;
/** The broker publishes at most 1,000 entries of ~150 bytes; more is not a revocation list. */
export const MAX_REVOCATIONS_BYTES = 512 * 1024;

const PUBLISHED_KINDS = new Set(["client", "tenant", "token"]);

export interface PublishedRevocation {
  readonly kind: "client" | "tenant" | "token";
  readonly value: string;
  /** Unix seconds: tokens issued up to this moment are refused. */
  readonly revokedAt: number;
  readonly expiresAt?: number;
}

export interface Revocations {
  /** The token, or token_revoked; `now` in milliseconds. A promise only when a poll is due. */
  check(token: BrokerToken, now: number): Result<BrokerToken, Failure> | Promise<Result<BrokerToken, Failure>>;
  /** Reads of the list started since creation: tests count them. */
  fetchCount(): number;
}

export function revocationsUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, "")}/revocations`;
}

export function createRevocations(issuer: string, fetcher: FetchLike, pollSeconds: number): Revocations {
  const url = revocationsUrl(issuer);
  let index = new Map<string, PublishedRevocation[]>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let failedAt = Number.NEGATIVE_INFINITY;
  let inflight: { readonly done: Promise<void>; readonly since: number } | undefined;
  let fetches = 0;

  function refresh(now: number): Promise<void> {
    if (inflight && now - inflight.since < ABANDON_AFTER_MS) return inflight.done;
    fetches++;
    const done: Promise<void> = fetchJson(fetcher, url, MAX_REVOCATIONS_BYTES)
      .then((fetched) => {
        const list = fetched.ok ? parseList(fetched.value) : undefined;
        if (list) {
          index = indexOf(list);
          fetchedAt = now;
        } else failedAt = now;
      })
      .finally(() => {
        if (inflight?.done === done) inflight = undefined;
      });
    inflight = { done, since: now };
    return done;
  }

  function match(token: BrokerToken, now: number): Result<BrokerToken, Failure> {
    const issuedAt = typeof token.claims.iat === "number" ? token.claims.iat : Number.NEGATIVE_INFINITY;
    const seconds = Math.floor(now / 1000);
    const subjects: Array<[string, string | undefined]> = [
      ["client", token.clientId],
      ["client", typeof token.claims.sub === "string" ? token.claims.sub : undefined],
      ["tenant", token.tenantId],
      ["token", token.jti],
    ];
    for (const [kind, value] of subjects) {
      if (value === undefined) continue;
      for (const entry of index.get(`${kind}\n${value}`) ?? []) {
        const active = entry.expiresAt === undefined || seconds < entry.expiresAt;
        // The broker refuses to mint after revokedAt; a token issued in that same second may
        // predate it, so it is refused too.
        if (active && issuedAt <= entry.revokedAt) {
          return err(
            failure("token_revoked", {
              detail: `${kind} ${value} revoked at ${new Date(entry.revokedAt * 1000).toISOString()}`,
            }),
          );
        }
      }
    }
    return ok(token);
  }

  return {
    fetchCount: () => fetches,
    check(token, now) {
      const due = now - fetchedAt >= pollSeconds * 1000 || now < fetchedAt;
      if (!due || now - failedAt < REVOCATIONS_BACKOFF_MS) return match(token, now);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, REVOCATIONS_WAIT_MS);
      });
      return Promise.race([refresh(now), waited]).then(() => {
        if (timer !== undefined) clearTimeout(timer);
        return match(token, now);
      });
    },
  };
}

function parseList(doc: unknown): PublishedRevocation[] | undefined {
  if (!isObject(doc) || !Array.isArray(doc.revocations)) return undefined;
  const list: PublishedRevocation[] = [];
  for (const entry of doc.revocations) {
    // Entries of kinds this kit cannot match (a rule) or that it does not understand are skipped.
    if (!isObject(entry) || typeof entry.kind !== "string" || !PUBLISHED_KINDS.has(entry.kind)) continue;
    if (typeof entry.value !== "string" || !Number.isInteger(entry.revokedAt)) continue;
    if (entry.expiresAt !== undefined && !Number.isInteger(entry.expiresAt)) continue;
    list.push({
      kind: entry.kind as PublishedRevocation["kind"],
      value: entry.value,
      revokedAt: entry.revokedAt as number,
      ...(entry.expiresAt !== undefined && { expiresAt: entry.expiresAt as number }),
    });
  }
  return list;
}

function indexOf(list: readonly PublishedRevocation[]): Map<string, PublishedRevocation[]> {
  const index = new Map<string, PublishedRevocation[]>();
  for (const entry of list) {
    const key = `${entry.kind}\n${entry.value}`;
    const entries = index.get(key);
    if (entries) entries.push(entry);
    else index.set(key, [entry]);
  }
  return index;
}
