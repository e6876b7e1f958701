import { f1, f2, int, mib } from "./format.ts";
import type { BenchResult } from "./harness.ts";
import { originKitRows } from "./origin-kit.ts";
import type { PlotCase } from "./plot.ts";

// The table `npm run bench` prints, and the load cases its plot draws, from one result.

/** Markdown table rows: readable in a terminal and pasteable into the README. */
export function renderTable(r: BenchResult): string {
  const rows: string[][] = [];
  const row = (...cells: string[]) => rows.push(cells);
  const { trivial, repeated, fresh } = r.load;
  row("1. HTTP load (wrk), production-like workerd", "req/s", "p50 ms", "p99 ms", "ratio");
  row("trivial route GET /healthz (baseline)", int(trivial.rps), f2(trivial.p50Ms), f2(trivial.p99Ms), "1.00");
  row(
    "POST /token, same subject token",
    int(repeated.rps),
    f2(repeated.p50Ms),
    f2(repeated.p99Ms),
    f2(repeated.rps / trivial.rps),
  );
  row(
    `POST /token, fresh token per request (${int(fresh.distinctTokens)} distinct)`,
    int(fresh.rps),
    f2(fresh.p50Ms),
    f2(fresh.p99Ms),
    f2(fresh.rps / trivial.rps),
  );
  row(
    "origin called directly (baseline)",
    int(r.forward.direct.rps),
    f2(r.forward.direct.p50Ms),
    f2(r.forward.direct.p99Ms),
    "1.00",
  );
  row(
    "pass-through Worker GET (forward mode's floor)",
    int(r.forward.passThrough.rps),
    f2(r.forward.passThrough.p50Ms),
    f2(r.forward.passThrough.p99Ms),
    `${f2(r.forward.passThrough.rps / r.forward.direct.rps)} of origin`,
  );
  row(
    "forward mode GET via the broker",
    int(r.forward.forwarded.rps),
    f2(r.forward.forwarded.p50Ms),
    f2(r.forward.forwarded.p99Ms),
    `${f2(r.forward.forwarded.rps / r.forward.passThrough.rps)} of pass-through`,
  );
  const w = r.wranglerDev;
  row("1b. the same under wrangler dev (dev proxy)", "req/s", "p50 ms", "p99 ms", "ratio");
  row("trivial route GET /healthz", int(w.trivial.rps), f2(w.trivial.p50Ms), f2(w.trivial.p99Ms), "1.00");
  row(
    "POST /token, same subject token",
    int(w.repeated.rps),
    f2(w.repeated.p50Ms),
    f2(w.repeated.p99Ms),
    f2(w.repeated.rps / w.trivial.rps),
  );
  const rv = r.revocations;
  row("POST /token, revocations off (baseline)", int(rv.off.rps), f2(rv.off.p50Ms), f2(rv.off.p99Ms), "1.00");
  row(
    `POST /token, revocations on (${rv.entries} entries in KV)`,
    int(rv.on.rps),
    f2(rv.on.p50Ms),
    f2(rv.on.p99Ms),
    f2(rv.ratio),
  );

  const c = r.cpu;
  const us = (k: string) => c[k]?.cpuUs ?? NaN;
  row("2-3. workerd CPU per operation (production-like)", "CPU µs", "wall µs", "", "ratio");
  const cpuRow = (label: string, k: string, base: string) =>
    row(label, f1(us(k)), f1(c[k]?.wallUs ?? NaN), "", f2(us(k) / us(base)));
  cpuRow("crypto floor: RS256 verify + ES256 sign (baseline)", "floor", "floor");
  cpuRow("exchange, fresh token (POST /token through the Worker)", "exchange-fresh", "floor");
  cpuRow("  same, audit line not written (console.log no-op)", "exchange-fresh-unlogged", "floor");
  row("  audit line's cost per exchange", f1(us("exchange-fresh") - us("exchange-fresh-unlogged")), "", "", "");
  cpuRow("exchange handler, fresh token, jose, unlogged", "exchange-fresh-jose", "floor");
  cpuRow("exchange, repeated token", "exchange-repeated", "floor");
  cpuRow("  its stage: read + parse the form (RFC 8693 checks)", "stage-parse", "floor");
  cpuRow("  its stage: cached verification (SHA-256 + lookup)", "stage-verify-cached", "floor");
  cpuRow("  its stage: audit line", "stage-audit", "floor");
  cpuRow("  its stage: JSON response", "stage-response", "floor");
  cpuRow("trivial route through the Worker (framework floor)", "trivial", "floor");
  cpuRow("verify stage alone (all Entra checks)", "verify", "floor");
  cpuRow("hono/jwk middleware verify (signature + exp only)", "hono-jwk", "floor");
  cpuRow("hono/jwk verify + hono/jwt ES256 sign", "hono-jwk+sign", "floor");
  row("exchange, fresh / hono/jwk + sign", "", "", "", f2(us("exchange-fresh") / us("hono-jwk+sign")));
  cpuRow("policy decision, 10 rules (baseline)", "decide-10", "decide-10");
  cpuRow("policy decision, 10,000 rules", "decide-10000", "decide-10");

  const m = r.memory;
  row("3. memory (isolate heap after GC)", "", "", "", "");
  row(
    `before / after ${int(m.distinctTokens)} distinct subject tokens`,
    mib(m.heapBeforeBytes),
    mib(m.heapAfterBytes),
    "",
    `${f2(m.heapAfterBytes / m.isolateLimitBytes)} of 128 MiB`,
  );

  const s = r.signer;
  row("4. signer", "", "p50 ms", "p99 ms", "");
  row(
    `socket round trip, GET /health (baseline, ${int(s.socketRoundTrip.calls)} calls)`,
    "",
    f2(s.socketRoundTrip.p50Ms),
    f2(s.socketRoundTrip.p99Ms),
    "1.00",
  );
  row(
    `cached getToken over the unix socket (${int(s.cachedGetToken.calls)} calls)`,
    "",
    f2(s.cachedGetToken.p50Ms),
    f2(s.cachedGetToken.p99Ms),
    `${f2(s.cachedGetToken.p99Ms / s.socketRoundTrip.p99Ms)} (p99)`,
  );
  row(
    `exchange: one broker round trip per call (${int(s.exchange.uncached.calls)} calls, baseline)`,
    "",
    f2(s.exchange.uncached.p50Ms),
    f2(s.exchange.uncached.p99Ms),
    "1.00",
  );
  row(
    `exchange over the socket, cached per (resource, scope): ${int(s.exchange.brokerExchanges)} broker exchange(s)`,
    "",
    f2(s.exchange.cached.p50Ms),
    f2(s.exchange.cached.p99Ms),
    `${f2(s.exchange.cached.p50Ms / s.exchange.uncached.p50Ms)} (p50)`,
  );
  row(
    "raw PS256 signatures/s via Web Crypto, same key (baseline)",
    int(s.assertion.rawSignaturesPerSecond),
    "",
    "",
    "1.00",
  );
  row(
    "raw PS256 signatures/s via node:crypto",
    int(s.assertion.nodeCryptoSignaturesPerSecond),
    "",
    "",
    f2(s.assertion.nodeCryptoSignaturesPerSecond / s.assertion.rawSignaturesPerSecond),
  );
  row("client assertions signed/s", int(s.assertion.signaturesPerSecond), "", "", f2(s.assertion.ratio));

  row("5. bundle (wrangler deploy --dry-run)", "KiB", "gzip KiB", "", "");
  row("worker/index.ts bundle", f1(r.bundle.bytes / 1024), f1(r.bundle.gzipBytes / 1024), "", "");

  for (const cells of originKitRows(r.originKit)) row(...cells);

  const e = r.endToEnd;
  row("7. end to end: Node client → Node origin", "req/s", "p50 ms", "p99 ms", "ratio");
  row(
    "static API key, constant-time compare (baseline)",
    int(e.staticKey.rps),
    f2(e.staticKey.p50Ms),
    f2(e.staticKey.p99Ms),
    "1.00",
  );
  row(
    "broker token: signer client library + origin kit",
    int(e.brokerToken.rps),
    f2(e.brokerToken.p50Ms),
    f2(e.brokerToken.p99Ms),
    f2(e.brokerToken.rps / e.staticKey.rps),
  );
  row(
    `signer: cached exchange, ${e.concurrentExchange.callers} concurrent callers (${int(e.concurrentExchange.calls)} calls)`,
    "",
    f2(e.concurrentExchange.p50Ms),
    f2(e.concurrentExchange.p99Ms),
    "",
  );

  // Section rows (their label starts with a digit) in bold; markdown alignment: text left, figures right.
  const all = [
    ["measure", "value", "", "", "ratio"],
    ...rows.map((cells) => cells.map((cell, i) => (i === 0 && /^\d/.test(cell) ? `**${cell}**` : cell))),
  ];
  const widths = all[0]!.map((_, i) => Math.max(3, ...all.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w - 1)}: `)).join("|")}|`;
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join("\n");
}

/** The HTTP load cases of a run, each baseline first and then the cases divided by it, for the plot. */
export function loadCases(r: BenchResult): PlotCase[] {
  return [
    { label: "trivial route (baseline)", load: r.load.trivial, baseline: true },
    { label: "POST /token, same subject token", load: r.load.repeated, baseline: false },
    { label: "POST /token, fresh token each request", load: r.load.fresh, baseline: false },
    { label: "origin called directly (baseline)", load: r.forward.direct, baseline: true },
    { label: "pass-through Worker (baseline)", load: r.forward.passThrough, baseline: true },
    { label: "forward mode via the broker", load: r.forward.forwarded, baseline: false },
    { label: "wrangler dev: trivial route (baseline)", load: r.wranglerDev.trivial, baseline: true },
    { label: "wrangler dev: POST /token, same token", load: r.wranglerDev.repeated, baseline: false },
    { label: "end to end: static API key (baseline)", load: r.endToEnd.staticKey, baseline: true },
    { label: "end to end: signer + origin kit", load: r.endToEnd.brokerToken, baseline: false },
  ];
}
