// Faults an operator meets in real life, switched on and off at runtime (control API, CLI, tests):
// throttling (429 + Retry-After), outages (503), slow answers, dropped connections, and JWKS front
// ends that lag behind a key rollover. Each fault matches one endpoint kind (or all), optionally one
// tenant, and optionally only the next `count` requests.

export type FaultKind = "throttle" | "unavailable" | "slow" | "drop" | "key-lag";
export type FaultEndpoint = "token" | "keys" | "discovery" | "all";

export const FAULT_KINDS: readonly FaultKind[] = ["throttle", "unavailable", "slow", "drop", "key-lag"];
export const FAULT_ENDPOINTS: readonly FaultEndpoint[] = ["token", "keys", "discovery", "all"];

/** Longest delay a "slow" fault may add: long enough to trip any client timeout, short enough never to wedge a test run. */
export const MAX_FAULT_DELAY_MS = 120_000;
/** Largest Retry-After a fault may announce (msal caps its own throttling at one hour). */
export const MAX_RETRY_AFTER_SECONDS = 3600;
/** Faults active at once; more is a runaway script, not a scenario. */
export const MAX_FAULTS = 32;

export interface FaultSpec {
  kind: FaultKind;
  /** Which endpoint kind it hits (default "all"; "key-lag" always hits "keys"). */
  endpoint?: FaultEndpoint;
  /** Tenant id or domain it hits (default every tenant and /common). */
  tenant?: string;
  /** Retry-After in seconds for "throttle" (default 5) and "unavailable" (default none). */
  retryAfterSeconds?: number;
  /** Added delay for "slow". */
  delayMs?: number;
  /** Only the next N matching requests (default: until cleared). */
  count?: number;
}

export interface Fault extends Required<Pick<FaultSpec, "kind" | "endpoint">> {
  readonly id: number;
  readonly tenant?: string;
  readonly retryAfterSeconds?: number;
  readonly delayMs?: number;
  /** Matching requests still to hit; undefined = until cleared. */
  remaining?: number;
  /** Requests this fault has hit so far. */
  hits: number;
}

export type FaultCheck = { ok: true; value: Fault } | { ok: false; reason: string };

/** What one request meets: a delay, then at most one answer-changing fault. */
export interface FaultOutcome {
  delayMs: number;
  answer?: Fault;
  /** A lagging JWKS front end: leave out the newest published key in this answer. */
  hideNewestKey: boolean;
}

export interface FaultSet {
  add(spec: unknown): FaultCheck;
  list(): readonly Fault[];
  remove(id: number): boolean;
  clear(): void;
  /** Consumes the matching faults for one request. */
  apply(endpoint: Exclude<FaultEndpoint, "all">, tenant: string): FaultOutcome;
}

const DEFAULT_THROTTLE_RETRY_AFTER_SECONDS = 5;

export function createFaultSet(): FaultSet {
  let faults: Fault[] = [];
  let nextId = 1;
  // key-lag alternates: every other JWKS answer (per fault) comes from a lagging front end.
  const hits = (f: Fault) => {
    f.hits++;
    if (f.remaining !== undefined) f.remaining--;
  };
  return {
    add(spec) {
      const checked = checkSpec(spec);
      if (!checked.ok) return checked;
      if (faults.length >= MAX_FAULTS) return { ok: false, reason: `at most ${MAX_FAULTS} faults at once; clear some` };
      const s = checked.value;
      const f: Fault = {
        id: nextId++,
        kind: s.kind,
        endpoint: s.kind === "key-lag" ? "keys" : (s.endpoint ?? "all"),
        ...(s.tenant !== undefined ? { tenant: s.tenant.toLowerCase() } : {}),
        ...(s.kind === "throttle"
          ? { retryAfterSeconds: s.retryAfterSeconds ?? DEFAULT_THROTTLE_RETRY_AFTER_SECONDS }
          : {}),
        ...(s.kind === "unavailable" && s.retryAfterSeconds !== undefined
          ? { retryAfterSeconds: s.retryAfterSeconds }
          : {}),
        ...(s.kind === "slow" ? { delayMs: s.delayMs ?? 0 } : {}),
        ...(s.count !== undefined ? { remaining: s.count } : {}),
        hits: 0,
      };
      faults.push(f);
      return { ok: true, value: f };
    },
    list: () => faults,
    remove(id) {
      const before = faults.length;
      faults = faults.filter((f) => f.id !== id);
      return faults.length !== before;
    },
    clear() {
      faults = [];
    },
    apply(endpoint, tenant) {
      const out: FaultOutcome = { delayMs: 0, hideNewestKey: false };
      const t = tenant.toLowerCase();
      for (const f of faults) {
        if (f.endpoint !== "all" && f.endpoint !== endpoint) continue;
        if (f.tenant !== undefined && f.tenant !== t) continue;
        if (f.kind === "slow") {
          out.delayMs = Math.min(MAX_FAULT_DELAY_MS, out.delayMs + (f.delayMs ?? 0));
          hits(f);
        } else if (f.kind === "key-lag") {
          out.hideNewestKey = f.hits % 2 === 1;
          hits(f);
        } else if (!out.answer) {
          out.answer = f;
          hits(f);
        }
      }
      faults = faults.filter((f) => f.remaining === undefined || f.remaining > 0);
      return out;
    },
  };
}

function checkSpec(raw: unknown): { ok: true; value: FaultSpec } | { ok: false; reason: string } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, reason: "a fault is a JSON object" };
  const s = raw as Record<string, unknown>;
  const known = new Set(["kind", "endpoint", "tenant", "retryAfterSeconds", "delayMs", "count"]);
  const extra = Object.keys(s).filter((k) => !known.has(k));
  if (extra.length > 0) return { ok: false, reason: `unknown field(s): ${extra.join(", ")}` };
  if (!FAULT_KINDS.includes(s.kind as FaultKind))
    return { ok: false, reason: `kind: must be one of ${FAULT_KINDS.join(", ")}` };
  if (s.endpoint !== undefined && !FAULT_ENDPOINTS.includes(s.endpoint as FaultEndpoint))
    return { ok: false, reason: `endpoint: must be one of ${FAULT_ENDPOINTS.join(", ")}` };
  if (s.tenant !== undefined && (typeof s.tenant !== "string" || s.tenant === ""))
    return { ok: false, reason: "tenant: must be a tenant id or domain" };
  const int = (name: string, min: number, max: number) => {
    const v = s[name];
    return v === undefined || (Number.isInteger(v) && (v as number) >= min && (v as number) <= max)
      ? undefined
      : `${name}: must be an integer from ${min} to ${max}`;
  };
  const problem =
    int("retryAfterSeconds", 0, MAX_RETRY_AFTER_SECONDS) ??
    int("delayMs", 0, MAX_FAULT_DELAY_MS) ??
    int("count", 1, 1_000_000);
  if (problem) return { ok: false, reason: problem };
  if (s.kind === "slow" && s.delayMs === undefined) return { ok: false, reason: "delayMs: required for a slow fault" };
  return { ok: true, value: s as unknown as FaultSpec };
}
