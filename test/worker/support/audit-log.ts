import { afterEach, beforeEach, vi } from "vitest";

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
  const events = (kind: string) =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === kind);
  return {
    lines: () => lines,
    exchanges: () => events("token_exchange"),
    lastExchange: () => events("token_exchange").at(-1),
    lastReason: () => events("token_exchange").at(-1)?.reason,
    configProblems: () => events("config_invalid").map((e) => e.detail as string),
  };
}
