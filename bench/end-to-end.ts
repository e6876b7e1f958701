import { createHash, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { requireBrokerToken } from "../origin/src/index.ts";
import { startChild } from "../dev/processes.ts";
import type { Fixture } from "./fixture.ts";
import type { BenchOrigin } from "./http-load.ts";
import { startBenchSigner } from "./signer.ts";
import type { Latencies } from "./signer.ts";

// Section 7: what a team weighs when it replaces a static API key with the broker. The same Node
// client calls the same Node origin, once with a static API key that the origin compares in
// constant time, once with a broker token: the client gets it from the signer's client library
// (a cached exchange over the daemon's unix socket) and the origin checks it with the origin kit
// (a verified-token cache hit after the first request). Plus the signer under 100 concurrent
// callers of a cached exchange.

const CLIENT = join(import.meta.dirname, "end-to-end-client.ts");
const STATIC_PATH = "/e2e/static";
const KIT_PATH = "/e2e/kit";
/** A client runs for seconds; a minute means it hung (the origin or the signer stopped answering). */
const CLIENT_TIMEOUT_MS = 60_000;

export interface EndToEndPlan {
  readonly seconds: number;
  readonly concurrency: number;
  /** Cached exchanges each of the 100 concurrent callers makes. */
  readonly callsPerCaller: number;
}

export interface EndToEndLoad {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface EndToEndResults {
  /** Baseline: static API key, constant-time comparison at the origin. */
  readonly staticKey: EndToEndLoad;
  readonly brokerToken: EndToEndLoad;
  /** 100 callers at once, each making `callsPerCaller` cached exchanges over the socket. */
  readonly concurrentExchange: Latencies & { readonly callers: number };
}

export async function benchEndToEnd(
  fixture: Fixture,
  dir: string,
  brokerUrl: string,
  origin: BenchOrigin,
  scope: string,
  plan: EndToEndPlan,
): Promise<EndToEndResults> {
  const apiKey = createHash("sha256").update(`bench-${Math.random()}`).digest("base64url");
  origin.route(STATIC_PATH, staticKeyHandler(apiKey));
  const kit = requireBrokerToken({ issuer: brokerUrl, audience: origin.origin, scopes: [scope] });
  origin.route(KIT_PATH, (req, res) => kit(req, res, () => respond(res)));

  const signer = await startBenchSigner(fixture, dir, brokerUrl);
  try {
    // Alternate the two, twice each, so that both see the same noise; the better run of each counts.
    const staticRuns: EndToEndLoad[] = [];
    const brokerRuns: EndToEndLoad[] = [];
    for (let i = 0; i < 2; i++) {
      staticRuns.push(
        await runClient(dir, [
          "static",
          `${origin.origin}${STATIC_PATH}`,
          String(plan.seconds),
          String(plan.concurrency),
          apiKey,
        ]),
      );
      brokerRuns.push(
        await runClient(dir, [
          "broker",
          `${origin.origin}${KIT_PATH}`,
          String(plan.seconds),
          String(plan.concurrency),
          signer.socketPath,
          origin.origin,
          scope,
        ]),
      );
    }
    const best = (runs: EndToEndLoad[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const concurrentExchange = await concurrentCallers(
      () => signer.client.exchange(origin.origin, scope),
      100,
      plan.callsPerCaller,
    );
    return { staticKey: best(staticRuns), brokerToken: best(brokerRuns), concurrentExchange };
  } finally {
    await signer.stop();
  }
}

/** The static-key check a careful team writes: hash both sides, compare in constant time. */
function staticKeyHandler(apiKey: string) {
  const expected = createHash("sha256").update(`Bearer ${apiKey}`).digest();
  return (req: { headers: { authorization?: string } }, res: Parameters<typeof respond>[0]) => {
    const given = createHash("sha256")
      .update(req.headers.authorization ?? "")
      .digest();
    if (!timingSafeEqual(given, expected)) {
      res.writeHead(401, { "www-authenticate": "Bearer" }).end();
      return;
    }
    respond(res);
  };
}

const BODY = JSON.stringify({ items: [{ id: 1, name: "widget" }] });

function respond(res: {
  writeHead(status: number, headers: Record<string, string | number>): { end(body?: string): void };
}) {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) }).end(BODY);
}

/** The client runs for its fixed duration and prints one JSON line: wait for its exit, then read it. */
async function runClient(dir: string, args: string[]): Promise<EndToEndLoad> {
  const child = startChild("e2e-client", process.execPath, [CLIENT, ...args], { cwd: dir });
  const timeout = setTimeout(() => void child.stop(), CLIENT_TIMEOUT_MS);
  try {
    const code = await child.exited;
    const line = child.output.find((l) => l.startsWith("{"));
    if (code !== 0 || !line)
      throw new Error(`the end-to-end client failed (exit ${code}):\n${child.output.join("\n")}`);
    return JSON.parse(line) as EndToEndLoad;
  } finally {
    clearTimeout(timeout);
    await child.stop();
  }
}

async function concurrentCallers(
  call: () => Promise<unknown>,
  callers: number,
  callsPerCaller: number,
): Promise<EndToEndResults["concurrentExchange"]> {
  await call(); // the daemon's cache holds the token before the clock starts
  const samples: number[] = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < callsPerCaller; i++) {
        const started = performance.now();
        await call();
        samples.push(performance.now() - started);
      }
    }),
  );
  samples.sort((a, b) => a - b);
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)]!;
  return { callers, calls: samples.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: samples[samples.length - 1]! };
}
