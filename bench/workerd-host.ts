// Runs one Worker in workerd through wrangler's own dev API, in a process of its own (like
// `wrangler dev`), and prints `READY <url> <inspector url|->` once it serves.
//
// Why not the `wrangler dev` CLI: it always attaches the DevTools inspector and forwards every
// console.log over it, which costs ~2 ms of workerd CPU per line (measured by this harness);
// the audit line per exchange then dominates everything. Deployed Workers have no inspector:
// with it off, workerd writes console output as structured logs, as in production.
//
// Usage: node bench/workerd-host.ts <wrangler.json> <port> <inspector: on|off>
import { unstable_startWorker } from "wrangler";

const [configPath, port, inspector] = process.argv.slice(2);
if (!configPath || !port || (inspector !== "on" && inspector !== "off")) {
  console.error("usage: workerd-host.ts <wrangler.json> <port> <on|off>");
  process.exit(2);
}

let logLines = 0;
const worker = await unstable_startWorker({
  config: configPath,
  dev: {
    server: { hostname: "127.0.0.1", port: Number(port) },
    inspector: inspector === "on" ? { hostname: "127.0.0.1", port: 0 } : false,
    watch: false,
    persist: false,
    logLevel: "warn",
    // The Worker's console output (the audit log): counted, not printed, so that a run's
    // log volume costs this process nothing but a parse.
    structuredLogsHandler: () => void logLines++,
  },
});
await worker.ready;
const url = await worker.url;
const inspectorUrl = inspector === "on" ? await worker.inspectorUrl : undefined;
console.log(`READY ${url.origin} ${inspectorUrl ? inspectorUrl.href : "-"}`);

// The harness asks how many log lines the Worker printed: one audit line per exchange.
process.on("SIGUSR2", () => console.log(`LOG_LINES ${logLines}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void worker.dispose().finally(() => process.exit(0));
  });
}
