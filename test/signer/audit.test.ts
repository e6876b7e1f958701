// The signer's own audit trail: one JSON line per assertion signed and per token or exchange served,
// linking each token to the assertion (jti) and certificate (thumbprint) that obtained it, and naming
// the local caller (pid and uid from the kernel, not from the caller). Never a token or a key.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createSignerClient } from "../../signer/client.ts";
import { createLogger } from "../../signer/log.ts";
import { peerPid } from "../../signer/peer.ts";
import { createSignerService } from "../../signer/service.ts";
import { startSocketServer, type SocketServer } from "../../signer/socket-server.ts";
import { startBrokerDouble, type BrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  BROKER_SCOPE,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  startEntra,
  tempDir,
  tenantFile,
  type CertOnDisk,
} from "./support/fixtures.ts";

const log = captureLog();
let emu: Emulator;
let broker: BrokerDouble;
let cert: CertOnDisk;
let server: SocketServer;
const secrets: string[] = [];

type Line = Record<string, unknown>;
const audit = (event: string): Line[] =>
  log.lines.map((l) => JSON.parse(l) as Line).filter((l) => l.level === "audit" && l.event === event);

async function eventually(event: string, count: number): Promise<Line[]> {
  for (let i = 0; i < 200 && audit(event).length < count; i++) await new Promise((r) => setTimeout(r, 25));
  return audit(event);
}

beforeAll(async () => {
  const dir = tempDir();
  cert = await certOnDisk(dir, "svc");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
  broker = await startBrokerDouble({ allowedResources: ["https://orders.example.com"], expectedAudience: BROKER_APP });
  const env = {
    BROKER_SIGNER_KEY_FILE: cert.keyFile,
    BROKER_SIGNER_CERT_FILE: cert.certFile,
    BROKER_SIGNER_BROKER_URL: broker.url,
  };
  // Level "error": audit lines are written whatever the level.
  const logger = createLogger(log.write, "error");
  server = await startSocketServer({
    socketPath: join(tempDir(), "run", "signer.sock"),
    service: createSignerService(configFor(emu, env), { log: logger }),
    log: logger,
  });
});

afterAll(async () => {
  await server.close();
  await broker.close();
  await emu.close();
  cleanupTempDirs();
});

describe("the audit trail", () => {
  it("has one line per assertion signed, and per token served naming the assertion, certificate and socket peer", async () => {
    const client = createSignerClient(server.socketPath);
    const t = await client.getToken(BROKER_SCOPE);
    await client.getToken(BROKER_SCOPE);
    secrets.push(t.access_token);
    const [signed, ...moreSigned] = await eventually("assertion.signed", 1);
    expect(moreSigned).toEqual([]);
    expect(signed).toMatchObject({
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      thumbprintSha256: cert.thumbprintSha256Hex.toUpperCase(),
      aud: expect.stringMatching(/\/oauth2\/v2.0\/token$/),
    });
    const served = await eventually("token.served", 2);
    expect(served).toHaveLength(2);
    for (const line of served)
      expect(line).toMatchObject({
        scope: BROKER_SCOPE,
        tokenHash: expect.stringMatching(/^[0-9a-f]{12}$/),
        assertionJti: signed!.jti,
        thumbprintSha256: cert.thumbprintSha256Hex.toUpperCase(),
        via: "socket",
        // The client library runs in this process: the kernel names it as the peer.
        peerPid: process.pid,
        peerUid: process.getuid!(),
      });
  });

  it("has one line per exchange served, cached or not, with the subject token's assertion", async () => {
    const client = createSignerClient(server.socketPath);
    const a = await client.exchange("https://orders.example.com", "orders.read");
    await client.exchange("https://orders.example.com", "orders.read");
    secrets.push(a.access_token, broker.requests.at(-1)!.get("subject_token")!);
    const lines = await eventually("exchange.served", 2);
    expect(lines.map((l) => l.cached)).toEqual([false, true]);
    expect(lines[0]).toMatchObject({
      resource: "https://orders.example.com",
      subjectTokenHash: expect.stringMatching(/^[0-9a-f]{12}$/),
      assertionJti: audit("assertion.signed")[0]!.jti,
      peerPid: process.pid,
    });
  });

  it("names another process as the peer when another process calls", async () => {
    const script = `import("${join(import.meta.dirname, "../../signer/client.ts")}").then(async (m) => {
      await m.createSignerClient(${JSON.stringify(server.socketPath)}).getToken(${JSON.stringify(BROKER_SCOPE)});
      process.stdout.write(String(process.pid));
    })`;
    // Asynchronously: the daemon answering it runs in this process.
    const pid = Number((await promisify(execFile)(process.execPath, ["-e", script], { encoding: "utf8" })).stdout);
    const served = await eventually("token.served", 3);
    expect(served.at(-1)).toMatchObject({ peerPid: pid, peerUid: process.getuid!() });
    expect(pid).not.toBe(process.pid);
  });

  it("never carries a token, an assertion or key material", () => {
    const all = log.lines.join("");
    for (const s of secrets) expect(all).not.toContain(s);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    expect(all).not.toMatch(/PRIVATE KEY/);
  });
});

describe("peerPid (parsing ss -xpnH)", () => {
  it("follows our socket's inode to the peer inode and the process holding it", () => {
    const table = [
      'u_str ESTAB 0 0 /run/signer.sock 112395 * 112394 users:(("node",pid=6490,fd=21))',
      'u_str ESTAB 0 0 * 112394 * 112395 users:(("python3",pid=6498,fd=3))',
      'u_str ESTAB 0 0 * 5 * 6 users:(("other",pid=1,fd=3))',
    ].join("\n");
    expect(peerPid(table, "112395")).toBe(6498);
    expect(peerPid(table, "999")).toBeUndefined();
  });
});
