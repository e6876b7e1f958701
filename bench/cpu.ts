import { cpuNanos, descendantsNamed } from "./proc-cpu.ts";
import type { DevWorker } from "./wrangler.ts";

// Sections 2 and 3 (decision cost): per-operation CPU inside workerd, timed by the bench Worker
// (bench/workerd/index.ts) in batches. Cases are interleaved round by round, so that a burst of
// noise on the shared machine hits every case alike, and each figure is the median round.

export interface CaseTiming {
  /** Median over rounds of workerd's CPU time per operation (all its threads), in microseconds. */
  readonly cpuUs: number;
  /** Median over rounds of the wall time per operation inside the isolate, in microseconds. */
  readonly wallUs: number;
  readonly n: number;
  readonly rounds: number;
  /** Every round's CPU µs per operation, in the order measured: the raw samples behind the median. */
  readonly cpuSamplesUs: readonly number[];
}

export interface CpuPlan {
  /** Iterations per batch, per case. */
  readonly batch: Record<string, number>;
  readonly rounds: number;
}

export async function setupBenchWorker(worker: DevWorker, tokens: readonly string[]): Promise<void> {
  const r = await fetch(`${worker.origin}/setup`, { method: "POST", body: JSON.stringify({ tokens }) });
  if (r.status !== 200) throw new Error(`bench worker setup failed: ${r.status} ${await r.text()}`);
}

/**
 * Runs the plan. The `exchange-fresh*` cases get token indexes no other batch used (the broker may cache
 * verification results per token; a fresh token must be one it has never seen), starting after
 * the warm-up's; `tokenCount` bounds them.
 */
export async function timeCases(
  worker: DevWorker,
  plan: CpuPlan,
  tokenCount: number,
): Promise<Record<string, CaseTiming>> {
  const samples: Record<string, { cpu: number[]; wall: number[] }> = {};
  const workerd = descendantsNamed(worker.child.process.pid!, "workerd");
  if (workerd.length === 0) throw new Error("cannot find the workerd processes of the bench Worker");
  let freshOffset = 20; // the bench Worker's warm-up used tokens 0-19
  for (let round = 0; round < plan.rounds; round++) {
    for (const [name, n] of Object.entries(plan.batch)) {
      let offset = 0;
      if (name.startsWith("exchange-fresh")) {
        if (freshOffset + n > tokenCount)
          throw new Error(`exchange-fresh needs ${freshOffset + n} distinct tokens, have ${tokenCount}`);
        offset = freshOffset;
        freshOffset += n;
      }
      const cpuBefore = cpuNanos(workerd);
      const r = await fetch(`${worker.origin}/run?case=${encodeURIComponent(name)}&n=${n}&offset=${offset}`);
      if (r.status !== 200) throw new Error(`bench case ${name} failed: ${r.status} ${await r.text()}`);
      const { elapsedMs } = (await r.json()) as { elapsedMs: number };
      const cpu = cpuNanos(workerd) - cpuBefore;
      const s = (samples[name] ??= { cpu: [], wall: [] });
      s.cpu.push(cpu / 1000 / n);
      s.wall.push((elapsedMs * 1000) / n);
    }
  }
  const out: Record<string, CaseTiming> = {};
  for (const [name, s] of Object.entries(samples)) {
    out[name] = {
      cpuUs: median(s.cpu),
      wallUs: median(s.wall),
      n: plan.batch[name]!,
      rounds: plan.rounds,
      cpuSamplesUs: s.cpu,
    };
  }
  return out;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
