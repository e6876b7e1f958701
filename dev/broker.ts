import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startChild, waitUntil, type Child } from "./processes.ts";
import { SAMPLE_RATE_LIMITS } from "./sample.ts";

// The broker as it really runs: the Worker under `wrangler dev` (workerd), with a wrangler config
// generated for the local stack and its signing keys in a .dev.vars beside it, as a secret would be.

const REPO = resolve(import.meta.dirname, "..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
/** wrangler dev builds the Worker and boots workerd: generous on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 90_000;

export interface BrokerKeys {
  /** Private JWKs; the first signs, all are published. */
  keys: Array<Record<string, unknown>>;
}

/** Two ES256 keys on first run: the active one and the next one, already published. */
export function loadOrCreateBrokerKeys(file: string): BrokerKeys {
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as BrokerKeys;
  const stamp = Date.now().toString(36);
  const keys = [1, 2].map((n) => ({
    ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
    kid: `broker-${stamp}-${n}`,
  }));
  const set = { keys };
  writeFileSync(file, JSON.stringify(set, null, 2), { mode: 0o600 });
  return set;
}

/** Rotation step: the next key starts signing; the previous one stays published for its tokens. */
export function rotateBrokerKeys(set: BrokerKeys): BrokerKeys {
  const [current, next, ...rest] = set.keys;
  return { keys: [next!, current!, ...rest] };
}

export interface BrokerOptions {
  readonly dir: string;
  readonly port: number;
  readonly inspectorPort: number;
  readonly vars: Record<string, unknown>;
  readonly keys: BrokerKeys;
  readonly onLine?: (line: string) => void;
  /** Called as soon as wrangler is spawned, before it answers. */
  readonly onStart?: (child: Child) => void;
}

export interface Broker {
  readonly origin: string;
  readonly child: Child;
  /** The Worker's JSON log lines (audit events) seen so far. */
  events(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

const AUDIT_TYPE_PREFIX = "dev.identity-broker.";

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const origin = `http://127.0.0.1:${options.port}`;
  const config = {
    name: "identity-broker-local",
    main: join(REPO, "worker/index.ts"),
    compatibility_date: "2026-11-01",
    vars: { BROKER_ISSUER: origin, ...options.vars },
    // Revocations persist in the local KV state (--persist-to below) across broker restarts.
    kv_namespaces: [{ binding: "REVOCATIONS", id: "revocations-local" }],
    ratelimits: SAMPLE_RATE_LIMITS,
  };
  writeFileSync(join(options.dir, "wrangler.json"), JSON.stringify(config, null, 2));
  writeFileSync(join(options.dir, ".dev.vars"), `BROKER_SIGNING_KEYS='${JSON.stringify(options.keys)}'\n`, {
    mode: 0o600,
  });

  const child = startChild(
    "broker",
    process.execPath,
    [
      WRANGLER,
      "dev",
      "--config",
      join(options.dir, "wrangler.json"),
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--inspector-port",
      String(options.inspectorPort),
      "--show-interactive-dev-session=false",
      "--log-level",
      "log",
      "--persist-to",
      join(options.dir, "state"),
    ],
    { cwd: options.dir, env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" }, onLine: options.onLine },
  );
  options.onStart?.(child);
  await waitUntil(
    "the broker to answer /healthz",
    async () => (await fetch(`${origin}/healthz`)).status === 200,
    READY_TIMEOUT_MS,
    child,
  );
  return {
    origin,
    child,
    events: () =>
      child.output.flatMap((line) => {
        const start = line.indexOf("{");
        if (start < 0) return [];
        try {
          // Audit lines are CloudEvents (docs/audit-events.md): the kind is the type's last part.
          const event = JSON.parse(line.slice(start)) as { type?: unknown; data?: Record<string, unknown> };
          if (typeof event.type !== "string" || !event.type.startsWith(AUDIT_TYPE_PREFIX) || !event.data) return [];
          const kind = event.type.slice(AUDIT_TYPE_PREFIX.length);
          return [{ event: kind === "exchange" ? "token_exchange" : kind, ...event.data }];
        } catch {
          return [];
        }
      }),
    stop: () => child.stop(),
  };
}
