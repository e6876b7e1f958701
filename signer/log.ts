/**
 * One JSON object per line on stderr (stdout is for the CLI's output, e.g. `TOKEN=$(broker-signer token)`).
 * Tokens appear only as `tokenHash`: enough to correlate with the broker's audit log (which records a
 * SHA-256 of tokens too), useless to replay.
 */
import { createHash } from "node:crypto";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined>;
export type Logger = { [L in LogLevel | "audit"]: (event: string, fields?: LogFields) => void };

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** 12 hex characters (48 bits) of SHA-256: unique enough to correlate, far too short to be the token. */
const TOKEN_HASH_HEX_CHARS = 12;

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, TOKEN_HASH_HEX_CHARS);
}

export function createLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
  level: LogLevel = "info",
  /** Write the audit trail whatever `level` says (the daemon); otherwise only at "info" or below. */
  alwaysAudit = true,
): Logger {
  const emit =
    (lvl: LogLevel) =>
    (event: string, fields: LogFields = {}) => {
      if (ORDER[lvl] < ORDER[level]) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields })}\n`);
    };
  // The daemon's audit trail (assertions signed, tokens and exchanges served) is written whatever the
  // level: an operator who quiets the log must not lose the record of who got which credential. A
  // one-shot command writes it when asked (--log-level info): by default its stderr is for errors.
  const auditing = alwaysAudit || ORDER[level] <= ORDER.info;
  const audit = (event: string, fields: LogFields = {}) => {
    if (auditing) write(`${JSON.stringify({ time: new Date().toISOString(), level: "audit", event, ...fields })}\n`);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"), audit };
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  audit: () => {},
};
