import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

// HTTP load with wrk (a real load generator in C, not a Node loop competing with the server for
// the same event loop): fixed threads, connections and duration, figures read from one JSON line
// that the Lua scripts print in `done`.

const SCRIPTS = join(import.meta.dirname, "wrk");

export interface LoadSettings {
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors, timeouts and non-2xx answers: any of these makes a run invalid. */
  readonly errors: number;
}

export type LoadScript =
  | { readonly kind: "get"; readonly authorization?: string }
  | { readonly kind: "post-same"; readonly bodyFile: string }
  | { readonly kind: "post-each"; readonly bodyFile: string };

export function wrkVersion(): string | undefined {
  const r = spawnSync("wrk", ["-v"], { encoding: "utf8" });
  if (r.error) return undefined;
  return /wrk (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? "unknown";
}

export async function runWrk(url: string, script: LoadScript, settings: LoadSettings): Promise<LoadResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_WRK_DIR: SCRIPTS, BENCH_THREADS: String(settings.threads) };
  if (script.kind === "get" && script.authorization) env.BENCH_AUTHORIZATION = script.authorization;
  if (script.kind !== "get") env.BENCH_BODY_FILE = script.bodyFile;
  const args = [
    `-t${settings.threads}`,
    `-c${settings.connections}`,
    `-d${settings.durationSeconds}s`,
    "--timeout",
    "10s",
    "-s",
    join(SCRIPTS, `${script.kind}.lua`),
    url,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn("wrk", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.once("error", (e) => reject(new Error(`cannot run wrk (${e.message}); install it: apt-get install -y wrk`)));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}:\n${out}`))));
  });
  const line = /BENCH_JSON (\{.*\})/.exec(output)?.[1];
  if (!line) throw new Error(`wrk printed no result:\n${output}`);
  const r = JSON.parse(line) as Record<string, number>;
  const n = (k: string) => r[k] ?? 0;
  return {
    requests: n("requests"),
    rps: n("requests") / (n("duration_us") / 1e6),
    p50Ms: n("p50_us") / 1000,
    p99Ms: n("p99_us") / 1000,
    errors: n("connect_errors") + n("read_errors") + n("write_errors") + n("timeouts") + n("non_2xx"),
  };
}
