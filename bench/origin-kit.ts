import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { type OriginKitCase, ORIGIN_KIT_CASES, prepareOriginKitBench } from "./origin-kit-cases.ts";
import { startDevWorker } from "./wrangler.ts";

// Section 6: what the origin kit costs an origin per request, in Node and in workerd, against
// jose's jwtVerify with a local JWKS in the same run (the floor). Targets: a token's first use
// <= 1.2x the floor, a repeated token <= 0.1x. Batches are interleaved round by round so that
// noise on the shared machine hits every case alike. Runnable alone: node bench/origin-kit.ts [--quick]

export interface Latency {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly n: number;
}

export type OriginKitRuntime = Record<OriginKitCase, Latency>;

export interface OriginKitResults {
  readonly node: OriginKitRuntime;
  readonly workerd: OriginKitRuntime;
}

export interface OriginKitPlan {
  readonly rounds: number;
  readonly batch: number;
}

export const ORIGIN_KIT_FULL: OriginKitPlan = { rounds: 5, batch: 400 };
export const ORIGIN_KIT_QUICK: OriginKitPlan = { rounds: 1, batch: 10 };

const ISSUER = "https://broker.bench.example";
const AUDIENCE = "https://inventory.bench.example";
const WARM_UP_TOKENS = 20;

export async function benchOriginKit(plan: OriginKitPlan, dir: string): Promise<OriginKitResults> {
  const setup = await mintTokens(WARM_UP_TOKENS + plan.rounds * plan.batch);
  const local = await prepareOriginKitBench(setup);
  const node = await timeRounds(plan, (name, n, offset) => local.run(name, n, offset));

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
    const ready = await fetch(`${worker.origin}/setup`, { method: "POST", body: JSON.stringify(setup) });
    if (ready.status !== 200) throw new Error(`origin kit bench setup failed: ${ready.status} ${await ready.text()}`);
    const workerd = await timeRounds(plan, async (name, n, offset) => {
      const r = await fetch(`${worker.origin}/run?case=${name}&n=${n}&offset=${offset}`);
      if (r.status !== 200) throw new Error(`origin kit bench ${name} failed: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { samples: number[] }).samples;
    });
    return { node, workerd };
  } finally {
    await worker.stop();
  }
}

async function timeRounds(
  plan: OriginKitPlan,
  run: (name: OriginKitCase, n: number, offset: number) => Promise<number[]>,
): Promise<OriginKitRuntime> {
  const samples: Record<OriginKitCase, number[]> = { floor: [], first: [], repeated: [] };
  let offset = WARM_UP_TOKENS; // `first` gets tokens no batch has used
  for (let round = 0; round < plan.rounds; round++) {
    for (const name of ORIGIN_KIT_CASES) {
      samples[name].push(...(await run(name, plan.batch, name === "first" ? offset : 0)));
    }
    offset += plan.batch;
  }
  const out = {} as Record<OriginKitCase, Latency>;
  for (const name of ORIGIN_KIT_CASES) {
    out[name] = {
      p50Us: percentile(samples[name], 0.5),
      p99Us: percentile(samples[name], 0.99),
      n: samples[name].length,
    };
  }
  return out;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Broker-shaped ES256 tokens (RFC 9068 header and claims), each distinct. */
async function mintTokens(count: number) {
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

/** Rows for the bench table: label, p50 µs, p99 µs, ratio of p50 to the floor's. */
export function originKitRows(r: OriginKitResults): string[][] {
  const rows: string[][] = [["6. origin kit, verification per request", "", "p50 µs", "p99 µs", "ratio"]];
  for (const runtime of ["node", "workerd"] as const) {
    const t = r[runtime];
    const label = runtime === "node" ? "Node" : "workerd";
    rows.push([`${label}: jose jwtVerify, local JWKS (floor)`, "", us(t.floor.p50Us), us(t.floor.p99Us), "1.00"]);
    rows.push([
      `${label}: verifyBrokerToken, first use of a token`,
      "",
      us(t.first.p50Us),
      us(t.first.p99Us),
      (t.first.p50Us / t.floor.p50Us).toFixed(2),
    ]);
    rows.push([
      `${label}: verifyBrokerToken, repeated token`,
      "",
      us(t.repeated.p50Us),
      us(t.repeated.p99Us),
      (t.repeated.p50Us / t.floor.p50Us).toFixed(2),
    ]);
  }
  return rows;
}

/** The section's targets, judged on medians against the floor of the same runtime and run. */
export function originKitTargets(r: OriginKitResults) {
  return (["node", "workerd"] as const).flatMap((runtime) => {
    const t = r[runtime];
    return [
      {
        name: `origin kit (${runtime}): first use of a token / jose jwtVerify`,
        value: t.first.p50Us / t.floor.p50Us,
        op: "<=" as const,
        limit: 1.2,
      },
      {
        name: `origin kit (${runtime}): repeated token / jose jwtVerify`,
        value: t.repeated.p50Us / t.floor.p50Us,
        op: "<=" as const,
        limit: 0.1,
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
