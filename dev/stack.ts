import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createCertificate } from "../signer/cert-create.ts";
import { createSignerClient, type SignerClient } from "../signer/client.ts";
import { startEmulator, type Emulator } from "../emulator/index.ts";
import { loadOrCreateBrokerKeys, rotateBrokerKeys, startBroker, type Broker, type BrokerKeys } from "./broker.ts";
import { loadOrCreateCiIssuer } from "./ci-oidc.ts";
import { freePort, startChild, waitUntil, type Child } from "./processes.ts";
import {
  BROKER_API_APP_ID,
  BROKER_APP_ID_URI,
  BROKER_SCOPE,
  IDENTITIES,
  IDENTITY_NAMES,
  ORIGIN_ROUTES,
  samplePolicy,
  sampleRoutes,
  sampleTenantFile,
  TENANT_ID,
  type IdentityName,
} from "./sample.ts";
import { startSampleOrigin, type SampleOrigin } from "./sample-origin.ts";

// The whole system on one machine, as separate processes on loopback: the Entra ID emulator
// (HTTPS, plus plain HTTP for workerd's key fetches), the broker under wrangler dev, one signer
// daemon per sample identity, and the sample origins. `npm start` and the end-to-end tests both
// run exactly this.

const REPO = resolve(import.meta.dirname, "..");
const SIGNER_BIN = join(REPO, "signer/bin/broker-signer.ts");
/** How often the stand-in CI platform hands its runner a fresh OIDC token (they are short-lived). */
const CI_TOKEN_REFRESH_MS = 5 * 60_000;

export interface StackPorts {
  emulatorHttps: number;
  emulatorHttp: number;
  broker: number;
  brokerInspector: number;
  inventory: number;
  deploy: number;
  agent: number;
}

export interface StackOptions {
  /** Generated on first run, reused after: certificates, keys, CA, configs. Never committed. */
  readonly stateDir: string;
  /** 0 = any free port. */
  readonly ports: Partial<StackPorts>;
  readonly log?: (line: string) => void;
  /** Aborting stops whatever has started so far, at once, and makes `startStack` reject. */
  readonly signal?: AbortSignal;
}

export interface SignerHandle {
  readonly configFile: string;
  readonly socketPath: string;
  readonly client: SignerClient;
  readonly child: Child;
}

export interface Stack {
  readonly stateDir: string;
  readonly emulator: Emulator;
  broker: Broker;
  readonly origins: { readonly inventory: SampleOrigin; readonly deploy: SampleOrigin; readonly agent: SampleOrigin };
  readonly signers: Record<IdentityName, SignerHandle>;
  readonly ciTokenFile: string;
  /** Restarts the broker with its next key signing and the current one still published. */
  rotateBrokerKeys(): Promise<void>;
  /** Restarts the broker as it is (its local state, revocations included, persists). */
  restartBroker(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => {});
  const dir = resolve(options.stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const signal = options.signal ?? new AbortController().signal;
  const stoppers: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const s of stoppers.reverse()) await s().catch(() => {});
      stoppers.length = 0;
    })());
  // Whatever starts after a stop began (an await that was in flight) is stopped as it arrives.
  const track = async (stopper: () => Promise<void>) => {
    if (stopping === undefined) return void stoppers.push(stopper);
    await stopper().catch(() => {});
    signal.throwIfAborted();
    throw new Error("the stack was stopped while it was starting");
  };
  signal.addEventListener("abort", () => void stop(), { once: true });

  try {
    // Credentials of the sample identities: certificates made with the signer's own `cert create`.
    const certificates: Partial<Record<IdentityName, string>> = {};
    for (const identity of Object.values(IDENTITIES)) {
      signal.throwIfAborted();
      const home = join(dir, identity.name);
      mkdirSync(home, { recursive: true, mode: 0o700 });
      if (identity.credential !== "certificate") continue;
      const keyFile = join(home, "key.pem");
      const certFile = join(home, "cert.pem");
      if (!existsSync(keyFile)) await createCertificate({ keyFile, certFile, subject: `CN=${identity.name}` });
      certificates[identity.name] = (await import("node:fs")).readFileSync(certFile, "utf8");
    }
    const ci = loadOrCreateCiIssuer(join(dir, "ci", "oidc-issuer-key.pem"));
    const ciTokenFile = join(dir, "ci", "oidc-token.jwt");
    await ci.writeToken(ciTokenFile);
    const refresh = setInterval(() => void ci.writeToken(ciTokenFile), CI_TOKEN_REFRESH_MS);
    refresh.unref();
    await track(async () => clearInterval(refresh));

    const emulator = await startEmulator({
      tenants: sampleTenantFile({ certificates, ciIssuerJwks: ci.jwks }),
      httpsPort: options.ports.emulatorHttps ?? 0,
      httpPort: options.ports.emulatorHttp ?? 0,
      stateDir: join(dir, "emulator"),
    });
    await track(() => emulator.close());
    log(`emulator  ${emulator.httpsOrigin} (CA ${emulator.caCertPath}); keys also on ${emulator.httpOrigin}`);

    const brokerPort = options.ports.broker || (await freePort());
    const brokerIssuer = `http://127.0.0.1:${brokerPort}`;
    const inventory = await startSampleOrigin({
      name: "inventory",
      port: options.ports.inventory ?? 0,
      brokerIssuer,
      routes: ORIGIN_ROUTES.inventory,
      names: IDENTITY_NAMES,
      log,
    });
    await track(() => inventory.close());
    const deploy = await startSampleOrigin({
      name: "deploy",
      port: options.ports.deploy ?? 0,
      brokerIssuer,
      routes: ORIGIN_ROUTES.deploy,
      log,
    });
    await track(() => deploy.close());
    // The agent's endpoint: a caller's token for it is carried on to the inventory (RFC 8693
    // delegation) through the agent's own signer, which is started below.
    let agentSigner: SignerClient | undefined;
    const agent = await startSampleOrigin({
      name: "agent",
      port: options.ports.agent ?? 0,
      brokerIssuer,
      routes: ORIGIN_ROUTES.agent,
      names: IDENTITY_NAMES,
      handlers: {
        "GET /inventory": async (_token, callerToken) => {
          if (!agentSigner) throw new Error("the agent's signer is not running yet");
          const response = await agentSigner.fetch(
            `${inventory.origin}/items`,
            {},
            { scope: "inventory.read", subjectToken: callerToken },
          );
          if (!response.ok) throw new Error(`the inventory answered ${response.status}`);
          return { inventory: await response.json() };
        },
      },
      log,
    });
    await track(() => agent.close());
    const origins = { inventory: inventory.origin, deploy: deploy.origin, agent: agent.origin };

    const keysFile = join(dir, "broker-signing-keys.json");
    let keys: BrokerKeys = loadOrCreateBrokerKeys(keysFile);
    const brokerDir = join(dir, "broker");
    mkdirSync(brokerDir, { recursive: true, mode: 0o700 });
    const inspectorPort = options.ports.brokerInspector || (await freePort());
    const brokerOptions = {
      dir: brokerDir,
      port: brokerPort,
      inspectorPort,
      keys,
      vars: {
        ENTRA_AUTHORITY_HOST: emulator.httpsOrigin,
        ENTRA_V1_ISSUER_HOST: emulator.v1IssuerHost,
        ENTRA_JWKS_ORIGIN: emulator.httpOrigin,
        ENTRA_TENANT_IDS: TENANT_ID,
        ENTRA_AUDIENCES: `${BROKER_APP_ID_URI},${BROKER_API_APP_ID}`,
        POLICY: samplePolicy(origins),
        ROUTES: sampleRoutes(origins),
      },
      onLine: (line: string) => log(`[broker] ${line}`),
      // Known as soon as it is spawned, so that a stop during wrangler's long start-up reaches it.
      onStart: (child: Child) => (brokerChild = child),
    };
    let brokerChild: Child | undefined;
    await track(async () => brokerChild?.stop());
    let broker = await startBroker(brokerOptions);
    log(`broker    ${broker.origin}`);

    const signers = {} as Record<IdentityName, SignerHandle>;
    for (const identity of Object.values(IDENTITIES)) {
      const home = join(dir, identity.name);
      const configFile = join(home, "signer.json");
      const socketPath = join(home, "run", "signer.sock");
      const config = {
        tenantId: TENANT_ID,
        clientId: identity.appId,
        authorityHost: emulator.httpsOrigin,
        caFile: emulator.caCertPath,
        brokerUrl: broker.origin,
        brokerScope: BROKER_SCOPE,
        socketPath,
        ...(identity.credential === "certificate"
          ? { certificates: [{ keyFile: "key.pem", certFile: "cert.pem" }] }
          : { federatedTokenFile: ciTokenFile }),
      };
      writeFileSync(configFile, JSON.stringify(config, null, 2) + "\n");
      signal.throwIfAborted();
      const child = startChild(
        `signer:${identity.name}`,
        process.execPath,
        [SIGNER_BIN, "serve", "--config", configFile],
        {
          cwd: home,
          onLine: (line) => log(`[signer:${identity.name}] ${line}`),
        },
      );
      await track(() => child.stop());
      const client = createSignerClient(socketPath);
      await waitUntil(
        `the ${identity.name} signer's socket`,
        async () => (await client.health()).status === "ok",
        30_000,
        child,
      );
      signers[identity.name] = { configFile, socketPath, client, child };
    }
    agentSigner = signers.agent.client;

    const stack: Stack = {
      stateDir: dir,
      emulator,
      broker,
      origins: { inventory, deploy, agent },
      signers,
      ciTokenFile,
      async rotateBrokerKeys() {
        keys = rotateBrokerKeys(keys);
        writeFileSync(keysFile, JSON.stringify(keys, null, 2), { mode: 0o600 });
        await broker.stop();
        broker = await startBroker({ ...brokerOptions, keys });
        stack.broker = broker;
      },
      async restartBroker() {
        await broker.stop();
        broker = await startBroker({ ...brokerOptions, keys });
        stack.broker = broker;
      },
      stop,
    };
    return stack;
  } catch (e) {
    await stop();
    throw e;
  }
}
