import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { median } from "./cpu.ts";
import {
  type OriginKitCase,
  ORIGIN_KIT_CASES,
  type OriginKitSetup,
  prepareOriginKitBench,
} from "./origin-kit-cases.ts";
import { cpuNanos, descendantsNamed } from "./proc-cpu.ts";
import { startDevWorker } from "./wrangler.ts";

// Section 6: what the origin kit costs an origin per request, in Node and in workerd, against
// jose's jwtVerify with a local JWKS in the same run and runtime (the floor). Targets: a token's
// first use <= 1.2x the floor, a repeated token <= 0.1x. Cases are interleaved round by round so
// that noise on the shared machine hits every case alike.
//   Node:    each verification timed on its own (performance.now); ratios of the medians.
//   workerd: its clock does not resolve one verification, so ratios come from workerd's CPU time
//            per batch (/proc, median round), and p50/p99 from one verification per HTTP request,
//            beside a no-op request to the same Worker (the HTTP floor).
// Runnable alone: node bench/origin-kit.ts [--quick]

export interface Latency {
  /** Per request, µs. In workerd: the HTTP round trip, its own floor given by `noop`. */
  readonly p50Us: number;
  readonly p99Us: number;
  /** The figure the ratio is taken on, µs per verification (Node: median wall; workerd: median CPU). */
  readonly costUs: number;
}

export type OriginKitRuntime = Record<OriginKitCase, Latency>;

export interface OriginKitResults {
  readonly node: OriginKitRuntime;
  readonly workerd: OriginKitRuntime & { readonly noop: Latency };
}

export interface OriginKitPlan {
  readonly rounds: number;
  /** Verifications per timed batch. */
  readonly batch: number;
  /** workerd: HTTP requests per case per round for the latency figures. */
  readonly requests: number;
}

export const ORIGIN_KIT_FULL: OriginKitPlan = { rounds: 9, batch: 400, requests: 100 };
export const ORIGIN_KIT_QUICK: OriginKitPlan = { rounds: 1, batch: 10, requests: 5 };

const ISSUER = "https://broker.bench.example";
const AUDIENCE = "https://inventory.bench.example";
const WARM_UP_TOKENS = 20;
/** workerd: the repeated-token batch is this many times longer than the others (see benchWorkerd). */
const REPEATED_BATCH_FACTOR = 20;

export async function benchOriginKit(plan: OriginKitPlan, dir: string): Promise<OriginKitResults> {
  const setup = await mintTokens(WARM_UP_TOKENS + plan.rounds * (plan.batch + plan.requests));
  const node = await benchNode(plan, setup);
  const worker = await startDevWorker({
    name: "bench-origin-kit",
    main: "bench/workerd/origin-kit.ts",
    dir,
    vars: {},
    secrets: {},
    readyPath: "/ready",
    inspector: false,
  });
  try {
    return { node, workerd: await benchWorkerd(plan, setup, worker.origin, worker.child.process.pid!) };
  } finally {
    await worker.stop();
  }
}

async function benchNode(plan: OriginKitPlan, setup: OriginKitSetup): Promise<OriginKitRuntime> {
  const bench = await prepareOriginKitBench(setup);
  const samples: Record<OriginKitCase, number[]> = { floor: [], first: [], repeated: [] };
  let fresh = WARM_UP_TOKENS; // `first` gets tokens no batch has used
  for (let round = 0; round < plan.rounds; round++) {
    for (const name of ORIGIN_KIT_CASES) {
      samples[name].push(...(await bench.run(name, plan.batch, name === "first" ? fresh : 0)));
    }
    fresh += plan.batch;
  }
  const out = {} as Record<OriginKitCase, Latency>;
  for (const name of ORIGIN_KIT_CASES) {
    const s = samples[name];
    out[name] = { p50Us: percentile(s, 0.5), p99Us: percentile(s, 0.99), costUs: percentile(s, 0.5) };
  }
  return out;
}

async function benchWorkerd(
  plan: OriginKitPlan,
  setup: OriginKitSetup,
  origin: string,
  pid: number,
): Promise<OriginKitResults["workerd"]> {
  const ready = await fetch(`${origin}/setup`, { method: "POST", body: JSON.stringify(setup) });
  if (ready.status !== 200) throw new Error(`origin kit bench setup failed: ${ready.status} ${await ready.text()}`);
  const workerd = descendantsNamed(pid, "workerd");
  if (workerd.length === 0) throw new Error("cannot find the workerd processes of the origin kit bench Worker");
  const get = async (path: string) => {
    const r = await fetch(`${origin}${path}`);
    if (r.status !== 200) throw new Error(`origin kit bench ${path} failed: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  };
  const cpu: Record<OriginKitCase, number[]> = { floor: [], first: [], repeated: [] };
  const latency: Record<OriginKitCase | "noop", number[]> = { floor: [], first: [], repeated: [], noop: [] };
  let fresh = WARM_UP_TOKENS;
  for (let round = 0; round < plan.rounds; round++) {
    for (const name of ORIGIN_KIT_CASES) {
      // A cache hit costs a few µs: its batch is longer, so that the request carrying it stays noise.
      const n = name === "repeated" ? plan.batch * REPEATED_BATCH_FACTOR : plan.batch;
      const before = cpuNanos(workerd);
      await get(`/run?case=${name}&n=${n}&offset=${name === "first" ? fresh : 0}`);
      cpu[name].push((cpuNanos(workerd) - before) / 1000 / n);
    }
    fresh += plan.batch;
    for (const name of [...ORIGIN_KIT_CASES, "noop"] as const) {
      for (let i = 0; i < plan.requests; i++) {
        const path = name === "noop" ? "/noop" : `/one?case=${name}&offset=${name === "first" ? fresh + i : 0}`;
        const start = performance.now();
        await get(path);
        latency[name].push((performance.now() - start) * 1000);
      }
    }
    fresh += plan.requests;
  }
  const figures = (name: OriginKitCase | "noop", cost: number): Latency => ({
    p50Us: percentile(latency[name], 0.5),
    p99Us: percentile(latency[name], 0.99),
    costUs: cost,
  });
  return {
    floor: figures("floor", median(cpu.floor)),
    first: figures("first", median(cpu.first)),
    repeated: figures("repeated", median(cpu.repeated)),
    noop: figures("noop", 0),
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Broker-shaped ES256 tokens (RFC 9068 header and claims), each distinct. */
async function mintTokens(count: number): Promise<OriginKitSetup> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const kid = "bench-es256";
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  const now = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    tokens.push(
      await new SignJWT({
        client_id: "33333333-3333-4333-8333-333333333333",
        scope: "inventory.read",
        tid: "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c",
        roles: ["Inventory.Read"],
      })
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
        .setIssuer(ISSUER)
        .setSubject("33333333-3333-4333-8333-333333333333")
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 3600)
        .setJti(crypto.randomUUID())
        .sign(privateKey),
    );
  }
  return { issuer: ISSUER, audience: AUDIENCE, jwks, tokens };
}

const us = (n: number) => n.toFixed(1);
const ratio = (t: OriginKitRuntime, name: OriginKitCase) => (t[name].costUs / t.floor.costUs).toFixed(2);

/** Rows for the bench table: label, cost µs (the ratio's basis), p50 µs, p99 µs, ratio to the floor. */
export function originKitRows(r: OriginKitResults): string[][] {
  const n = r.node;
  const w = r.workerd;
  return [
    ["6. origin kit, verification per request", "µs", "p50 µs", "p99 µs", "ratio"],
    ["Node: jose jwtVerify, local JWKS (floor)", us(n.floor.costUs), us(n.floor.p50Us), us(n.floor.p99Us), "1.00"],
    [
      "Node: verifyBrokerToken, first use of a token",
      us(n.first.costUs),
      us(n.first.p50Us),
      us(n.first.p99Us),
      ratio(n, "first"),
    ],
    [
      "Node: verifyBrokerToken, repeated token",
      us(n.repeated.costUs),
      us(n.repeated.p50Us),
      us(n.repeated.p99Us),
      ratio(n, "repeated"),
    ],
    ["workerd: no-op request (HTTP floor of the latencies)", "", us(w.noop.p50Us), us(w.noop.p99Us), ""],
    [
      "workerd: jose jwtVerify, local JWKS (floor; CPU µs)",
      us(w.floor.costUs),
      us(w.floor.p50Us),
      us(w.floor.p99Us),
      "1.00",
    ],
    [
      "workerd: verifyBrokerToken, first use of a token",
      us(w.first.costUs),
      us(w.first.p50Us),
      us(w.first.p99Us),
      ratio(w, "first"),
    ],
    [
      "workerd: verifyBrokerToken, repeated token",
      us(w.repeated.costUs),
      us(w.repeated.p50Us),
      us(w.repeated.p99Us),
      ratio(w, "repeated"),
    ],
  ];
}

export interface OriginKitTarget {
  readonly name: string;
  readonly value: number;
  readonly op: "<=";
  readonly limit: number;
  /** The figures divided, as measured in this run. */
  readonly basis: string;
}

/** The section's targets, against the floor of the same runtime and run. */
export function originKitTargets(r: OriginKitResults): OriginKitTarget[] {
  return (["node", "workerd"] as const).flatMap((runtime) => {
    const t = r[runtime];
    const basis = (name: OriginKitCase) => `${us(t[name].costUs)} µs / ${us(t.floor.costUs)} µs`;
    return [
      {
        name: `origin kit (${runtime}): first use of a token / jose jwtVerify`,
        value: t.first.costUs / t.floor.costUs,
        op: "<=" as const,
        limit: 1.2,
        basis: basis("first"),
      },
      {
        name: `origin kit (${runtime}): repeated token / jose jwtVerify`,
        value: t.repeated.costUs / t.floor.costUs,
        op: "<=" as const,
        limit: 0.1,
        basis: basis("repeated"),
      },
    ];
  });
}

if (import.meta.main) {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "origin-kit-bench-"));
  process.env.WRANGLER_SEND_METRICS = "false";
  try {
    const r = await benchOriginKit(process.argv.includes("--quick") ? ORIGIN_KIT_QUICK : ORIGIN_KIT_FULL, dir);
    for (const row of originKitRows(r)) console.log(`| ${row.join(" | ")} |`);
    for (const t of originKitTargets(r))
      console.log(
        `${t.value <= t.limit ? "met   " : "MISSED"}  ${t.name}: ${t.value.toFixed(2)}x (target <= ${t.limit}x)`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
