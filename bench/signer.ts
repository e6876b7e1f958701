import { constants, sign, webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { signAssertion } from "../signer/assertion.ts";
import { createSignerClient, type SignerClient } from "../signer/client.ts";
import { loadCertificateCredential } from "../signer/credential.ts";
import { exchangeToken } from "../signer/exchange.ts";
import { createHttpClient } from "../signer/network.ts";
import { startChild, waitUntil } from "../dev/processes.ts";
import { median } from "./cpu.ts";
import { BROKER_APP_ID_URI, CLIENT_APP_ID, TENANT_ID, type Fixture } from "./fixture.ts";

// Section 4: the signer. A cached getToken is what a service pays on every call to the broker
// (over the daemon's unix socket); assertion signing is what it pays per token request to Entra ID.

const SIGNER_BIN = resolve(import.meta.dirname, "../signer/bin/broker-signer.ts");

export interface Latencies {
  readonly calls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Where the daemon exchanges: the real broker in workerd, granting the bench client `resource`. */
export interface ExchangeTarget {
  readonly brokerUrl: string;
  readonly resource: string;
  readonly scope: string;
}

export interface SignerResults {
  /**
   * POST /exchange over the socket for one (resource, scope), served from the daemon's cache,
   * against one broker round trip per call (what every call cost without the cache).
   */
  readonly exchange: {
    readonly cached: Latencies;
    readonly uncached: Latencies;
    /** Exchanges the broker performed for `cached.calls` daemon calls. */
    readonly brokerExchanges: number;
  };
  readonly cachedGetToken: Latencies;
  /** GET /health on the same socket: the baseline a cached getToken is compared with. */
  readonly socketRoundTrip: Latencies;
  readonly assertion: {
    readonly signaturesPerSecond: number;
    /** Bare PS256 through Web Crypto, the primitive jose uses: the baseline of `ratio`. */
    readonly rawSignaturesPerSecond: number;
    /** Bare PS256 through node:crypto, for reference. */
    readonly nodeCryptoSignaturesPerSecond: number;
    readonly ratio: number;
  };
}

export interface BenchSignerDaemon {
  readonly client: SignerClient;
  readonly socketPath: string;
  /** The broker scope its Entra tokens are for. */
  readonly scope: string;
  readonly keyFile: string;
  readonly certFile: string;
  stop(): Promise<void>;
}

/** `broker-signer serve` for the bench client's certificate, exchanging at `brokerUrl`, ready to answer. */
export async function startBenchSigner(fixture: Fixture, dir: string, brokerUrl: string): Promise<BenchSignerDaemon> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  writeFileSync(keyFile, fixture.clientCertificate.keyPem, { mode: 0o600 });
  writeFileSync(certFile, fixture.clientCertificate.certPem);
  const socketPath = join(dir, "run", "signer.sock");
  const configFile = join(dir, "signer.json");
  const scope = `${BROKER_APP_ID_URI}/.default`;
  writeFileSync(
    configFile,
    JSON.stringify({
      tenantId: TENANT_ID,
      clientId: CLIENT_APP_ID,
      authorityHost: fixture.emulator.httpsOrigin,
      caFile: fixture.emulator.caCertPath,
      brokerScope: scope,
      brokerUrl,
      socketPath,
      certificates: [{ keyFile, certFile }],
    }),
  );
  const daemon = startChild("signer", process.execPath, [SIGNER_BIN, "serve", "--config", configFile], { cwd: dir });
  const client = createSignerClient(socketPath);
  try {
    await waitUntil("the signer's socket", async () => (await client.health()).status === "ok", 30_000, daemon);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return { client, socketPath, scope, keyFile, certFile, stop: () => daemon.stop() };
}

export async function benchSigner(
  fixture: Fixture,
  dir: string,
  calls: number,
  signatures: number,
  target: ExchangeTarget,
): Promise<SignerResults> {
  const { client, scope, keyFile, certFile, stop } = await startBenchSigner(fixture, dir, target.brokerUrl);
  try {
    await client.getToken(scope); // the one real token request; every call after it is a cache hit
    for (let i = 0; i < 50; i++) await client.getToken(scope); // JIT and connection paths warm
    const latencies: number[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      await client.getToken(scope);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    // The same socket, HTTP and JSON round trip without a token: the transport's own share.
    const transport: number[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      await client.health();
      transport.push(performance.now() - started);
    }
    transport.sort((a, b) => a - b);
    const cachedGetToken = {
      calls,
      p50Ms: median(latencies),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies[latencies.length - 1]!,
    };
    const socketRoundTrip = {
      calls,
      p50Ms: median(transport),
      p99Ms: percentile(transport, 0.99),
      maxMs: transport[transport.length - 1]!,
    };
    const exchange = await exchangeLatencies(client, (await client.getToken(scope)).access_token, target, calls);
    return {
      cachedGetToken,
      socketRoundTrip,
      exchange,
      assertion: await signingRates(keyFile, certFile, signatures),
    };
  } finally {
    await stop();
  }
}

/**
 * The signer's assertion (template, claims, jose's encoding, PS256) against bare PS256 signatures of
 * the same bytes with the same key: through Web Crypto (what jose calls underneath) and node:crypto.
 */
async function signingRates(
  keyFile: string,
  certFile: string,
  signatures: number,
): Promise<SignerResults["assertion"]> {
  const credential = loadCertificateCredential({ kind: "pem", keyFile, certFile });
  const endpoint = `https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token`;
  const input = Buffer.from(
    (await signAssertion(CLIENT_APP_ID, endpoint, credential, Date.now())).jwt.split(".").slice(0, 2).join("."),
  );
  const cryptoKey = await webcrypto.subtle.importKey(
    "pkcs8",
    credential.privateKey.export({ format: "der", type: "pkcs8" }),
    { name: "RSA-PSS", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const raw = async () => {
    await webcrypto.subtle.sign({ name: "RSA-PSS", saltLength: 32 }, cryptoKey, input);
  };
  const nodeRaw = async () => {
    sign("sha256", input, { key: credential.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  };
  const assertion = async () => {
    await signAssertion(CLIENT_APP_ID, endpoint, credential, Date.now());
  };
  // Alternate short batches so that all see the same machine noise; the median batch counts.
  const rawRates: number[] = [];
  const nodeRates: number[] = [];
  const assertionRates: number[] = [];
  const batch = Math.max(1, Math.floor(signatures / 10));
  for (let i = 0; i < 20; i++) {
    for (const [fn, rates] of [
      [raw, rawRates],
      [nodeRaw, nodeRates],
      [assertion, assertionRates],
    ] as const) {
      const started = performance.now();
      for (let j = 0; j < batch; j++) await fn();
      rates.push(batch / ((performance.now() - started) / 1000));
    }
  }
  const rawSignaturesPerSecond = median(rawRates);
  const signaturesPerSecond = median(assertionRates);
  return {
    signaturesPerSecond,
    rawSignaturesPerSecond,
    nodeCryptoSignaturesPerSecond: median(nodeRates),
    ratio: signaturesPerSecond / rawSignaturesPerSecond,
  };
}

async function exchangeLatencies(
  client: ReturnType<typeof createSignerClient>,
  entraToken: string,
  target: ExchangeTarget,
  calls: number,
): Promise<SignerResults["exchange"]> {
  const exchanges = async () => (await client.health()).stats.exchanges ?? 0;
  const before = await exchanges();
  const cached = await timed(calls, () => client.exchange(target.resource, target.scope));
  const brokerExchanges = (await exchanges()) - before;
  // Without the cache every call is a broker round trip (the broker's own verification cache makes
  // each one cheap already: a SHA-256 and a signature, not RSA + claim checks).
  const http = createHttpClient(undefined);
  const uncached = await timed(calls, () =>
    exchangeToken(http, target.brokerUrl, entraToken, target.resource, target.scope),
  );
  return { cached, uncached, brokerExchanges };
}

async function timed(calls: number, fn: () => Promise<unknown>): Promise<Latencies> {
  for (let i = 0; i < Math.min(50, calls); i++) await fn(); // warm
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { calls, p50Ms: median(samples), p99Ms: percentile(samples, 0.99), maxMs: samples[samples.length - 1]! };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
