import { err, ok, type Result } from "../result.ts";
import { parseRoutes, type RouteTable } from "./route-table.ts";

// Forward mode's part of the Config: present only when ROUTES is set (absent = mode off).

export interface ForwardConfig {
  readonly table: RouteTable;
  /** How long an origin may take to send its response headers before the caller gets a 504. */
  readonly timeoutMs: number;
}

/** Long enough for a slow API call, short enough that a dead origin does not pin the caller. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** Below this, ordinary network jitter would turn into 504s. */
const MIN_TIMEOUT_MS = 100;
/** Beyond this, "slow" is indistinguishable from "hung"; Workers limits would cut in anyway. */
const MAX_TIMEOUT_MS = 5 * 60_000;

/** Problems come back prefixed with the setting they are about, ready for the config log. */
export function loadForwardSettings(routes: unknown, timeoutMs: unknown): Result<ForwardConfig | undefined, string[]> {
  const problems: string[] = [];
  let timeout = DEFAULT_TIMEOUT_MS;
  if (timeoutMs !== undefined && timeoutMs !== "") {
    const n = Number(timeoutMs);
    if (
      (typeof timeoutMs !== "string" && typeof timeoutMs !== "number") ||
      !/^\d+$/.test(String(timeoutMs)) ||
      n < MIN_TIMEOUT_MS ||
      n > MAX_TIMEOUT_MS
    ) {
      problems.push(
        `FORWARD_TIMEOUT_MS is ${JSON.stringify(timeoutMs)}: use a whole number of milliseconds from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`,
      );
    } else timeout = n;
  }
  if (routes === undefined || routes === "") return problems.length > 0 ? err(problems) : ok(undefined);
  const table = parseRoutes(routes);
  if (!table.ok) problems.push(...table.error.map((p) => `ROUTES ${p}`));
  if (problems.length > 0 || !table.ok) return err(problems);
  return ok(Object.freeze({ table: table.value, timeoutMs: timeout }));
}
