// `npm run bench`: every benchmark in one run, a table on stdout, the full result as
// JSON in bench/results/latest.json (git-ignored). `--quick` is the harness smoke run.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runBench, stopRunning } from "./harness.ts";
import { plotLoad } from "./plot.ts";
import { loadCases, renderTable } from "./report.ts";
import { renderTargets, targets } from "./targets.ts";

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, out: { type: "string" }, svg: { type: "string" } },
});
const out = resolve(values.out ?? join(import.meta.dirname, "results", "latest.json"));
const svg = resolve(values.svg ?? `${out.replace(/\.json$/, "")}.svg`);

process.env.WRANGLER_SEND_METRICS = "false";
// The Workers run in process groups of their own (so that stopping one stops its workerd): a
// Ctrl-C here must stop them too.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    void stopRunning().finally(() => process.exit(130));
  });
}
try {
  const result = await runBench({ quick: values.quick ?? false, log: (line) => console.error(`bench: ${line}`) });
  mkdirSync(resolve(out, ".."), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ ...result, targets: targets(result) }, null, 2)}\n`);
  const title = `npm run bench, ${result.date.slice(0, 10)}: HTTP load in production-like workerd (${result.machine.cpus} cores)`;
  writeFileSync(svg, plotLoad(title, loadCases(result)));
  console.log(`\n${renderTable(result)}\n\nTargets:\n${renderTargets(result)}\n`);
  console.log(
    `${result.quick ? "quick run (smoke: figures not meaningful); " : ""}${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}, wrangler ${result.machine.wrangler}, workerd ${result.machine.workerd}, miniflare ${result.machine.miniflare}, jose ${result.machine.jose}, hono ${result.machine.hono}, wrk ${result.machine.wrk}`,
  );
  console.log(`finished in ${result.durationSeconds.toFixed(0)} s; result written to ${out}, plot to ${svg}`);
} catch (e) {
  console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
}
