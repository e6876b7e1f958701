import { describe, expect, it } from "vitest";
import { runBench } from "./harness.ts";
import { renderTable } from "./report.ts";
import { renderTargets, targets } from "./targets.ts";

// The benchmarks are not part of npm test (no timing is judged here: the machine is shared and
// noisy); this quick run of the same harness is, so that `npm run bench` cannot silently rot.

describe("npm run bench (quick smoke run)", () => {
  it("runs every section and produces every figure, ratio and target", { timeout: 240_000 }, async () => {
    const r = await runBench({ quick: true });

    for (const load of [
      r.load.trivial,
      r.load.repeated,
      r.load.fresh,
      r.forward.direct,
      r.forward.passThrough,
      r.forward.forwarded,
      r.wranglerDev.trivial,
      r.wranglerDev.repeated,
      r.revocations.off,
      r.revocations.on,
    ]) {
      expect(load.requests).toBeGreaterThan(0);
      expect(load.errors).toBe(0); // every exchange answered 200: the tokens, policy and routes are right
      expect(load.p99Ms).toBeGreaterThanOrEqual(load.p50Ms);
    }
    // One audit line per exchange, as the broker's contract says (a cache hit is still audited).
    expect(r.load.auditLinesPerExchange).toBeGreaterThanOrEqual(1);
    expect(r.load.auditLinesPerExchange).toBeLessThan(1.1);

    expect(Object.keys(r.cpu).sort()).toEqual(
      [
        "decide-10",
        "decide-10000",
        "exchange-fresh",
        "exchange-fresh-unlogged",
        "exchange-fresh-jose",
        "exchange-repeated",
        "stage-audit",
        "stage-parse",
        "stage-response",
        "stage-verify-cached",
        "floor",
        "hono-jwk",
        "hono-jwk+sign",
        "trivial",
        "verify",
      ].sort(),
    );
    for (const timing of Object.values(r.cpu)) expect(timing.cpuUs).toBeGreaterThan(0);

    expect(r.memory.heapAfterBytes).toBeGreaterThan(0);
    expect(r.signer.cachedGetToken.p50Ms).toBeGreaterThan(0);
    expect(r.signer.assertion.ratio).toBeGreaterThan(0);
    // The daemon's exchange cache: one broker exchange for every cached call.
    expect(r.signer.exchange.brokerExchanges).toBe(1);
    expect(r.signer.exchange.uncached.p50Ms).toBeGreaterThan(0);
    expect(r.bundle.gzipBytes).toBeGreaterThan(0);
    expect(r.revocations.ratio).toBeGreaterThan(0);

    const table = renderTable(r);
    expect(table).not.toMatch(/NaN|n\/a|undefined/);
    for (const section of [
      "1. HTTP load",
      "1b. the same under wrangler dev",
      "2-3. workerd CPU",
      "3. memory",
      "4. signer",
      "5. bundle",
      "6. origin kit",
      "7. end to end",
    ])
      expect(table).toContain(section);
    for (const runtime of [r.originKit.node, r.originKit.workerd])
      for (const timing of [runtime.floor, runtime.first, runtime.repeated]) {
        expect(timing.costUs).toBeGreaterThan(0);
        expect(timing.p99Us).toBeGreaterThanOrEqual(timing.p50Us);
      }
    // End to end: every request of both clients answered 200 (a refusal stops the client), and the
    // 100 concurrent signer callers all got their cached exchange.
    for (const load of [r.endToEnd.staticKey, r.endToEnd.brokerToken]) {
      expect(load.requests).toBeGreaterThan(0);
      expect(load.p99Ms).toBeGreaterThanOrEqual(load.p50Ms);
    }
    expect(r.endToEnd.concurrentExchange.calls).toBe(100 * 2);
    expect(targets(r)).toHaveLength(19);
    expect(renderTargets(r).split("\n")).toHaveLength(19);
  });
});
