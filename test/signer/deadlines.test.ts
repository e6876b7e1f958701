// The deadline budget with Entra ID or the broker hanging (accepting connections, never answering): the daemon
// answers with ERR_TIMEOUT before the client library gives up, the CLI exits 6 well within 15 s, and
// the socket's own header timeout takes effect in seconds, not on Node's 30-second check.
import { spawn } from "node:child_process";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createSignerClient } from "../../signer/client.ts";
import { CLIENT_TIMEOUT_MS, OPERATION_DEADLINE_MS } from "../../signer/deadline.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService } from "../../signer/service.ts";
import { startSocketServer, type SocketServer } from "../../signer/socket-server.ts";
import {
  BROKER_SCOPE,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  rejectedSignerError,
  signerEnv,
  startEntra,
  tempDir,
  tenantFile,
} from "./support/fixtures.ts";

const BIN = resolve(import.meta.dirname, "../../signer/bin/broker-signer.ts");
let emu: Emulator;
let hanging: net.Server;
let hangingOrigin: string;
let server: SocketServer;
/** A daemon whose Entra ID answers but whose broker hangs. */
let brokerHangs: SocketServer;
let env: Record<string, string>;
const held: net.Socket[] = [];

beforeAll(async () => {
  const dir = tempDir();
  const cert = await certOnDisk(dir, "svc");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
  // Entra ID hanging: TCP accepted, TLS never answered.
  hanging = net.createServer((socket) => void held.push(socket));
  await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
  hangingOrigin = `https://127.0.0.1:${(hanging.address() as net.AddressInfo).port}`;
  env = signerEnv(emu, {
    BROKER_SIGNER_KEY_FILE: cert.keyFile,
    BROKER_SIGNER_CERT_FILE: cert.certFile,
    BROKER_SIGNER_AUTHORITY_HOST: hangingOrigin,
  });
  brokerHangs = await startSocketServer({
    socketPath: join(tempDir(), "run", "signer.sock"),
    service: createSignerService(
      configFor(emu, {
        BROKER_SIGNER_KEY_FILE: cert.keyFile,
        BROKER_SIGNER_CERT_FILE: cert.certFile,
        BROKER_SIGNER_BROKER_URL: hangingOrigin.replace("https:", "http:"),
      }),
      { log: createLogger(captureLog().write) },
    ),
    log: createLogger(captureLog().write),
  });
  server = await startSocketServer({
    socketPath: join(tempDir(), "run", "signer.sock"),
    service: createSignerService(configFor(emu, env), { log: createLogger(captureLog().write) }),
    log: createLogger(captureLog().write),
  });
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => hanging.close(r));
  await server.close();
  await brokerHangs.close();
  await emu.close();
  cleanupTempDirs();
});

describe("when Entra ID or the broker hangs", () => {
  it("is a budget: daemon deadline < client library timeout", () => {
    expect(OPERATION_DEADLINE_MS).toBe(10_000);
    expect(CLIENT_TIMEOUT_MS).toBeGreaterThan(OPERATION_DEADLINE_MS);
  });

  it.concurrent("the daemon answers 504 ERR_TIMEOUT before the client library's own timeout", async () => {
    const started = Date.now();
    const e = await rejectedSignerError(createSignerClient(server.socketPath).getToken(BROKER_SCOPE));
    const waited = Date.now() - started;
    expect(e.code).toBe("ERR_TIMEOUT"); // not ERR_SOCKET ("the signer did not answer")
    expect(e.status).toBe(504);
    expect(e.message).toMatch(/did not complete within 10 s/);
    expect(waited).toBeLessThan(CLIENT_TIMEOUT_MS);
  });

  it.concurrent("with the broker hanging, an exchange (Entra token + broker) is answered 504 within the same budget", async () => {
    const started = Date.now();
    const e = await rejectedSignerError(
      createSignerClient(brokerHangs.socketPath).exchange("https://orders.example.com"),
    );
    expect(e).toMatchObject({ code: "ERR_TIMEOUT", status: 504 });
    expect(e.message).toMatch(/the exchange for https:\/\/orders.example.com did not complete within 10 s/);
    expect(Date.now() - started).toBeLessThan(CLIENT_TIMEOUT_MS);
  });

  it.concurrent("the CLI exits 6 within 15 s, naming the deadline", async () => {
    const started = Date.now();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(BIN, ["token"], {
        env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("close", (c) => done({ code: c, stderr: err }));
    });
    expect(code).toBe(6);
    expect(stderr).toMatch(/did not complete within 10 s/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it.concurrent("the socket drops a caller that never finishes its headers within ~5 s, not ~30 s", async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((done) => {
      const c = net.connect(server.socketPath, () => c.write("GET /health HTTP/1.1\r\nHost: x\r\n"));
      c.on("data", () => {});
      c.on("close", () => done(Date.now() - started));
      c.on("error", () => {});
    });
    expect(closedAfter).toBeGreaterThanOrEqual(4_000);
    expect(closedAfter).toBeLessThan(8_000);
  });
});
