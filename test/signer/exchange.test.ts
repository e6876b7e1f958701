// The exchange at the broker through the signer service: the Entra token it presents is replaced when
// the broker refuses it, and exchanged tokens are reused per (resource, scope) like the broker's own
// minted tokens. The emulator is Entra ID; a broker test double checks the subject token's key.
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService, type SignerService } from "../../signer/service.ts";
import { startBrokerDouble, type BrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  rejectedSignerError,
  startEntra,
  tempDir,
  tenantFile,
  tokenPath,
} from "./support/fixtures.ts";

const ORDERS = "https://orders.example.com";
const SEARCH = "https://search.example.com";
const log = captureLog();
let emu: Emulator;
let broker: BrokerDouble;
let env: Record<string, string>;
/** Keys Entra ID has retired: the broker refuses tokens they signed (as it does once they leave the JWKS). */
const retired = new Set<string>();

function service(): SignerService {
  return createSignerService(configFor(emu, env), { log: createLogger(log.write, "debug") });
}

beforeAll(async () => {
  const dir = tempDir();
  const cert = await certOnDisk(dir, "svc");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
  broker = await startBrokerDouble({
    allowedResources: [ORDERS, SEARCH],
    expectedAudience: BROKER_APP,
    acceptSubject: (t) => !retired.has(decodeProtectedHeader(t).kid ?? ""),
  });
  env = {
    BROKER_SIGNER_KEY_FILE: cert.keyFile,
    BROKER_SIGNER_CERT_FILE: cert.certFile,
    BROKER_SIGNER_BROKER_URL: broker.url,
  };
});
afterAll(async () => {
  await broker.close();
  await emu.close();
  cleanupTempDirs();
});
afterEach(() => vi.useRealTimers());

describe("a subject token the broker refuses", () => {
  it("is dropped and replaced once, for all concurrent exchanges, when Entra retires the key that signed it", async () => {
    const s = service();
    await s.exchange(ORDERS);
    const entraBefore = emu.requestCount(tokenPath());
    const brokerBefore = broker.requests.length;
    const { retired: kid } = emu.rotateSigningKeys({ mode: "emergency" });
    retired.add(kid);
    const results = await Promise.all([s.exchange(SEARCH), s.exchange(SEARCH, "a"), s.exchange(SEARCH, "b")]);
    expect(results.map((r) => r.token_type)).toEqual(["Bearer", "Bearer", "Bearer"]);
    expect(emu.requestCount(tokenPath()) - entraBefore).toBe(1); // one new Entra token for the three
    const sent = broker.requests.slice(brokerBefore).map((f) => decodeProtectedHeader(f.get("subject_token")!).kid);
    expect(sent.filter((k) => k === kid)).toHaveLength(3); // each refused once…
    expect(sent.filter((k) => k !== kid)).toHaveLength(3); // …and retried once with the new token
    // The next exchange presents the new token straight away.
    await s.exchange(ORDERS, "c");
    expect(decodeProtectedHeader(broker.requests.at(-1)!.get("subject_token")!).kid).not.toBe(kid);
    expect(log.lines.join("")).toMatch(/"event":"token.refused_by_broker"/);
  });

  it("is not retried in a loop when the new token is refused too", async () => {
    const s = service();
    const rotation = emu.rotateSigningKeys({ mode: "emergency" });
    retired.add(rotation.active); // the broker will refuse even the new key's tokens
    const before = broker.requests.length;
    const e = await rejectedSignerError(s.exchange(ORDERS, "d"));
    expect(e.code).toBe("ERR_EXCHANGE");
    expect(broker.requests.length - before).toBeLessThanOrEqual(2);
    retired.delete(rotation.active);
  });
});

describe("exchanged tokens", () => {
  it("are reused per (resource, scope) while enough lifetime remains: one broker exchange for many calls", async () => {
    const s = service();
    const before = broker.requests.length;
    const first = await s.exchange(ORDERS, "orders.read");
    const again = await Promise.all(Array.from({ length: 100 }, () => s.exchange(ORDERS, "orders.read")));
    expect(new Set(again.map((r) => r.access_token))).toEqual(new Set([first.access_token]));
    await s.exchange(ORDERS, "orders.write"); // another scope is another token
    await s.exchange(SEARCH, "orders.read"); // and so is another resource
    expect(broker.requests.length - before).toBe(3);
    expect(s.stats().exchangesCached).toBe(100);
  });

  it("are replaced once less than max(30 s, a tenth of their lifetime) remains, and expires_in counts down", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const s = service();
    const first = await s.exchange(SEARCH, "x");
    expect(first.expires_in).toBe(300);
    vi.setSystemTime(t0 + 200_000);
    const reused = await s.exchange(SEARCH, "x");
    expect(reused.access_token).toBe(first.access_token);
    expect(reused.expires_in).toBeLessThanOrEqual(100);
    vi.setSystemTime(t0 + 271_000); // 29 s left: below the 30 s margin
    const replaced = await s.exchange(SEARCH, "x");
    expect(replaced.access_token).not.toBe(first.access_token);
    expect(replaced.expires_in).toBe(300);
    expect(decodeJwt(broker.requests.at(-1)!.get("subject_token")!).aud).toBe(BROKER_APP);
  });
});
