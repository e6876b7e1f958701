// Runs one built Worker bundle in workerd through Miniflare, with a direct socket into the Worker
// (no wrangler dev proxy, no entry Worker in front, no DevTools inspector), in a process of its
// own, and prints `READY <url> -` once it serves. This is the production-like setup of the
// benchmarks: workerd serving the bundle `wrangler deploy` would upload, with the bindings (KV,
// rate limits) that Miniflare implements, and the console written to a pipe as structured logs.
//
// Usage: node bench/miniflare-host.ts <host-config.json> <port>
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { convertV4MiniflareOptions, type Json, Log, LogLevel, Miniflare, type V4MiniflareOptions } from "miniflare";

export interface HostConfig {
  /** The bundle's entry module (wrangler deploy --dry-run --outdir). */
  readonly scriptPath: string;
  readonly compatibilityDate: string;
  /** Vars and secrets: strings become text bindings, anything else JSON bindings, as in wrangler. */
  readonly bindings: Record<string, unknown>;
  readonly kvNamespaces?: readonly string[];
  readonly ratelimits?: Record<string, { readonly limit: number; readonly period: 10 | 60 }>;
}

const [configPath, port] = process.argv.slice(2);
if (!configPath || !port) {
  console.error("usage: miniflare-host.ts <host-config.json> <port>");
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, "utf8")) as HostConfig;

let logLines = 0;
const options: V4MiniflareOptions = {
  log: new Log(LogLevel.WARN),
  // wrangler's bundle is one ES module (Miniflare's default rules would read a .js file as CommonJS).
  modules: [{ type: "ESModule", path: config.scriptPath }],
  modulesRoot: dirname(config.scriptPath),
  // No request.cf fetch from Cloudflare: there is no network here, and nothing of ours reads it.
  cf: false,
  compatibilityDate: config.compatibilityDate,
  bindings: config.bindings as Record<string, Json>,
  kvNamespaces: [...(config.kvNamespaces ?? [])],
  ratelimits: Object.fromEntries(
    Object.entries(config.ratelimits ?? {}).map(
      ([name, r]) => [name, { namespace_id: name, simple: { limit: r.limit, period: r.period } }] as const,
    ),
  ),
  unsafeDirectSockets: [{ host: "127.0.0.1", port: Number(port) }],
  // The Worker's console output (the audit log) arrives here as parsed structured log lines:
  // counted, not printed, so that the log volume costs this process a parse and nothing else.
  handleStructuredLogs: () => void logLines++,
};
// Miniflare 5 takes a new option shape; the v4 one it converts is the one its README documents.
const mf = new Miniflare(convertV4MiniflareOptions(options));
await mf.ready;
console.log(`READY http://127.0.0.1:${port} -`);

process.on("SIGUSR2", () => console.log(`LOG_LINES ${logLines}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void mf.dispose().finally(() => process.exit(0));
  });
}
