import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setupBenchWorker, timeCases, type CaseTiming } from "./cpu.ts";
import { entraVars, startFixture } from "./fixture.ts";
import {
  brokerSigningKeys,
  forwardLoad,
  startBroker,
  startOrigin,
  startPassThrough,
  tokenLoad,
  wranglerLoad,
  type ForwardLoadResults,
  type WranglerLoadResults,
  type TokenLoadResults,
} from "./http-load.ts";
import { startDirectWorker } from "./direct-worker.ts";
import { benchEndToEnd, type EndToEndPlan, type EndToEndResults } from "./end-to-end.ts";
import { connectHeapReader } from "./memory.ts";
import {
  benchOriginKit,
  ORIGIN_KIT_FULL,
  ORIGIN_KIT_QUICK,
  type OriginKitPlan,
  type OriginKitResults,
} from "./origin-kit.ts";
import { policyOf, SCOPE } from "./policy-shape.ts";
import { benchSigner, type SignerResults } from "./signer.ts";
import { revocationsLoad, type RevocationLoadResults } from "./revocations.ts";
import { bundleSize, startDevWorker, type BundleSize, type DevWorker } from "./wrangler.ts";
import { wrkVersion, type LoadSettings } from "./wrk.ts";

// One run of every benchmark, each against a baseline measured in the same run (the machine is
// shared and noisy: the ratios are the figures that count). `quick` is the smoke run that
// `npm test` does so the harness cannot rot: same code paths, tiny sizes, no figures judged.

const REPO = resolve(import.meta.dirname, "..");

export interface BenchOptions {
  readonly quick: boolean;
  readonly log?: (line: string) => void;
}

interface Plan {
  readonly load: LoadSettings;
  /** Pre-issued distinct subject tokens: the fresh-token load run and the CPU cases share them. */
  readonly freshTokens: number;
  readonly cpu: { readonly rounds: number; readonly batch: Record<string, number> };
  readonly memoryTokens: number;
  readonly signerCalls: number;
  readonly signerSignatures: number;
  readonly originKit: OriginKitPlan;
  readonly endToEnd: EndToEndPlan;
}

const FULL: Plan = {
  load: { threads: 2, connections: 16, durationSeconds: 5 },
  freshTokens: 12_000,
  cpu: {
    rounds: 5,
    batch: {
      floor: 400,
      verify: 400,
      "exchange-fresh": 200,
      "exchange-fresh-unlogged": 200,
      "exchange-fresh-jose": 200,
      "exchange-repeated": 400,
      "stage-parse": 400,
      "stage-verify-cached": 400,
      "stage-audit": 400,
      "stage-response": 400,
      trivial: 400,
      "hono-jwk": 400,
      "hono-jwk+sign": 400,
      "decide-10": 20_000,
      "decide-10000": 20_000,
    },
  },
  memoryTokens: 1_000_000,
  signerCalls: 2_000,
  signerSignatures: 400,
  originKit: ORIGIN_KIT_FULL,
  endToEnd: { seconds: 4, concurrency: 16, callsPerCaller: 20 },
};

const QUICK: Plan = {
  load: { threads: 1, connections: 2, durationSeconds: 1 },
  freshTokens: 200,
  cpu: { rounds: 1, batch: Object.fromEntries(Object.keys(FULL.cpu.batch).map((k) => [k, 10])) },
  memoryTokens: 2_000,
  signerCalls: 50,
  signerSignatures: 10,
  originKit: ORIGIN_KIT_QUICK,
  endToEnd: { seconds: 1, concurrency: 2, callsPerCaller: 2 },
};

/** Distinct tokens per /memory request: a few seconds of work, well under any request timeout. */
const MEMORY_CHUNK = 50_000;

export interface BenchResult {
  readonly version: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly wrangler: string;
    readonly workerd: string;
    readonly miniflare: string;
    readonly jose: string;
    readonly hono: string;
    readonly wrk: string | undefined;
  };
  readonly load: TokenLoadResults & { readonly settings: LoadSettings };
  readonly forward: ForwardLoadResults;
  readonly revocations: RevocationLoadResults;
  /** The same broker under `wrangler dev`: what `npm start` serves, not what production would see. */
  readonly wranglerDev: WranglerLoadResults;
  readonly cpu: Record<string, CaseTiming>;
  readonly memory: {
    readonly distinctTokens: number;
    readonly heapBeforeBytes: number;
    readonly heapAfterBytes: number;
    readonly isolateLimitBytes: number;
  };
  readonly signer: SignerResults;
  readonly endToEnd: EndToEndResults;
  readonly bundle: BundleSize;
  readonly originKit: OriginKitResults;
  readonly durationSeconds: number;
}

/** What a run has started (processes in their own groups, servers): stopped on exit, error or signal. */
const running = new Set<() => Promise<void>>();

/** Stops everything a run started; for a signal handler (the Workers run detached from our group). */
export async function stopRunning(): Promise<void> {
  for (const stop of [...running].reverse()) await stop().catch(() => {});
  running.clear();
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const plan = options.quick ? QUICK : FULL;
  const version = wrkVersion();
  if (!version)
    throw new Error("wrk is not installed: apt-get install -y wrk (the HTTP load generator the benchmarks use)");
  const dir = mkdtempSync(join(tmpdir(), "identity-broker-bench-"));
  const stops = { push: (...fns: Array<() => Promise<void>>) => fns.forEach((f) => running.add(f)) };
  try {
    const fixture = await startFixture(join(dir, "emulator"));
    stops.push(() => fixture.close());
    const origin = await startOrigin();
    stops.push(() => origin.close());

    log("starting the broker and the bench Workers in workerd; issuing subject tokens…");
    const benchVars = (resource: string) => ({
      BROKER_ISSUER: "https://broker.bench.example",
      ...entraVars(fixture.emulator),
      POLICY: policyOf(10, resource),
      BENCH_RESOURCE: resource,
    });
    const keys = brokerSigningKeys();
    // Each Worker is registered for stopping as soon as it is up, even if another fails to start.
    const up = (w: DevWorker) => (stops.push(() => w.stop()), w);
    const starting = Promise.allSettled([
      startBroker(fixture, join(dir, "broker"), origin.origin, "direct").then(up),
      startDirectWorker({
        name: "bench-cpu",
        main: "bench/workerd/index.ts",
        dir: join(dir, "cpu"),
        vars: benchVars(origin.origin),
        secrets: { BROKER_SIGNING_KEYS: keys },
        readyPath: "/ready",
      }).then(up),
      startDevWorker({
        name: "bench-memory",
        main: "bench/workerd/index.ts",
        dir: join(dir, "memory"),
        vars: benchVars(origin.origin),
        secrets: { BROKER_SIGNING_KEYS: keys },
        readyPath: "/ready",
        inspector: true,
      }).then(up),
      startPassThrough(join(dir, "pass-through"), origin.origin).then(up),
      startBroker(fixture, join(dir, "broker-wrangler"), origin.origin, "wrangler").then(up),
    ]);
    const tokens: string[] = [];
    for (let i = 0; i < plan.freshTokens; i++) tokens.push(await fixture.issueToken());
    const settled = await starting;
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    const [broker, cpuWorker, memoryWorker, passThrough, wranglerBroker] = settled.map(
      (s) => (s as PromiseFulfilledResult<DevWorker>).value,
    ) as [DevWorker, DevWorker, DevWorker, DevWorker, DevWorker];

    log(`1. HTTP load: wrk -t${plan.load.threads} -c${plan.load.connections} -d${plan.load.durationSeconds}s per case`);
    const load = await tokenLoad(broker, fixture, origin.origin, tokens, dir, plan.load);
    const forward = await forwardLoad(broker, passThrough, fixture, origin.origin, plan.load);

    log("4. signer: cached getToken over the unix socket, exchanges cached vs at the broker, assertion signing");
    const signer = await benchSigner(fixture, join(dir, "signer"), plan.signerCalls, plan.signerSignatures, {
      brokerUrl: broker.origin,
      resource: origin.origin,
      scope: SCOPE,
    });
    log("7. end to end: a Node client and origin, static API key vs signer + origin kit; 100 callers of the signer");
    const endToEnd = await benchEndToEnd(fixture, join(dir, "end-to-end"), broker.origin, origin, SCOPE, plan.endToEnd);
    await Promise.all([broker.stop(), passThrough.stop()]);
    log("1b. the same broker under wrangler dev (its proxy Worker in front), for comparison");
    const wranglerDev = await wranglerLoad(wranglerBroker, fixture, origin.origin, dir, plan.load);
    await wranglerBroker.stop(); // the CPU figures below get the machine to themselves

    log("1b. exchange throughput with revocations on vs off");
    const revocations = await revocationsLoad(
      fixture,
      join(dir, "revocations"),
      origin.origin,
      plan.load,
      options.quick,
    );

    log("2-3. CPU per operation inside workerd, policy scaling");
    await setupBenchWorker(cpuWorker, tokens);
    const cpu = await timeCases(cpuWorker, plan.cpu, tokens.length);
    await cpuWorker.stop();

    log(`3. memory after ${plan.memoryTokens.toLocaleString("en")} distinct subject tokens`);
    const memory = await measureMemory(memoryWorker, tokens, plan.memoryTokens);
    await memoryWorker.stop();

    log("5. bundle: wrangler deploy --dry-run");
    const bundle = bundleSize(join(dir, "bundle"));

    log("6. origin kit: verification per request in Node and in workerd");
    const originKit = await benchOriginKit(plan.originKit, join(dir, "origin-kit"));

    return {
      version: 1,
      date: new Date().toISOString(),
      quick: options.quick,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? "unknown",
        node: process.version,
        wrangler: packageVersion("wrangler"),
        workerd: packageVersion("workerd"),
        miniflare: packageVersion("miniflare"),
        jose: packageVersion("jose"),
        hono: packageVersion("hono"),
        wrk: version,
      },
      load: { ...load, settings: plan.load },
      forward,
      revocations,
      wranglerDev,
      cpu,
      memory,
      signer,
      endToEnd,
      bundle,
      originKit,
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await stopRunning();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureMemory(
  worker: DevWorker,
  tokens: readonly string[],
  count: number,
): Promise<BenchResult["memory"]> {
  await setupBenchWorker(worker, tokens.slice(0, 50));
  const heap = await connectHeapReader(worker.inspectorUrl!);
  try {
    const heapBeforeBytes = await heap.usedAfterGc();
    for (let offset = 0; offset < count; offset += MEMORY_CHUNK) {
      const n = Math.min(MEMORY_CHUNK, count - offset);
      const r = await fetch(`${worker.origin}/memory?offset=${offset}&n=${n}`);
      if (r.status !== 200) throw new Error(`memory fill failed: ${r.status} ${await r.text()}`);
    }
    const heapAfterBytes = await heap.usedAfterGc();
    return { distinctTokens: count, heapBeforeBytes, heapAfterBytes, isolateLimitBytes: 128 * 1024 * 1024 };
  } finally {
    heap.close();
  }
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version;
}
