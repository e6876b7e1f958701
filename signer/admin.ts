/**
 * `broker-signer admin …`: the broker's admin API from the command line, authenticated like every
 * other call: an Entra ID app-only token for the broker scope, got with this signer's certificate.
 * The app must hold one of the broker's ADMIN_ROLES (default Broker.Admin).
 *   admin revoke --client ID --reason "…" [--for 1h]   POST /admin/revocations
 *   admin revocations                                   GET /admin/revocations
 *   admin unrevoke ID                                   DELETE /admin/revocations/ID
 */
import type { ParseArgsConfig } from "node:util";
import type { SignerConfig } from "./config.ts";
import { SignerError } from "./errors.ts";
import type { HttpClient } from "./network.ts";

export const ADMIN_HELP = `Usage: broker-signer admin <revoke|revocations|unrevoke> [options] [config options]

Stops an identity everywhere, at once and until lifted (or for a while), through the broker's admin
API. Needs an app with one of the broker's admin roles (default Broker.Admin), certificate-authenticated.

  admin revoke --client ID --reason "…" [--for DURATION] [--json]
      revoke a client app id; or --tenant ID, --rule NAME, --origin ORIGIN, --token JTI instead of --client.
      --for: a temporary block, e.g. 90s, 15m, 1h, 7d (at least 60 s); without it, until unrevoked.
  admin revocations [--json]      list the active revocations (id, kind, value, reason, who, when, until)
  admin unrevoke ID [--json]      lift a revocation by its id

Revocations reach the whole broker within about a minute (origins polling GET /revocations within
their poll interval after that).`;

const KIND_FLAGS = ["client", "tenant", "rule", "origin", "token"] as const;
/** Matches the broker's bounds: KV cannot expire sooner than a minute, and longer than 90 days is permanent. */
const MIN_FOR_SECONDS = 60;
const MAX_FOR_SECONDS = 90 * 24 * 3600;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export interface AdminContext {
  readonly config: SignerConfig;
  readonly http: HttpClient;
  /** An Entra ID access token for the broker scope. */
  getToken(scope: string): Promise<string>;
  readonly stdout: (text: string) => void;
}

export const ADMIN_OPTIONS = {
  ...Object.fromEntries(KIND_FLAGS.map((k) => [k, { type: "string" }])),
  reason: { type: "string" },
  for: { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNITS[match[2]!]! : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < MIN_FOR_SECONDS || seconds > MAX_FOR_SECONDS)
    throw new SignerError(
      "ERR_USAGE",
      `--for "${text}": give a duration such as 90s, 15m, 1h or 7d, from 60 s to 90 days`,
    );
  return seconds;
}

/** The POST body for `admin revoke`, from its flags. */
export function revocationBody(values: Record<string, unknown>): Record<string, unknown> {
  const given = KIND_FLAGS.filter((k) => typeof values[k] === "string");
  if (given.length !== 1)
    throw new SignerError(
      "ERR_USAGE",
      "admin revoke needs exactly one of --client, --tenant, --rule, --origin, --token",
    );
  const reason = values.reason;
  if (typeof reason !== "string" || reason.trim() === "")
    throw new SignerError("ERR_USAGE", 'admin revoke needs --reason "…": the next operator reads it');
  const kind = given[0]!;
  return {
    kind,
    value: values[kind],
    reason,
    ...(typeof values.for === "string" && { expiresIn: parseDuration(values.for) }),
  };
}

export async function runAdmin(
  sub: string | undefined,
  values: Record<string, unknown>,
  positionals: string[],
  ctx: AdminContext,
): Promise<void> {
  const { config } = ctx;
  if (config.brokerUrl === undefined)
    throw new SignerError(
      "ERR_CONFIG",
      'brokerUrl: not set; set BROKER_SIGNER_BROKER_URL or "brokerUrl" in the config file',
    );
  if (config.brokerScope === undefined)
    throw new SignerError("ERR_CONFIG", 'brokerScope: not set; set BROKER_SIGNER_BROKER_SCOPE or "brokerScope"');
  const base = `${config.brokerUrl}/admin/revocations`;
  const call = async (method: "GET" | "POST" | "DELETE", url: string, body?: object) => {
    const token = await ctx.getToken(config.brokerScope!);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body) headers["content-type"] = "application/json";
    const res = await ctx.http.request(method, url, headers, body ? JSON.stringify(body) : undefined);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      throw new SignerError("ERR_NETWORK", `the broker at ${config.brokerUrl} answered ${res.status} without JSON`);
    }
    if (res.status >= 300) {
      const error = typeof parsed.error === "string" ? parsed.error.slice(0, 64) : "unknown_error";
      const description =
        typeof parsed.error_description === "string" ? `: ${parsed.error_description.slice(0, 300)}` : "";
      throw new SignerError("ERR_EXCHANGE", `the broker refused admin ${sub}: ${res.status} ${error}${description}`, {
        oauthError: error,
        status: res.status,
      });
    }
    return parsed;
  };

  switch (sub) {
    case "revoke": {
      if (positionals.length > 0) throw new SignerError("ERR_USAGE", `unexpected arguments: ${positionals.join(" ")}`);
      const entry = await call("POST", base, revocationBody(values));
      ctx.stdout(
        values.json
          ? `${JSON.stringify(entry)}\n`
          : `revoked ${entry.kind} ${entry.value}: id ${entry.id}${until(entry)}\n`,
      );
      return;
    }
    case "revocations": {
      const list = await call("GET", base);
      const entries = Array.isArray(list.revocations) ? (list.revocations as Array<Record<string, unknown>>) : [];
      if (values.json) ctx.stdout(`${JSON.stringify(list)}\n`);
      else if (entries.length === 0) ctx.stdout("no active revocations\n");
      else
        for (const e of entries)
          ctx.stdout(
            `${e.id}  ${String(e.kind).padEnd(6)} ${e.value}  by ${e.revokedBy} at ${iso(e.revokedAt)}${until(e)}  "${e.reason}"\n`,
          );
      return;
    }
    case "unrevoke": {
      const [id, ...extra] = positionals;
      if (id === undefined || extra.length > 0 || !/^[0-9a-f-]{36}$/.test(id))
        throw new SignerError(
          "ERR_USAGE",
          "admin unrevoke needs one revocation id (see `broker-signer admin revocations`)",
        );
      const entry = await call("DELETE", `${base}/${id}`);
      ctx.stdout(values.json ? `${JSON.stringify(entry)}\n` : `lifted ${entry.kind} ${entry.value} (id ${entry.id})\n`);
      return;
    }
    default:
      throw new SignerError("ERR_USAGE", `unknown admin command "${sub ?? ""}": revoke, revocations or unrevoke`);
  }
}

function iso(seconds: unknown): string {
  return typeof seconds === "number" ? new Date(seconds * 1000).toISOString() : "?";
}

function until(entry: Record<string, unknown>): string {
  return entry.expiresAt === undefined ? "" : ` until ${iso(entry.expiresAt)}`;
}
