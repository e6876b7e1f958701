import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StackPorts } from "./stack.ts";

// What `npm start` can be told: each port by flag or environment variable (flags win), the state
// directory, and how chatty to be. Defaults are the ports the README's walk-through uses.

export interface PortSetting {
  readonly key: keyof StackPorts;
  readonly flag: string;
  readonly env: string;
  readonly fallback: number;
  /** What listens there, for messages such as "port 8787 (the broker) is in use". */
  readonly role: string;
}

export const PORT_SETTINGS: readonly PortSetting[] = [
  {
    key: "emulatorHttps",
    flag: "emulator-port",
    env: "DEV_EMULATOR_PORT",
    fallback: 8443,
    role: "the Entra ID emulator (HTTPS)",
  },
  {
    key: "emulatorHttp",
    flag: "emulator-http-port",
    env: "DEV_EMULATOR_HTTP_PORT",
    fallback: 8444,
    role: "the Entra ID emulator's key endpoint for workerd (HTTP)",
  },
  { key: "broker", flag: "broker-port", env: "DEV_BROKER_PORT", fallback: 8787, role: "the broker (wrangler dev)" },
  {
    key: "brokerInspector",
    flag: "inspector-port",
    env: "DEV_INSPECTOR_PORT",
    fallback: 9239,
    role: "the broker's inspector (wrangler dev)",
  },
  {
    key: "inventory",
    flag: "inventory-port",
    env: "DEV_INVENTORY_PORT",
    fallback: 8801,
    role: "the inventory sample origin",
  },
  { key: "deploy", flag: "deploy-port", env: "DEV_DEPLOY_PORT", fallback: 8802, role: "the deploy sample origin" },
];

export interface StartOptions {
  readonly ports: StackPorts;
  readonly stateDir: string;
  readonly verbose: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm start -- [options]

Runs the Entra ID emulator, the broker (wrangler dev), a signer daemon per sample identity and two
sample origins on loopback. Ctrl-C stops every process.

Options (each also settable by environment variable; a flag wins):
${PORT_SETTINGS.map((p) => `  --${`${p.flag} N`.padEnd(22)} ${p.env.padEnd(23)} default ${p.fallback}: ${p.role}`).join("\n")}
  --state-dir DIR          DEV_STATE_DIR           default .dev: generated keys, certificates, configs
  --verbose                                        also show wrangler's and the signers' own output
  --help`;

/** Parses argv and the environment; throws an Error whose message says what to fix. */
export function parseStartOptions(argv: string[], env: NodeJS.ProcessEnv, repo: string): StartOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(PORT_SETTINGS.map((p) => [p.flag, { type: "string" as const }])),
      "state-dir": { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  const ports = {} as StackPorts;
  for (const p of PORT_SETTINGS) {
    const flag = (values as Record<string, unknown>)[p.flag];
    const raw = typeof flag === "string" ? flag : env[p.env];
    const source = typeof flag === "string" ? `--${p.flag}` : p.env;
    ports[p.key] = raw === undefined || raw === "" ? p.fallback : portNumber(raw, source);
  }
  const seen = new Map<number, PortSetting>();
  for (const p of PORT_SETTINGS) {
    const other = seen.get(ports[p.key]);
    if (other)
      throw new Error(`port ${ports[p.key]} is given to both ${other.role} and ${p.role}: each needs its own port`);
    seen.set(ports[p.key], p);
  }
  const stateDir = values["state-dir"] ?? (env.DEV_STATE_DIR || undefined);
  return {
    ports,
    stateDir: resolve(repo, stateDir ?? ".dev"),
    verbose: values.verbose === true,
    help: values.help === true,
  };
}

function portNumber(raw: string, source: string): number {
  const n = Number(raw);
  // 0 would mean "any port", which the walk-through and the printed commands cannot name.
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new Error(`${source} is "${raw}": give a port from 1 to 65535`);
  return n;
}
