// The signer (through msal-node) against Entra's throttling and outages, switched on in the emulator:
// a 429 with Retry-After is honoured without calling Entra again, and a 503 during a background
// refresh leaves callers with the still-valid token and does not turn every read into a request.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService, type SignerService } from "../../signer/service.ts";
import {
  BROKER_SCOPE,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  rejectedSignerError,
  startEntra,
  tempDir,
  tenantFile,
} from "./support/fixtures.ts";

const log = captureLog();
let emu: Emulator;
let env: Record<string, string>;

beforeAll(async () => {
  const dir = tempDir();
  const cert = await certOnDisk(dir, "svc");
  // 540 s tokens: always inside the signer's 10-minute refresh-ahead window, so every read of a
  // cached token also starts a background refresh (at most one per 30 s).
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"), { tokenLifetimeSeconds: 540 });
  env = { BROKER_SIGNER_KEY_FILE: cert.keyFile, BROKER_SIGNER_CERT_FILE: cert.certFile };
});
afterAll(async () => {
  await emu?.close();
  cleanupTempDirs();
});
afterEach(() => emu.clearFaults());

const service = (): SignerService =>
  createSignerService(configFor(emu, env), { log: createLogger(log.write, "debug") });

describe("the signer against Entra faults", () => {
  it("reports a 429 with the AADSTS code and waits out Retry-After before asking Entra again", async () => {
    emu.addFault({ kind: "throttle", endpoint: "token", retryAfterSeconds: 1 });
    const s = service();
    const first = await rejectedSignerError(s.getToken(BROKER_SCOPE));
    expect(first.code).toBe("ERR_TOKEN");
    expect(first.message).toContain("AADSTS90055");
    emu.clearFaults();
    // Within Retry-After msal answers from its throttle record: no second request reaches Entra.
    await rejectedSignerError(s.getToken(BROKER_SCOPE));
    expect(s.stats().tokenRequests).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await s.getToken(BROKER_SCOPE)).accessToken).toBeTruthy();
    expect(s.stats().tokenRequests).toBe(2);
  });

  it("keeps serving the valid token when a background refresh meets a 503, without hammering Entra", async () => {
    const s = service();
    const first = (await s.getToken(BROKER_SCOPE)).accessToken;
    emu.addFault({ kind: "unavailable", endpoint: "token" });
    expect((await s.getToken(BROKER_SCOPE)).accessToken).toBe(first);
    await s.idle();
    expect(s.stats().tokenRequests).toBe(2);
    expect(log.lines.some((l) => l.includes("token.refresh_failed") && l.includes("AADSTS90006"))).toBe(true);
    for (let i = 0; i < 20; i++) expect((await s.getToken(BROKER_SCOPE)).accessToken).toBe(first);
    await s.idle();
    expect(s.stats().tokenRequests).toBe(2);
  });

  it("gets its token through slow answers", async () => {
    emu.addFault({ kind: "slow", endpoint: "token", delayMs: 1500, count: 1 });
    const s = service();
    const started = Date.now();
    expect((await s.getToken(BROKER_SCOPE)).accessToken).toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });
});
