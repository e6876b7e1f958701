import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "../dev/processes.ts";
import type { HostConfig } from "./miniflare-host.ts";
import { type DevWorker, hostedWorker } from "./wrangler.ts";

// The production-like setup: the Worker bundled exactly as `wrangler deploy` would upload it
// (wrangler deploy --dry-run), served by workerd through Miniflare with a direct socket into the
// Worker. Nothing sits between wrk and the Worker: no wrangler dev proxy Worker, no Miniflare
// entry Worker, no DevTools inspector; the console goes to a pipe as structured logs.

const REPO = resolve(import.meta.dirname, "..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
const HOST = join(import.meta.dirname, "miniflare-host.ts");
const COMPATIBILITY_DATE = "2026-11-01";

export interface DirectWorkerOptions {
  readonly name: string;
  /** Entry module, relative to the repository. */
  readonly main: string;
  readonly dir: string;
  readonly vars: Record<string, unknown>;
  readonly secrets: Record<string, string>;
  readonly readyPath: string;
  readonly port?: number;
  readonly kvNamespaces?: readonly string[];
  readonly ratelimits?: HostConfig["ratelimits"];
}

/** Bundles `main` as wrangler deploy would; returns the entry module's path. */
export function bundleWorker(name: string, main: string, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const configFile = join(outDir, "wrangler.json");
  writeFileSync(
    configFile,
    JSON.stringify({ name, main: join(REPO, main), compatibility_date: COMPATIBILITY_DATE }, null, 2),
  );
  const r = spawnSync(process.execPath, [WRANGLER, "deploy", "--dry-run", "--outdir", outDir, "--config", configFile], {
    cwd: outDir,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`bundling ${main} failed:\n${r.stdout}\n${r.stderr}`);
  const entry = readdirSync(outDir).find((f) => f.endsWith(".js"));
  if (!entry) throw new Error(`bundling ${main} wrote no JavaScript module into ${outDir}`);
  return join(outDir, entry);
}

export async function startDirectWorker(options: DirectWorkerOptions): Promise<DevWorker> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const scriptPath = bundleWorker(options.name, options.main, join(options.dir, "bundle"));
  const port = options.port ?? (await freePort());
  const config: HostConfig = {
    scriptPath,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { ...options.vars, ...options.secrets },
    ...(options.kvNamespaces ? { kvNamespaces: options.kvNamespaces } : {}),
    ...(options.ratelimits ? { ratelimits: options.ratelimits } : {}),
  };
  const configFile = join(options.dir, "host.json");
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  return hostedWorker(options.name, [HOST, configFile, String(port)], options);
}
