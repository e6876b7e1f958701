import { err, ok, type Result } from "../result.ts";
import { isActive, readStoredEntry, type Revocation, type RevocationKind, type RevocationRequest } from "./entry.ts";
import { isObject } from "../json.ts";
import type { KeepAlive } from "../jwks.ts";

// Revocations live in one Workers KV document. KV is the store Workers already has for globally
// replicated, read-mostly state: reads are served from the nearest location, writes reach every
// location within about a minute. One document (not a key per entry) keeps the read path to a
// single `get`, KV's cheapest and fastest operation; writes are rare, human-driven admin calls.
//
// Every request needs the list, so each isolate keeps the last one it read and re-reads it at
// most every REFRESH_SECONDS: in steady state that is at most one KV read per request, and in
// practice one per isolate every few seconds.
//
// When KV cannot be read (an error, or slower than KV_TIMEOUT_MS) the last list this isolate read
// is still used while it is younger than MAX_STALE_SECONDS; past that, requests fail closed with
// 503 + Retry-After. The bound equals KV's own propagation delay: a list that old gives no weaker
// guarantee than a successful read would (a revocation made elsewhere is not visible sooner than
// that either), so a short KV outage does not stop every exchange, and a long one cannot let a
// revoked client back in.

/** The KV key of the document. */
export const REVOCATIONS_KEY = "revocations";
/** An isolate re-reads the list at most this often: bounds KV reads, and how late a revocation from another location is seen here (plus KV's propagation). */
export const REFRESH_SECONDS = 5;
/** KV's documented global propagation delay (about a minute): the last list is trusted this long when KV fails. */
export const MAX_STALE_SECONDS = 60;
/** A KV read slower than this counts as a failure: requests must not hang on storage. */
export const KV_TIMEOUT_MS = 2000;
/** After a failed read, KV is not asked again for this long, so an outage is not hammered by every request. */
export const FAILURE_RETRY_SECONDS = 1;
/** What a client is told to wait when the list cannot be read and the last one is too old. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/** Past the read timeout, a read another request started is taken over (its request may be gone). */
const READ_LEASE_SLACK_MS = 500;
/** How often a request waiting for another request's read looks at the outcome. */
const WAIT_POLL_MS = 10;
/** Active revocations are a handful; the cap keeps the document (and each isolate's copy) small. */
export const MAX_REVOCATIONS = 1000;

export type StoreProblem =
  | { readonly reason: "revocations_unavailable"; readonly detail: string }
  | { readonly reason: "revocation_not_found"; readonly id: string }
  | { readonly reason: "too_many_revocations"; readonly max: number };

export interface RevocationSnapshot {
  /** Every stored entry that has not expired at `now` of the read. */
  readonly entries: readonly Revocation[];
  /** Unix seconds: when this list was read from KV. */
  readonly readAt: number;
  /** The active entry for a kind and value, if any (the earliest, so origins compare with the first block). */
  find(kind: RevocationKind, value: string, now: number): Revocation | undefined;
}

export interface RevocationStore {
  /** The current list: cached, refreshed, or the last known within MAX_STALE_SECONDS. */
  snapshot(now: number, keepAlive?: KeepAlive): Promise<Result<RevocationSnapshot, StoreProblem>>;
  add(request: RevocationRequest, revokedBy: string, now: number): Promise<Result<Revocation, StoreProblem>>;
  remove(id: string, now: number): Promise<Result<Revocation, StoreProblem>>;
  /** KV reads performed since creation: tests and the bench count them. */
  reads(): number;
}

/** A write this isolate made is applied to every list it reads until KV has surely propagated it. */
interface LocalWrite {
  readonly entry: Revocation;
  readonly removed: boolean;
  readonly until: number;
}

export function createRevocationStore(kv: KVNamespace): RevocationStore {
  let last: RevocationSnapshot | undefined;
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  /** Set while one request reads the list; the others never await that request's promise. */
  let lease: object | undefined;
  let readCount = 0;
  const localWrites = new Map<string, LocalWrite>();

  function withLocalWrites(entries: readonly Revocation[], readAt: number, now: number): RevocationSnapshot {
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const [id, write] of localWrites) {
      if (now >= write.until) localWrites.delete(id);
      else if (write.removed) byId.delete(id);
      else byId.set(id, write.entry);
    }
    return snapshotOf([...byId.values()], readAt);
  }

  async function readDocument(): Promise<Result<Revocation[], StoreProblem>> {
    readCount++;
    let timer: number | undefined;
    try {
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), KV_TIMEOUT_MS);
      });
      const raw = await Promise.race([kv.get(REVOCATIONS_KEY, "text"), timeout]);
      if (raw === "timeout")
        return err({ reason: "revocations_unavailable", detail: `KV read took over ${KV_TIMEOUT_MS} ms` });
      return ok(parseDocument(raw));
    } catch (e) {
      return err({ reason: "revocations_unavailable", detail: `KV read failed: ${String(e).slice(0, 200)}` });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Reads the list in this request's own context; keepAlive lets it finish if this client goes away. */
  async function refresh(now: number, keepAlive?: KeepAlive): Promise<void> {
    const mine = {};
    lease = mine;
    const done = readDocument().then((read) => {
      if (lease !== mine) return; // taken over after it ran too long: the newer read decides
      lease = undefined;
      if (read.ok) last = withLocalWrites(read.value, now, now);
      else {
        lastFailureAt = now;
        const detail = read.error.reason === "revocations_unavailable" ? read.error.detail : read.error.reason;
        console.error(JSON.stringify({ event: "revocations_unavailable", detail }));
      }
    });
    keepAlive?.(done);
    await done;
  }

  /**
   * Waits, in this request's own context, for another request's read to end; false if it never
   * does (on Workers a promise tied to a cancelled request may never settle, so it is not awaited).
   */
  async function awaitOtherRead(): Promise<boolean> {
    const theirs = lease;
    const deadline = performance.now() + KV_TIMEOUT_MS + READ_LEASE_SLACK_MS;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      if (lease !== theirs) return true;
    }
    return false;
  }

  async function write(
    now: number,
    change: (entries: Revocation[]) => Result<Revocation, StoreProblem>,
    removed: boolean,
  ): Promise<Result<Revocation, StoreProblem>> {
    // Read-modify-write of the whole document, always from KV (never from the cached list), so
    // a write made elsewhere a while ago is not lost. KV has no compare-and-swap: two admins
    // writing in the same second could still race, which the admin API documents.
    const read = await readDocument();
    if (!read.ok) return read;
    const entries = read.value.filter((e) => isActive(e, now));
    const changed = change(entries);
    if (!changed.ok) return changed;
    try {
      await kv.put(REVOCATIONS_KEY, JSON.stringify({ entries }));
    } catch (e) {
      return err({ reason: "revocations_unavailable" as const, detail: `KV write failed: ${String(e).slice(0, 200)}` });
    }
    localWrites.set(changed.value.id, { entry: changed.value, removed, until: now + MAX_STALE_SECONDS });
    // Immediate effect in this isolate: the next request sees the change without waiting for a refresh.
    last = withLocalWrites(entries, now, now);
    return changed;
  }

  return {
    reads: () => readCount,
    async snapshot(now, keepAlive) {
      const fresh = last && now - last.readAt < REFRESH_SECONDS && now >= last.readAt;
      if (!fresh && now - lastFailureAt >= FAILURE_RETRY_SECONDS) {
        if (!lease) await refresh(now, keepAlive);
        // Another request is reading: a list within the bound serves meanwhile; without one, wait for it.
        else if (!last && !(await awaitOtherRead())) {
          lease = undefined; // that read never finished (its request was cancelled): read ourselves
          await refresh(now, keepAlive);
        }
      }
      if (last && now - last.readAt <= MAX_STALE_SECONDS) return ok(last);
      return err({
        reason: "revocations_unavailable",
        detail: last
          ? `the last list read is ${now - last.readAt} s old, over the ${MAX_STALE_SECONDS} s bound`
          : "no list could be read yet",
      });
    },
    add(request, revokedBy, now) {
      return write(
        now,
        (entries) => {
          if (entries.length >= MAX_REVOCATIONS) return err({ reason: "too_many_revocations", max: MAX_REVOCATIONS });
          const entry: Revocation = {
            id: crypto.randomUUID(),
            kind: request.kind,
            value: request.value,
            reason: request.reason,
            revokedBy,
            revokedAt: now,
            ...(request.expiresIn !== undefined && { expiresAt: now + request.expiresIn }),
          };
          entries.push(entry);
          return ok(entry);
        },
        false,
      );
    },
    remove(id, now) {
      return write(
        now,
        (entries) => {
          const index = entries.findIndex((e) => e.id === id);
          if (index < 0) return err({ reason: "revocation_not_found", id });
          const [entry] = entries.splice(index, 1);
          return ok(entry!);
        },
        true,
      );
    },
  };
}

function parseDocument(raw: string | null): Revocation[] {
  if (raw === null) return []; // nothing revoked yet
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    doc = undefined;
  }
  // A damaged document must not silently lift every revocation: treat it as unreadable.
  if (!isObject(doc) || !Array.isArray(doc.entries))
    throw new Error("the revocations document is not {entries: [...]}");
  return doc.entries.map(readStoredEntry).filter((e): e is Revocation => e !== undefined);
}

function snapshotOf(entries: readonly Revocation[], readAt: number): RevocationSnapshot {
  const index = new Map<string, Revocation[]>();
  for (const entry of [...entries].sort((a, b) => a.revokedAt - b.revokedAt)) {
    const key = `${entry.kind}\n${entry.value}`;
    const list = index.get(key);
    if (list) list.push(entry);
    else index.set(key, [entry]);
  }
  return {
    entries,
    readAt,
    find(kind, value, now) {
      return index.get(`${kind}\n${value}`)?.find((entry) => isActive(entry, now));
    },
  };
}
