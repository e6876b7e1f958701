import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { freePort, startChild, waitUntil, type Child } from "../dev/processes.ts";

// Workers in workerd (the runtime they run in when deployed), started by wrangler's dev API in a
// child process (bench/workerd-host.ts), each with a generated config in its own directory and
// its secrets in a .dev.vars beside it, as `wrangler dev` reads them.

const REPO = resolve(import.meta.dirname, "..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
const HOST = join(import.meta.dirname, "workerd-host.ts");
/** wrangler dev bundles the Worker and boots workerd: generous on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 90_000;

export interface WorkerOptions {
  readonly name: string;
  /** Entry module, relative to the repository. */
  readonly main: string;
  readonly dir: string;
  readonly vars: Record<string, unknown>;
  readonly secrets: Record<string, string>;
  /** Path that answers 200 once the Worker serves. */
  readonly readyPath: string;
  /** Fixed port (e.g. when a var must name the Worker's own origin); default: a free one. */
  readonly port?: number;
  /** DevTools inspector on (heap measurements) or off (everything timed). */
  readonly inspector: boolean;
}

export interface DevWorker {
  readonly origin: string;
  /** ws:// URL of the isolate's inspector, when on. */
  readonly inspectorUrl: string | undefined;
  readonly child: Child;
  /** Console lines (audit events) the Worker has printed so far. */
  logLines(): Promise<number>;
  stop(): Promise<void>;
}

export async function startDevWorker(options: WorkerOptions): Promise<DevWorker> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const port = options.port ?? (await freePort());
  const config = {
    name: options.name,
    main: join(REPO, options.main),
    compatibility_date: "2026-11-01",
    vars: options.vars,
  };
  const configFile = join(options.dir, "wrangler.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const devVars = Object.entries(options.secrets)
    .map(([k, v]) => `${k}='${v}'`)
    .join("\n");
  writeFileSync(join(options.dir, ".dev.vars"), `${devVars}\n`, { mode: 0o600 });
  return hostedWorker(options.name, [HOST, configFile, String(port), options.inspector ? "on" : "off"], options);
}

/**
 * Starts a Worker host process (bench/workerd-host.ts or bench/miniflare-host.ts), waits for its
 * `READY <origin> <inspector|->` line and for `readyPath` to answer 200.
 */
export async function hostedWorker(
  name: string,
  args: readonly string[],
  options: { readonly dir: string; readonly readyPath: string },
): Promise<DevWorker> {
  const child = startChild(name, process.execPath, [...args], {
    cwd: options.dir,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
  });
  let ready: string[] | undefined;
  try {
    await waitUntil(
      `${name} to start`,
      async () => (ready = child.output.find((l) => l.startsWith("READY "))?.split(" ")) !== undefined,
      READY_TIMEOUT_MS,
      child,
    );
    const origin = ready![1]!;
    await waitUntil(
      `${name} to answer ${options.readyPath}`,
      async () => (await fetch(`${origin}${options.readyPath}`)).status === 200,
      READY_TIMEOUT_MS,
      child,
    );
  } catch (e) {
    await child.stop();
    throw e;
  }
  const origin = ready![1]!;
  return {
    origin,
    inspectorUrl: ready![2] === "-" ? undefined : ready![2],
    child,
    async logLines() {
      const seen = child.output.length;
      child.process.kill("SIGUSR2");
      let line: string | undefined;
      await waitUntil(
        "the Worker host to report its log count",
        async () => (line = child.output.slice(seen).find((l) => l.startsWith("LOG_LINES "))) !== undefined,
        10_000,
        child,
      );
      return Number(line!.split(" ")[1]);
    },
    stop: () => child.stop(),
  };
}

export interface BundleSize {
  readonly bytes: number;
  readonly gzipBytes: number;
  /** What wrangler itself printed ("Total Upload: … / gzip: …"), for the record. */
  readonly wranglerReport: string | undefined;
}

/** The Worker as `wrangler deploy` would upload it, measured without uploading. */
export function bundleSize(outDir: string): BundleSize {
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    [WRANGLER, "deploy", "--dry-run", "--outdir", outDir, "--config", join(REPO, "wrangler.toml")],
    {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
      timeout: 120_000,
    },
  );
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${r.stdout}\n${r.stderr}`);
  const files = readdirSync(outDir).filter((f) => /\.(m?js|wasm)$/.test(f));
  let bytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    const content = readFileSync(join(outDir, f));
    bytes += statSync(join(outDir, f)).size;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  const wranglerReport = /Total Upload:[^\n]*/.exec(`${r.stdout}${r.stderr}`)?.[0]?.trim();
  return { bytes, gzipBytes, wranglerReport };
}
