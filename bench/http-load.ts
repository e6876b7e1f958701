import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { freePort } from "../dev/processes.ts";
import { entraVars, exchangeForm, type Fixture } from "./fixture.ts";
import { policyOf, SCOPE } from "./policy-shape.ts";
import { startDirectWorker } from "./direct-worker.ts";
import { startDevWorker, type DevWorker } from "./wrangler.ts";
import { runWrk, type LoadResult, type LoadSettings } from "./wrk.ts";

// Section 1: the broker under HTTP load in workerd, each case as a ratio to a baseline measured
// under the same load in the same run: POST /token against GET /healthz of the same Worker.

export interface BrokerUnderLoad {
  readonly worker: DevWorker;
  readonly resource: string;
}

/** One ES256 broker key, as `wrangler secret put BROKER_SIGNING_KEYS` would hold it. */
export function brokerSigningKeys(): string {
  const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  return JSON.stringify({ keys: [{ ...key, kid: "bench-1" }] });
}

/** Forward mode: /orders/* on the broker goes to the bench origin, GET needs the bench scope. */
export const FORWARD_PREFIX = "/orders";

export function forwardRoutes(origin: string): { routes: object[] } {
  return {
    routes: [
      { name: "orders", match: { pathPrefix: FORWARD_PREFIX }, origin, stripPrefix: true, scopes: { GET: [SCOPE] } },
    ],
  };
}

/**
 * The downstream origin: a small JSON answer, as fast as Node serves one. It does not verify the
 * broker's token: the figure is what the broker adds in front of an origin, not the origin's work.
 */
export interface BenchOrigin {
  readonly origin: string;
  /** Serves `path` with `handler` from now on (the end-to-end case adds its authenticated routes). */
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

export async function startOrigin(): Promise<BenchOrigin> {
  const body = JSON.stringify({ items: [{ id: 1, name: "widget" }] });
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const server = createServer((req, res) => {
    const handler = routes.get(req.url ?? "");
    if (handler) return handler(req, res);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    route: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The broker Worker with the bench policy and forward route. `direct`: the production-like host
 * (the deploy bundle in workerd, a socket straight into the Worker); `wrangler`: under wrangler's
 * dev server (its proxy Worker in front), the setup `npm start` uses.
 */
export async function startBroker(
  fixture: Fixture,
  dir: string,
  resource: string,
  host: "direct" | "wrangler",
  extraVars: Record<string, unknown> = {},
): Promise<DevWorker> {
  const port = await freePort();
  const options = {
    name: "identity-broker-bench",
    main: "worker/index.ts",
    dir,
    port,
    vars: {
      BROKER_ISSUER: `http://127.0.0.1:${port}`,
      ...entraVars(fixture.emulator),
      POLICY: policyOf(10, resource),
      ROUTES: forwardRoutes(resource),
      ...extraVars,
    },
    secrets: { BROKER_SIGNING_KEYS: brokerSigningKeys() },
    readyPath: "/healthz",
  };
  return host === "direct" ? startDirectWorker(options) : startDevWorker({ ...options, inspector: false });
}

/** Forward mode's floor: a Worker that only fetches the origin, in the same production-like host. */
export async function startPassThrough(dir: string, origin: string): Promise<DevWorker> {
  return startDirectWorker({
    name: "pass-through-bench",
    main: "bench/workerd/pass-through.ts",
    dir,
    vars: { ORIGIN: origin, PREFIX: FORWARD_PREFIX },
    secrets: {},
    readyPath: "/healthz",
  });
}

export interface TokenLoadResults {
  readonly trivial: LoadResult;
  readonly repeated: LoadResult;
  readonly fresh: LoadResult & { readonly distinctTokens: number };
  /** The broker's console lines over the two exchange runs, per exchange answered: its audit log. */
  readonly auditLinesPerExchange: number;
}

export async function tokenLoad(
  broker: DevWorker,
  fixture: Fixture,
  resource: string,
  freshTokens: readonly string[],
  dir: string,
  settings: LoadSettings,
): Promise<TokenLoadResults> {
  const sameFile = join(dir, "same-token.form");
  writeFileSync(sameFile, `${exchangeForm(await fixture.issueToken(), resource)}\n`);
  const eachFile = join(dir, "fresh-tokens.form");
  writeFileSync(eachFile, `${freshTokens.map((t) => exchangeForm(t, resource)).join("\n")}\n`);

  // One short run first: workerd compiles, the JWKS is fetched, caches warm; not counted.
  await runWrk(
    `${broker.origin}/token`,
    { kind: "post-same", bodyFile: sameFile },
    { ...settings, durationSeconds: 1 },
  );
  const trivial = await runWrk(`${broker.origin}/healthz`, { kind: "get" }, settings);
  const linesBefore = await broker.logLines();
  const repeated = await runWrk(`${broker.origin}/token`, { kind: "post-same", bodyFile: sameFile }, settings);
  const fresh = await runWrk(`${broker.origin}/token`, { kind: "post-each", bodyFile: eachFile }, settings);
  await new Promise((r) => setTimeout(r, 500)); // the last log lines are still in the pipe
  const auditLines = (await broker.logLines()) - linesBefore;
  return {
    trivial,
    repeated,
    fresh: { ...fresh, distinctTokens: freshTokens.length },
    auditLinesPerExchange: auditLines / (repeated.requests + fresh.requests),
  };
}

export interface WranglerLoadResults {
  readonly trivial: LoadResult;
  readonly repeated: LoadResult;
}

/** The trivial route and the repeated-token exchange only: enough to show what the dev proxy costs. */
export async function wranglerLoad(
  broker: DevWorker,
  fixture: Fixture,
  resource: string,
  dir: string,
  settings: LoadSettings,
): Promise<WranglerLoadResults> {
  const sameFile = join(dir, "same-token-wrangler.form");
  writeFileSync(sameFile, `${exchangeForm(await fixture.issueToken(), resource)}\n`);
  await runWrk(
    `${broker.origin}/token`,
    { kind: "post-same", bodyFile: sameFile },
    { ...settings, durationSeconds: 1 },
  );
  const trivial = await runWrk(`${broker.origin}/healthz`, { kind: "get" }, settings);
  const repeated = await runWrk(`${broker.origin}/token`, { kind: "post-same", bodyFile: sameFile }, settings);
  return { trivial, repeated };
}

export interface ForwardLoadResults {
  readonly direct: LoadResult;
  /** The same GET through a Worker that only fetches the origin: forward mode's floor. */
  readonly passThrough: LoadResult;
  readonly forwarded: LoadResult;
}

/** GET through the broker (same Entra token each time, as a service sends it) vs GET on the origin. */
export async function forwardLoad(
  broker: DevWorker,
  passThrough: DevWorker,
  fixture: Fixture,
  origin: string,
  settings: LoadSettings,
): Promise<ForwardLoadResults> {
  const authorization = `Bearer ${await fixture.issueToken()}`;
  const via = `${broker.origin}${FORWARD_PREFIX}/items`;
  const check = await fetch(via, { headers: { authorization } });
  if (check.status !== 200) throw new Error(`forward mode answered ${check.status}: ${await check.text()}`);
  await runWrk(via, { kind: "get", authorization }, { ...settings, durationSeconds: 1 }); // warm-up, not counted
  const viaPassThrough = `${passThrough.origin}${FORWARD_PREFIX}/items`;
  await runWrk(viaPassThrough, { kind: "get" }, { ...settings, durationSeconds: 1 }); // warm-up
  const direct = await runWrk(`${origin}/items`, { kind: "get" }, settings);
  const passThroughLoad = await runWrk(viaPassThrough, { kind: "get" }, settings);
  const forwarded = await runWrk(via, { kind: "get", authorization }, settings);
  return { direct, passThrough: passThroughLoad, forwarded };
}
