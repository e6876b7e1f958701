import { afterEach, beforeEach, vi } from "vitest";

/** The CloudEvents `type` of each audit event kind (docs/audit-events.md). */
const TYPE_PREFIX = "dev.identity-broker.";
const KINDS: Record<string, string> = {
  exchange: "token_exchange",
  forward: "forward",
  explain: "explain",
  admin: "admin",
  config: "config_invalid",
};

export interface CloudEvent {
  specversion: string;
  type: string;
  source: string;
  id: string;
  time: string;
  data: Record<string, unknown>;
}

/** An audit line's data with its kind as `event` (the name the Worker's code uses). */
export function auditEntry(line: string): Record<string, unknown> {
  const cloudEvent = JSON.parse(line) as CloudEvent;
  return { event: KINDS[cloudEvent.type.slice(TYPE_PREFIX.length)], ...cloudEvent.data };
}

/**
 * Captures what the Worker logs (one JSON object per line) for each test of the file that calls
 * it, so tests can assert the audit reason the client was not told.
 */
export function captureLog() {
  let lines: string[] = [];
  beforeEach(() => {
    lines = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
  });
  afterEach(() => vi.restoreAllMocks());
  const events = (kind: string) => lines.map(auditEntry).filter((e) => e.event === kind);
  return {
    lines: () => lines,
    exchanges: () => events("token_exchange"),
    lastExchange: () => events("token_exchange").at(-1),
    lastReason: () => events("token_exchange").at(-1)?.reason,
    explains: () => events("explain"),
    lastExplain: () => events("explain").at(-1),
    admins: () => events("admin"),
    configProblems: () => events("config_invalid").map((e) => e.detail as string),
  };
}
