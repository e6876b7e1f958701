import { f1, f2, int, mib } from "./format.ts";
import type { BenchResult } from "./harness.ts";
import { originKitTargets } from "./origin-kit.ts";

// The targets of one run, each a ratio (or a bound) against a baseline measured in the same run,
// printed with the figures it divides.

export interface Target {
  readonly name: string;
  readonly value: number;
  readonly op: ">=" | "<=";
  readonly limit: number;
  readonly unit: string;
  readonly met: boolean;
  /** The figure and the baseline it was divided by, as measured in this run. */
  readonly basis: string;
}

export function targets(r: BenchResult): Target[] {
  const t = (name: string, value: number, op: Target["op"], limit: number, unit: string, basis: string): Target => ({
    name,
    value,
    op,
    limit,
    unit,
    met: op === ">=" ? value >= limit : value <= limit,
    basis,
  });
  const us = (n: number) => `${f1(n)} µs`;
  const rps = (n: number) => `${int(n)} req/s`;
  const ms = (n: number) => `${f2(n)} ms`;
  const cpu = (k: string) => r.cpu[k]?.cpuUs ?? NaN;
  const { forward, endToEnd: e } = r;
  return [
    t(
      "repeated-token exchange throughput, revocations on / off",
      r.revocations.ratio,
      ">=",
      0.9,
      "x",
      `${rps(r.revocations.on.rps)} / ${rps(r.revocations.off.rps)}`,
    ),
    t(
      "CPU per fresh exchange (audit written) / (trivial route + 2 × crypto floor)",
      cpu("exchange-fresh") / (cpu("trivial") + 2 * cpu("floor")),
      "<=",
      1,
      "x",
      `${us(cpu("exchange-fresh"))} / (${us(cpu("trivial"))} + 2 × ${us(cpu("floor"))})`,
    ),
    t(
      "CPU per repeated-token exchange / (trivial route + 1 × crypto floor)",
      cpu("exchange-repeated") / (cpu("trivial") + cpu("floor")),
      "<=",
      1,
      "x",
      `${us(cpu("exchange-repeated"))} / (${us(cpu("trivial"))} + ${us(cpu("floor"))})`,
    ),
    t(
      "repeated-token exchange throughput / trivial route",
      r.load.repeated.rps / r.load.trivial.rps,
      ">=",
      0.8,
      "x",
      `${rps(r.load.repeated.rps)} / ${rps(r.load.trivial.rps)}`,
    ),
    t(
      "fresh-token exchange throughput / trivial route",
      r.load.fresh.rps / r.load.trivial.rps,
      ">=",
      0.5,
      "x",
      `${rps(r.load.fresh.rps)} / ${rps(r.load.trivial.rps)}`,
    ),
    t(
      "forward mode throughput / pass-through Worker",
      forward.forwarded.rps / forward.passThrough.rps,
      ">=",
      0.8,
      "x",
      `${rps(forward.forwarded.rps)} / ${rps(forward.passThrough.rps)}`,
    ),
    t(
      "forward mode added p50 latency over the pass-through Worker",
      forward.forwarded.p50Ms - forward.passThrough.p50Ms,
      "<=",
      0.5,
      " ms",
      `${ms(forward.forwarded.p50Ms)} - ${ms(forward.passThrough.p50Ms)}`,
    ),
    t(
      "end to end throughput: signer + origin kit / static API key",
      e.brokerToken.rps / e.staticKey.rps,
      ">=",
      0.8,
      "x",
      `${rps(e.brokerToken.rps)} / ${rps(e.staticKey.rps)}`,
    ),
    t(
      "end to end p99: signer + origin kit - static API key",
      e.brokerToken.p99Ms - e.staticKey.p99Ms,
      "<=",
      1,
      " ms",
      `${ms(e.brokerToken.p99Ms)} - ${ms(e.staticKey.p99Ms)}`,
    ),
    t(
      "signer cached exchange p99, 100 concurrent callers",
      e.concurrentExchange.p99Ms,
      "<=",
      2,
      " ms",
      `${int(e.concurrentExchange.calls)} calls, p50 ${ms(e.concurrentExchange.p50Ms)}`,
    ),
    t(
      "policy decision, 10,000 rules / 10 rules",
      cpu("decide-10000") / cpu("decide-10"),
      "<=",
      2,
      "x",
      `${us(cpu("decide-10000"))} / ${us(cpu("decide-10"))}`,
    ),
    t(
      "signer cached getToken p99",
      r.signer.cachedGetToken.p99Ms,
      "<=",
      2,
      " ms",
      `socket round trip p99 ${ms(r.signer.socketRoundTrip.p99Ms)}`,
    ),
    t(
      "assertion signing rate / raw PS256 signing",
      r.signer.assertion.ratio,
      ">=",
      0.9,
      "x",
      `${int(r.signer.assertion.signaturesPerSecond)}/s / ${int(r.signer.assertion.rawSignaturesPerSecond)}/s`,
    ),
    t("Worker bundle, gzipped", r.bundle.gzipBytes / 1024, "<=", 100, " KiB", `${int(r.bundle.bytes)} bytes raw`),
    t(
      `isolate heap after ${r.memory.distinctTokens.toLocaleString("en")} distinct subject tokens`,
      r.memory.heapAfterBytes / (1024 * 1024),
      "<=",
      16,
      " MiB",
      `${mib(r.memory.heapBeforeBytes)} before`,
    ),
    ...originKitTargets(r.originKit).map((k) => t(k.name, k.value, k.op, k.limit, "x", k.basis)),
  ];
}

export function renderTargets(r: BenchResult): string {
  return targets(r)
    .map(
      (t) =>
        `${t.met ? "met   " : "MISSED"}  ${t.name}: ${t.unit === "x" ? f2(t.value) : f1(t.value)}${t.unit} (target ${t.op} ${t.limit}${t.unit}; ${t.basis})`,
    )
    .join("\n");
}
