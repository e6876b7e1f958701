// The daemon's unix socket: permissions, the HTTP API, and the client library, with the emulator
// as Entra ID and a broker test double for the exchange.
import { spawnSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createSignerClient, type SignerClient } from "../../signer/client.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService } from "../../signer/service.ts";
import { startSocketServer, type SocketServer } from "../../signer/socket-server.ts";
import { startBrokerDouble, type BrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  BROKER_SCOPE,
  CLIENT,
  OTHER_SCOPE,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  startEntra,
  tempDir,
  tenantFile,
  tokenPath,
  type CertOnDisk,
  rejectedSignerError,
} from "./support/fixtures.ts";

const log = captureLog();
let emu: Emulator;
let broker: BrokerDouble;
let cert: CertOnDisk;
let server: SocketServer;
let client: SignerClient;
let socketDir: string;
const seenTokens: string[] = [];

function newService() {
  return createSignerService(
    configFor(emu, {
      BROKER_SIGNER_KEY_FILE: cert.keyFile,
      BROKER_SIGNER_CERT_FILE: cert.certFile,
      BROKER_SIGNER_BROKER_URL: broker.url,
    }),
    { log: createLogger(log.write, "debug") },
  );
}

/** A raw request over the socket, for what the client library would never send. */
function raw(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: server.socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>,
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  const dir = tempDir();
  cert = await certOnDisk(dir, "svc");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
  broker = await startBrokerDouble({ allowedResources: ["https://orders.example.com"], expectedAudience: BROKER_APP });
  socketDir = join(dir, "run");
  server = await startSocketServer({
    socketPath: join(socketDir, "signer.sock"),
    service: newService(),
    log: createLogger(log.write, "debug"),
  });
  client = createSignerClient(server.socketPath);
});

afterAll(async () => {
  await server?.close();
  await broker?.close();
  await emu?.close();
  const all = log.lines.join("");
  expect(all).not.toMatch(/PRIVATE KEY/);
  for (const line of cert.keyPem.split("\n").filter((l) => l.length > 40)) expect(all).not.toContain(line);
  for (const t of seenTokens) expect(all).not.toContain(t);
  cleanupTempDirs();
});

describe("the socket", () => {
  it("is a mode 0600 socket file in a mode 0700 directory created by the signer", () => {
    const sock = lstatSync(server.socketPath);
    expect(sock.isSocket()).toBe(true);
    expect(sock.mode & 0o777).toBe(0o600);
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
  });

  it("is refused in a directory other users can enter, with the chmod that fixes it", async () => {
    const dir = join(tempDir(), "open");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const e = await rejectedSignerError(
      startSocketServer({ socketPath: join(dir, "s.sock"), service: newService(), log: createLogger(log.write) }),
    );
    expect(e.code).toBe("ERR_SOCKET");
    expect(e.message).toContain(`chmod 700 ${dir}`);
  });

  it("is never abstract or relative", async () => {
    for (const p of ["@broker-signer", "\0broker-signer", "run/signer.sock"]) {
      expect(
        (
          await rejectedSignerError(
            startSocketServer({ socketPath: p, service: newService(), log: createLogger(log.write) }),
          )
        ).code,
      ).toBe("ERR_CONFIG");
    }
  });

  it("replaces a stale socket file but refuses to take over a live one or a regular file", async () => {
    const dir = tempDir();
    const livePath = join(dir, "live.sock");
    const live = net.createServer().listen(livePath);
    await new Promise((r) => live.once("listening", r));
    expect(
      (
        await rejectedSignerError(
          startSocketServer({ socketPath: livePath, service: newService(), log: createLogger(log.write) }),
        )
      ).message,
    ).toMatch(/already listening/);
    await new Promise((r) => live.close(r));
    // A crashed daemon: killed with SIGKILL, it leaves its socket file behind with nobody listening.
    const stalePath = join(dir, "stale.sock");
    spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(lstatSync(stalePath).isSocket()).toBe(true);
    const restarted = await startSocketServer({
      socketPath: stalePath,
      service: newService(),
      log: createLogger(log.write),
    });
    await restarted.close();
    const filePath = join(dir, "file.sock");
    writeFileSync(filePath, "");
    expect(
      (
        await rejectedSignerError(
          startSocketServer({ socketPath: filePath, service: newService(), log: createLogger(log.write) }),
        )
      ).message,
    ).toMatch(/not a socket/);
  });
});

describe("the client library over the socket", () => {
  it("getToken returns an Entra ID access token for the scope", async () => {
    const t = await client.getToken(BROKER_SCOPE);
    seenTokens.push(t.access_token);
    expect(t).toMatchObject({ token_type: "Bearer", scope: BROKER_SCOPE });
    expect(decodeJwt(t.access_token)).toMatchObject({ aud: BROKER_APP, azp: CLIENT });
    expect(t.expires_in).toBeGreaterThan(3000);
    expect(Math.abs(t.expires_on - decodeJwt(t.access_token).exp!)).toBeLessThanOrEqual(2);
  });

  it("many processes asking at once cause one request to Entra ID per scope", async () => {
    const before = emu.requestCount(tokenPath());
    const clients = Array.from({ length: 20 }, () => createSignerClient(server.socketPath));
    const results = await Promise.all(clients.map((c) => c.getToken(OTHER_SCOPE)));
    results.forEach((r) => seenTokens.push(r.access_token));
    expect(new Set(results.map((r) => r.access_token)).size).toBe(1);
    expect(emu.requestCount(tokenPath()) - before).toBe(1);
  });

  it("exchange returns the broker's downstream token (RFC 8693 response) and sends the exact form", async () => {
    const out = await client.exchange("https://orders.example.com", "orders.read");
    expect(out).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 300,
      scope: "orders.read",
    });
    const form = broker.requests.at(-1)!;
    expect(Object.fromEntries(form)).toMatchObject({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      resource: "https://orders.example.com",
      scope: "orders.read",
    });
    seenTokens.push(form.get("subject_token")!, out.access_token);
    expect(decodeJwt(form.get("subject_token")!).aud).toBe(BROKER_APP);
  });

  it("exchange passes on the broker's OAuth error without the subject token", async () => {
    const e = await rejectedSignerError(client.exchange("https://payments.example.com"));
    expect(e.code).toBe("ERR_EXCHANGE");
    expect(e.oauthError).toBe("invalid_target");
    expect(e.status).toBe(400);
    expect(e.message).not.toMatch(/eyJ/);
  });

  it("exchange refuses a resource that is not a canonical origin before calling anyone", async () => {
    const before = broker.requests.length;
    const e = await rejectedSignerError(client.exchange("https://Orders.example.com/path"));
    expect(e.code).toBe("ERR_REQUEST");
    expect(e.message).toMatch(/not a canonical origin the broker accepts; use https:\/\/orders.example.com/);
    expect(broker.requests.length).toBe(before);
  });

  it("reports a daemon that is not running as ERR_SOCKET with the fix", async () => {
    const e = await rejectedSignerError(createSignerClient(join(socketDir, "nobody.sock")).getToken(BROKER_SCOPE));
    expect(e.code).toBe("ERR_SOCKET");
    expect(e.message).toMatch(/is `broker-signer serve` running/);
  });
});

describe("the socket API", () => {
  it("answers malformed requests with JSON errors and stable codes", async () => {
    expect(await raw("GET", "/token")).toMatchObject({
      status: 400,
      body: { error: "invalid_request", code: "ERR_REQUEST" },
    });
    expect(
      await raw("GET", `/token?scope=${encodeURIComponent(BROKER_SCOPE)}&scope=${encodeURIComponent(OTHER_SCOPE)}`),
    ).toMatchObject({ status: 400 });
    expect(await raw("GET", "/token?scope=api%3A%2F%2Fbroker%2FTokens.Exchange")).toMatchObject({
      status: 400,
      body: { code: "ERR_REQUEST" },
    });
    expect(await raw("POST", "/exchange", "{", { "content-type": "application/json" })).toMatchObject({
      status: 400,
      body: { error_description: "POST /exchange body is not JSON" },
    });
    expect(await raw("POST", "/exchange", "{}", { "content-type": "text/plain" })).toMatchObject({ status: 400 });
    expect(await raw("DELETE", "/token")).toMatchObject({ status: 405 });
    expect(await raw("GET", "/admin")).toMatchObject({ status: 404 });
  });

  it("answers an oversized body 413 with a JSON error instead of resetting the connection (declared length)", async () => {
    const big = JSON.stringify({ resource: "https://orders.example.com", scope: "x".repeat(20_000) });
    const res = await raw("POST", "/exchange", big, { "content-type": "application/json" });
    expect(res).toMatchObject({ status: 413, body: { error: "invalid_request", code: "ERR_REQUEST" } });
    expect(res.body.error_description).toMatch(/larger than 8192 bytes/);
  });

  it("answers an oversized chunked body (no Content-Length) 413 too", async () => {
    const res = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: server.socketPath,
          method: "POST",
          path: "/exchange",
          headers: { "content-type": "application/json" },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("x".repeat(2048));
      req.end();
    });
    expect(res).toMatchObject({ status: 413, body: { code: "ERR_REQUEST" } });
  });

  it("refuses resources the broker refuses although URL accepts them (wildcard host, plain http to another host)", async () => {
    for (const resource of ["https://*.example.com", "http://api.example.com", "https://a_b.example.com"]) {
      const e = await rejectedSignerError(client.exchange(resource));
      expect(e.code).toBe("ERR_REQUEST");
      expect(e.message).toMatch(/not a canonical origin the broker accepts/);
    }
  });

  it("/health reports the thumbprints and counters, never the key", async () => {
    const h = await raw("GET", "/health");
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({
      status: "ok",
      credential: { kind: "certificate", signingThumbprintSha256: cert.thumbprintSha256Hex.toUpperCase() },
    });
    expect(JSON.stringify(h.body)).not.toMatch(/PRIVATE|BEGIN/);
  });
});
