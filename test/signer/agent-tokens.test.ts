// Delegation and DPoP from the signer's side: the daemon over its socket (exchange with a
// subject_token, POST /dpop, the client library's fetch) and the CLI as a user runs it
// (--subject-token-file, --dpop with a key file, `broker-signer dpop`). Entra ID is the emulator over
// HTTPS; the broker is the test double, whose DPoP check is the broker's own code (worker/dpop.ts).
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createSignerClient, type SignerClient } from "../../signer/client.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService } from "../../signer/service.ts";
import { startSocketServer, type SocketServer } from "../../signer/socket-server.ts";
import { createDpopReplayCache, verifyDpopProof } from "../../worker/dpop.ts";
import { startBrokerDouble, type BrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  CLIENT,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  rejectedSignerError,
  signerEnv,
  startEntra,
  tempDir,
  tenantFile,
  type CertOnDisk,
} from "./support/fixtures.ts";

const ORIGIN_RESOURCE = "https://orders.example.com";
/** A broker token as the signer's caller would have sent it: the signer only checks its shape. */
const T1 = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJl";
const BIN = resolve(import.meta.dirname, "../../signer/bin/broker-signer.ts");

const log = captureLog();
let dir: string;
let emu: Emulator;
let broker: BrokerDouble;
let cert: CertOnDisk;
let server: SocketServer;
let plainServer: SocketServer;
let client: SignerClient;

function service(extra: Record<string, string> = {}) {
  return createSignerService(
    configFor(emu, {
      BROKER_SIGNER_KEY_FILE: cert.keyFile,
      BROKER_SIGNER_CERT_FILE: cert.certFile,
      BROKER_SIGNER_BROKER_URL: broker.url,
      ...extra,
    }),
    { log: createLogger(log.write, "debug") },
  );
}

beforeAll(async () => {
  dir = tempDir();
  cert = await certOnDisk(dir, "agent");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
  broker = await startBrokerDouble({ allowedResources: [ORIGIN_RESOURCE], expectedAudience: BROKER_APP });
  server = await startSocketServer({
    socketPath: join(dir, "run", "dpop.sock"),
    service: service({ BROKER_SIGNER_DPOP: "true" }),
    log: createLogger(log.write, "debug"),
  });
  plainServer = await startSocketServer({
    socketPath: join(dir, "run", "plain.sock"),
    service: service(),
    log: createLogger(log.write, "debug"),
  });
  client = createSignerClient(server.socketPath);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await plainServer?.close();
  await broker?.close();
  await emu?.close();
  expect(log.lines.join("")).not.toContain(T1);
  cleanupTempDirs();
});

describe("the daemon: delegation", () => {
  it("exchanges a received broker token as the subject, with its own Entra token as the actor", async () => {
    const plain = createSignerClient(plainServer.socketPath);
    const out = await plain.exchange(ORIGIN_RESOURCE, "orders.read", { subjectToken: T1 });
    expect(out.token_type).toBe("Bearer");
    const form = broker.requests.at(-1)!;
    expect(form.get("subject_token")).toBe(T1);
    expect(form.get("actor_token_type")).toBe("urn:ietf:params:oauth:token-type:access_token");
    expect(decodeJwt(form.get("actor_token")!)).toMatchObject({ aud: BROKER_APP, azp: CLIENT });
    expect(broker.proofs.at(-1)).toBeUndefined();
  });

  it("refuses a subject_token that is not a JWT before calling the broker", async () => {
    const before = broker.requests.length;
    const e = await rejectedSignerError(client.exchange(ORIGIN_RESOURCE, undefined, { subjectToken: "not a token" }));
    expect(e.code).toBe("ERR_REQUEST");
    expect(e.message).toMatch(/subject_token: not a broker token/);
    expect(broker.requests.length).toBe(before);
  });
});

describe("the daemon: DPoP", () => {
  it("binds its exchanges with a proof the broker's verifier accepts, one key for every exchange", async () => {
    const first = await client.exchange(ORIGIN_RESOURCE);
    expect(first.token_type).toBe("DPoP");
    const firstProof = broker.proofs.at(-1);
    await client.exchange(ORIGIN_RESOURCE, undefined, { subjectToken: T1 });
    const secondProof = broker.proofs.at(-1);
    expect(firstProof).toMatchObject({ jkt: expect.any(String) });
    expect(secondProof).toMatchObject({ jkt: (firstProof as { jkt: string }).jkt });
  });

  it("POST /dpop makes a proof for the cached bound token of the URL's origin (ath, htm, htu)", async () => {
    const out = await client.exchange(ORIGIN_RESOURCE);
    const url = `${ORIGIN_RESOURCE}/orders/42?expand=lines`;
    const { proof, jkt } = await client.dpop("PATCH", url);
    const checked = await verifyDpopProof(
      proof,
      { method: "PATCH", url, accessToken: out.access_token, clockSkewSeconds: 5 },
      createDpopReplayCache(),
      Math.floor(Date.now() / 1000),
    );
    expect(checked).toEqual({ ok: true, value: { jkt, jti: expect.any(String) } });
    const header = decodeProtectedHeader(proof);
    expect(header.jwk).not.toHaveProperty("d");
    expect(await calculateJwkThumbprint(header.jwk as JWK)).toBe(jkt);
    expect(decodeJwt(proof).htu).toBe(`${ORIGIN_RESOURCE}/orders/42`);
  });

  it("POST /dpop refuses an origin it holds no bound token for, and a daemon without DPoP", async () => {
    const none = await rejectedSignerError(client.dpop("GET", "https://elsewhere.example.com/x"));
    expect(none.code).toBe("ERR_REQUEST");
    expect(none.message).toMatch(/no DPoP-bound token for https:\/\/elsewhere.example.com/);
    const off = await rejectedSignerError(
      createSignerClient(plainServer.socketPath).dpop("GET", `${ORIGIN_RESOURCE}/`),
    );
    expect(off.message).toMatch(/DPoP is not enabled for this identity/);
    const bad = await rejectedSignerError(client.dpop("GET\r\nX", `${ORIGIN_RESOURCE}/`));
    expect(bad.code).toBe("ERR_REQUEST");
  });

  it("the client library's fetch sends Authorization: DPoP and a proof the origin accepts", async () => {
    const seen: Array<{ authorization?: string; dpop?: string; ok: boolean }> = [];
    const replay = createDpopReplayCache();
    const origin: Server = createServer(async (req, res) => {
      const authorization = req.headers.authorization;
      const dpop = req.headers.dpop as string | undefined;
      const token = authorization?.startsWith("DPoP ") ? authorization.slice(5) : undefined;
      const checked =
        token && dpop
          ? await verifyDpopProof(
              dpop,
              {
                method: req.method!,
                url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}${req.url}`,
                accessToken: token,
                clockSkewSeconds: 5,
              },
              replay,
              Math.floor(Date.now() / 1000),
            )
          : { ok: false };
      seen.push({ ...(authorization && { authorization }), ...(dpop && { dpop }), ok: checked.ok });
      res.writeHead(checked.ok ? 200 : 401).end();
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const local = await startBrokerDouble({ allowedResources: [base], expectedAudience: BROKER_APP });
    const daemon = await startSocketServer({
      socketPath: join(dir, "run", "fetch.sock"),
      service: createSignerService(
        configFor(emu, {
          BROKER_SIGNER_KEY_FILE: cert.keyFile,
          BROKER_SIGNER_CERT_FILE: cert.certFile,
          BROKER_SIGNER_BROKER_URL: local.url,
          BROKER_SIGNER_DPOP: "true",
        }),
      ),
      log: createLogger(log.write, "debug"),
    });
    try {
      const fetcher = createSignerClient(daemon.socketPath);
      const first = await fetcher.fetch(`${base}/items?page=2`, { method: "post", body: "{}" });
      const second = await fetcher.fetch(`${base}/items`);
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(seen.map((s) => s.ok)).toEqual([true, true]);
      expect(seen[0]!.authorization).toMatch(/^DPoP downstream\./);
      expect(seen[0]!.dpop).not.toBe(seen[1]!.dpop);
    } finally {
      await daemon.close();
      await local.close();
      await new Promise((r) => origin.close(r));
    }
  });
});

type Run = { code: number | null; stdout: string; stderr: string };

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BIN, args, {
      cwd: dir,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe("the CLI", () => {
  const env = () =>
    signerEnv(emu, {
      BROKER_SIGNER_KEY_FILE: cert.keyFile,
      BROKER_SIGNER_CERT_FILE: cert.certFile,
      BROKER_SIGNER_BROKER_URL: broker.url,
    });

  it("exchange --subject-token-file acts on the caller's behalf with the signer's identity", async () => {
    const file = join(dir, "t1");
    writeFileSync(file, `${T1}\n`);
    const run = await cli(["exchange", "--resource", ORIGIN_RESOURCE, "--subject-token-file", file], env());
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const form = broker.requests.at(-1)!;
    expect(form.get("subject_token")).toBe(T1);
    expect(decodeJwt(form.get("actor_token")!).azp).toBe(CLIENT);
    const missing = await cli(["exchange", "--resource", ORIGIN_RESOURCE, "--subject-token-file", "nope"], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--subject-token-file .*nope: cannot be read \(ENOENT\)/);
  });

  it("--dpop binds with a key file made on first use (0600) and kept; `dpop` makes proofs with it", async () => {
    const keyFile = join(dir, "dpop-key.json");
    const dpopEnv = { ...env(), BROKER_SIGNER_DPOP_KEY_FILE: keyFile };
    const first = await cli(["exchange", "--resource", ORIGIN_RESOURCE, "--dpop", "--json"], dpopEnv);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ token_type: "DPoP" });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const jkt = (broker.proofs.at(-1) as { jkt: string }).jkt;
    const second = await cli(["exchange", "--resource", ORIGIN_RESOURCE, "--dpop"], dpopEnv);
    expect(second.code).toBe(0);
    expect(broker.proofs.at(-1)).toMatchObject({ jkt });

    const tokenFile = join(dir, "bound");
    writeFileSync(tokenFile, second.stdout);
    const url = `${ORIGIN_RESOURCE}/items`;
    const proofRun = await cli(["dpop", "--method", "GET", "--url", url, "--token-file", tokenFile], dpopEnv);
    expect(proofRun.code).toBe(0);
    const checked = await verifyDpopProof(
      proofRun.stdout.trim(),
      { method: "GET", url, accessToken: second.stdout.trim(), clockSkewSeconds: 5 },
      createDpopReplayCache(),
      Math.floor(Date.now() / 1000),
    );
    expect(checked).toMatchObject({ ok: true, value: { jkt } });
    expect(proofRun.stdout + proofRun.stderr).not.toContain(JSON.parse(readFileSync(keyFile, "utf8")).d);
  });

  it("--dpop without a key file says which setting to add", async () => {
    const run = await cli(["exchange", "--resource", ORIGIN_RESOURCE, "--dpop"], env());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/dpopKeyFile: not set/);
  });
});
