// Faults switched at runtime: 429 + Retry-After, 503, slow answers, dropped connections and JWKS
// outages, through the Emulator API, the control API over HTTP and the CLI; and what msal-node does
// with them (it remembers a 429/5xx for Retry-After, or 60 s, and does not call again meanwhile).
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { request } from "node:https";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createMsalNetworkClient, startEmulator, type Emulator } from "../../emulator/index.ts";
import {
  OTHER_TENANT,
  SECRET,
  TENANT,
  CLIENT,
  createFixture,
  expectEntraError,
  get,
  msalClient,
  postToken,
  secretForm,
  type Fixture,
} from "./support/fixtures.ts";

const run = promisify(execFile);
let f: Fixture;
let em: Emulator;

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants, stateDir: await mkdtemp(join(tmpdir(), "emulator-faults-")) });
});
afterAll(() => em?.close());
afterEach(() => em.clearFaults());

const keysUrl = (tenant = TENANT) => `${em.authority(tenant)}/discovery/v2.0/keys`;

describe("faults through the Emulator API", () => {
  it("throttles with 429, Retry-After and AADSTS90055, for `count` requests only", async () => {
    em.addFault({ kind: "throttle", endpoint: "token", retryAfterSeconds: 30, count: 1 });
    const r = await postToken(em, secretForm());
    expectEntraError(r, 429, "temporarily_unavailable", 90055);
    expect(r.headers["retry-after"]).toBe("30");
    expect((await postToken(em, secretForm())).status).toBe(200);
    expect(em.faults()).toEqual([]);
  });

  it("answers 503 AADSTS90006, with Retry-After only when one is set", async () => {
    em.addFault({ kind: "unavailable", endpoint: "token", count: 1 });
    const r = await postToken(em, secretForm());
    expectEntraError(r, 503, "temporarily_unavailable", 90006);
    expect(r.headers).not.toHaveProperty("retry-after");
  });

  it("takes a JWKS outage on the key sets only, and per tenant when asked", async () => {
    em.addFault({ kind: "unavailable", endpoint: "keys", tenant: "contoso.example" });
    expect((await get(em, keysUrl())).status).toBe(503);
    expect((await get(em, keysUrl(OTHER_TENANT))).status).toBe(200);
    expect((await postToken(em, secretForm())).status).toBe(200);
    expect((await get(em, `${em.authority(TENANT)}/v2.0/.well-known/openid-configuration`)).status).toBe(200);
  });

  it("drops the connection without an answer", async () => {
    em.addFault({ kind: "drop", endpoint: "keys", count: 1 });
    await expect(get(em, keysUrl())).rejects.toThrow();
    expect((await get(em, keysUrl())).status).toBe(200);
  });

  it("delays answers by delayMs", async () => {
    em.addFault({ kind: "slow", endpoint: "discovery", delayMs: 400 });
    const start = Date.now();
    expect((await get(em, `${em.authority(TENANT)}/v2.0/.well-known/openid-configuration`)).status).toBe(200);
    expect(Date.now() - start).toBeGreaterThanOrEqual(390);
  });

  it("refuses a fault it cannot honour, naming the field", () => {
    expect(() => em.addFault({ kind: "slow" } as never)).toThrow(/delayMs: required/);
    expect(() => em.addFault({ kind: "throttle", retryAfterSeconds: 99999 })).toThrow(
      /retryAfterSeconds: must be an integer from 0 to 3600/,
    );
    expect(() => em.addFault({ kind: "explode" } as never)).toThrow(/kind: must be one of/);
  });
});

describe("msal-node against throttling and outages", () => {
  it("after a 429, msal answers from its throttle record for Retry-After without calling again", async () => {
    em.addFault({ kind: "throttle", endpoint: "token", retryAfterSeconds: 2 });
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    const scopes = ["api://broker/.default"];
    await expect(app.acquireTokenByClientCredential({ scopes })).rejects.toThrow(/AADSTS90055/);
    const sent = em.requestCount(`/${TENANT}/oauth2`);
    em.clearFaults();
    await expect(app.acquireTokenByClientCredential({ scopes })).rejects.toThrow(/AADSTS90055/);
    expect(em.requestCount(`/${TENANT}/oauth2`)).toBe(sent); // throttled locally
    await new Promise((r) => setTimeout(r, 2100));
    const ok = await app.acquireTokenByClientCredential({ scopes });
    expect(ok?.accessToken).toBeTruthy();
    expect(em.requestCount(`/${TENANT}/oauth2`)).toBe(sent + 1);
  });

  it("treats a 503 without Retry-After the same way (msal's default 60 s), so a new client is needed to retry at once", async () => {
    em.addFault({ kind: "unavailable", endpoint: "token", count: 1 });
    const scopes = ["api://broker/.default"];
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    await expect(app.acquireTokenByClientCredential({ scopes })).rejects.toThrow(/AADSTS90006/);
    await expect(app.acquireTokenByClientCredential({ scopes })).rejects.toThrow(/AADSTS90006/);
    const fresh = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    expect((await fresh.acquireTokenByClientCredential({ scopes }))?.accessToken).toBeTruthy();
  });
});

describe("the control API and the CLI", () => {
  const control = (method: "GET" | "POST", path: string, body?: unknown) => {
    const net = createMsalNetworkClient({ ca: em.caCertPem });
    const url = `${em.httpsOrigin}/_emulator${path}`;
    return method === "GET"
      ? net.sendGetRequestAsync<any>(url)
      : net.sendPostRequestAsync<any>(url, {
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body ?? {}),
        });
  };
  const cli = (...args: string[]) =>
    run(process.execPath, ["emulator/main.ts", ...args, "--state-dir", em.stateDir], { timeout: 30_000 });

  it("switches faults and rolls keys over HTTP, with clear reasons for bad requests", async () => {
    const added = await control("POST", "/faults", { kind: "throttle", endpoint: "token", retryAfterSeconds: 9 });
    expect([added.status, added.body.fault.kind, added.body.fault.retryAfterSeconds]).toEqual([201, "throttle", 9]);
    expect((await control("GET", "/faults")).body.faults).toHaveLength(1);
    expect((await postToken(em, secretForm())).headers["retry-after"]).toBe("9");
    const bad = await control("POST", "/faults", { kind: "throttle", endpoint: "everywhere" });
    expect([bad.status, bad.body.reason]).toEqual([400, "fault_invalid"]);
    const unknownTenant = await control("POST", "/faults", { kind: "drop", tenant: "nowhere.example" });
    expect([unknownTenant.status, unknownTenant.body.reason]).toEqual([404, "tenant_unknown"]);
    const before = em.activeKid();
    const rotated = await control("POST", "/keys/rotate", { mode: "emergency" });
    expect([rotated.status, rotated.body.retired, em.activeKid()]).toEqual([200, before, rotated.body.active]);
    expect((await control("GET", "/nothing")).body.reason).toBe("control_unknown");
  });

  it("is driven by `npm run emulator -- fault ...` / `keys ...` through the state dir", async () => {
    const out = JSON.parse((await cli("fault", "throttle", "--retry-after", "7", "--endpoint", "token")).stdout);
    expect(out.fault).toMatchObject({ kind: "throttle", endpoint: "token", retryAfterSeconds: 7 });
    const r = await postToken(em, secretForm());
    expect([r.status, r.headers["retry-after"]]).toEqual([429, "7"]);
    await cli("fault", "jwks-outage");
    expect((await get(em, keysUrl())).status).toBe(503);
    expect(JSON.parse((await cli("fault", "list")).stdout).faults).toHaveLength(2);
    expect(JSON.parse((await cli("fault", "clear")).stdout)).toEqual({ cleared: 2 });
    expect((await postToken(em, secretForm())).status).toBe(200);
    const keys = JSON.parse((await cli("keys", "rotate")).stdout);
    expect(em.signingKeys().retired).toContain(keys.retired);
  });

  // A non-loopback address of this machine, if it has one: the control API must not answer there.
  const lanAddress = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === "IPv4")?.address;
  it.skipIf(!lanAddress)("refuses control requests that do not come from loopback (403)", async () => {
    const open = await startEmulator({ tenants: f.tenants, host: "0.0.0.0" });
    try {
      const port = new URL(open.httpsOrigin).port;
      const status = await new Promise<number | undefined>((resolve, reject) => {
        // The certificate names localhost only; this request is about the control API's answer, not TLS.
        const req = request(
          { host: lanAddress, port, path: "/_emulator/faults", method: "GET", rejectUnauthorized: false },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(403);
      expect(open.faults()).toEqual([]);
    } finally {
      await open.close();
    }
  });

  it("says how to start an emulator when none runs in the state dir", async () => {
    const empty = await mkdtemp(join(tmpdir(), "emulator-none-"));
    const failed = run(process.execPath, ["emulator/main.ts", "fault", "list", "--state-dir", empty]);
    await expect(failed).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("start one with 'npm run emulator'"),
    });
  });
});
