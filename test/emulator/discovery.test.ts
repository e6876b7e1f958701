// What msal and the broker read before any token: discovery documents, the JWKS, key rotation,
// the loopback HTTP listener, the CA on disk, and the test helpers of the Emulator API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import { CLIENT, TENANT, createFixture, get, msalClient, SECRET, type Fixture } from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;
const FROZEN_MS = Date.UTC(2030, 0, 1, 12, 0, 0);

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants, httpPort: 0, now: () => FROZEN_MS, tokenLifetimeSeconds: 4000 });
});
afterAll(() => em?.close());

describe("discovery", () => {
  it("serves the v2 OpenID configuration msal needs, with the emulator's own issuer", async () => {
    const r = await get(em, `${em.authority(TENANT)}/v2.0/.well-known/openid-configuration`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      issuer: `${em.httpsOrigin}/${TENANT}/v2.0`,
      token_endpoint: em.tokenEndpoint(TENANT),
      jwks_uri: `${em.httpsOrigin}/${TENANT}/discovery/v2.0/keys`,
      authorization_endpoint: `${em.httpsOrigin}/${TENANT}/oauth2/v2.0/authorize`,
      id_token_signing_alg_values_supported: ["RS256"],
    });
  });

  it("serves the v1 configuration with Entra's v1 issuer on another host (https://sts.windows.net/{tid}/) and the v1 keys path", async () => {
    const r = await get(em, `${em.authority(TENANT)}/.well-known/openid-configuration`);
    expect(r.body).toMatchObject({
      issuer: `https://sts.windows.net/${TENANT}/`,
      jwks_uri: `${em.httpsOrigin}/${TENANT}/discovery/keys`,
      token_endpoint: `${em.httpsOrigin}/${TENANT}/oauth2/token`,
    });
    expect(em.issuer(TENANT, 1)).toBe(`https://sts.windows.net/${TENANT}/`);
    expect(em.v1IssuerHost).toBe("https://sts.windows.net");
  });

  it("answers discovery for an unknown tenant with 400 invalid_tenant AADSTS90002", async () => {
    const r = await get(
      em,
      `${em.httpsOrigin}/0badc0de-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_tenant");
    expect(r.body.error_codes).toEqual([90002]);
  });

  it("publishes several RSA keys on both JWKS paths, kid = x5t, with an x5c certificate", async () => {
    const v2 = await get(em, `${em.authority(TENANT)}/discovery/v2.0/keys`);
    const v1 = await get(em, `${em.authority(TENANT)}/discovery/keys`);
    expect(v2.body.keys.length).toBeGreaterThanOrEqual(2);
    expect(v1.body.keys.map((k: any) => k.kid)).toEqual(v2.body.keys.map((k: any) => k.kid));
    for (const k of v2.body.keys) {
      expect(k).toMatchObject({
        kty: "RSA",
        use: "sig",
        e: "AQAB",
        x5t: k.kid,
        issuer: `${em.httpsOrigin}/{tenantid}/v2.0`,
      });
      expect(k).not.toHaveProperty("d");
      expect(k.x5c).toHaveLength(1);
    }
    expect(v2.body.keys[0].kid).toBe(em.activeKid());
  });

  it("serves the same routes on the loopback HTTP listener, with the same (https) issuer", async () => {
    expect(em.httpOrigin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(em, `${em.httpOrigin}/${TENANT}/v2.0/.well-known/openid-configuration`);
    expect(r.body.issuer).toBe(`${em.httpsOrigin}/${TENANT}/v2.0`);
    expect(r.body.jwks_uri).toBe(`${em.httpOrigin}/${TENANT}/discovery/v2.0/keys`);
  });
});

describe("tokens and the clock", () => {
  it("stamps iat/nbf 5 minutes before the emulator's clock and exp after the configured lifetime", async () => {
    const t = await em.issueToken({ tenantId: TENANT, clientId: CLIENT, resource: "api://broker" });
    const c = decodeJwt(t.access_token);
    const now = FROZEN_MS / 1000;
    expect({ iat: c.iat, nbf: c.nbf, exp: c.exp }).toEqual({ iat: now - 300, nbf: now - 300, exp: now + 4000 });
    expect(t.expires_in).toBe(4000);
  });

  it("issueToken reports Entra's refusal as an error with the AADSTS code", async () => {
    await expect(em.issueToken({ tenantId: TENANT, clientId: CLIENT, resource: "api://locked" })).rejects.toThrow(
      /AADSTS501051/,
    );
  });
});

describe("requestCount", () => {
  it("counts requests by path prefix, so tests can count JWKS fetches", async () => {
    const prefix = `/${TENANT}/discovery/v2.0/keys`;
    const n = em.requestCount(prefix);
    await get(em, `${em.authority(TENANT)}/discovery/v2.0/keys`);
    await get(em, `${em.httpOrigin}/${TENANT}/discovery/v2.0/keys`);
    expect(em.requestCount(prefix)).toBe(n + 2);
  });

  it("shows msal fetching the v2 discovery document and not instance discovery", async () => {
    const before = em.requestCount();
    const disco = em.requestCount(`/${TENANT}/v2.0/.well-known/openid-configuration`);
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    expect(em.requestCount(`/${TENANT}/v2.0/.well-known/openid-configuration`)).toBe(disco + 1);
    expect(em.requestCount()).toBe(before + 2); // discovery + token, nothing else
  });
});

describe("local CA", () => {
  it("writes the CA to the state dir and reuses it across restarts", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "emu-state-"));
    const a = await startEmulator({ tenants: f.tenants, stateDir });
    await a.close();
    const b = await startEmulator({ tenants: f.tenants, stateDir });
    await b.close();
    expect(a.caCertPath).toBe(join(stateDir, "ca-cert.pem"));
    expect(b.caCertPem).toBe(a.caCertPem);
    expect(await readFile(a.caCertPath, "utf8")).toContain(a.caCertPem.trim());
  });

  it("is not trusted without the CA: TLS fails for a client that does not trust it", async () => {
    const { request } = await import("node:https");
    const err = await new Promise<Error>((resolve) => {
      request(`${em.httpsOrigin}/${TENANT}/discovery/keys`, (res) => resolve(new Error(`unexpected ${res.statusCode}`)))
        .on("error", resolve)
        .end();
    });
    expect(String(err.message)).toMatch(/certificate/i);
  });
});
