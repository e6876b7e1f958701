// msal-node, unmodified, obtains tokens from the emulator over real HTTPS, and the tokens look
// like Entra ID's on the wire: verified here against the emulator's own JWKS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import {
  BROKER_V2,
  CLIENT,
  LEGACY_V1,
  NO_IDTYP,
  SECRET,
  TENANT,
  TENANT_DOMAIN,
  createFixture,
  federatedToken,
  get,
  msalClient,
  type Fixture,
} from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants });
});
afterAll(() => em?.close());

async function verify(token: string, audience: string, version: 1 | 2): Promise<JWTPayload> {
  const keys = await get(em, `${em.authority(TENANT)}/discovery/v2.0/keys`);
  const { payload } = await jwtVerify(token, createLocalJWKSet(keys.body as never), {
    issuer: em.issuer(TENANT, version),
    audience,
    algorithms: ["RS256"],
  });
  return payload;
}

describe("msal-node ConfidentialClientApplication against the emulator", () => {
  it("gets a v2.0 token with a certificate (PS256, x5t#S256) carrying roles, azp and azpacr 2", async () => {
    const app = msalClient(em, {
      clientId: CLIENT,
      clientCertificate: { privateKey: f.cert.keyPem, thumbprintSha256: f.cert.thumbprintSha256Hex },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    expect(result?.tokenType).toBe("Bearer");
    const header = decodeProtectedHeader(result!.accessToken);
    // v2.0 tokens carry typ, alg and kid only (no x5t, unlike v1.0).
    expect(header).toEqual({ typ: "JWT", alg: "RS256", kid: em.activeKid() });
    const claims = await verify(result!.accessToken, BROKER_V2, 2);
    expect(claims).toMatchObject({
      aud: BROKER_V2,
      iss: `${em.httpsOrigin}/${TENANT}/v2.0`,
      azp: CLIENT,
      azpacr: "2",
      idtyp: "app",
      roles: ["Tokens.Exchange"],
      tid: TENANT,
      ver: "2.0",
    });
    expect(claims.sub).toBe(claims.oid);
    expect(claims).not.toHaveProperty("appid");
    expect(claims).not.toHaveProperty("scp");
    for (const c of ["aio", "rh", "uti"]) expect(typeof claims[c]).toBe("string");
    expect(claims.nbf).toBe(claims.iat);
    const lifetime = claims.exp! - claims.iat!;
    expect(lifetime).toBeGreaterThanOrEqual(3600);
    expect(lifetime).toBeLessThanOrEqual(5400 + 300);
  });

  it("gets a token with a SHA-1 thumbprint (RS256, x5t) and an x5c header", async () => {
    const app = msalClient(em, {
      clientId: CLIENT,
      clientCertificate: { privateKey: f.cert.keyPem, thumbprint: f.cert.thumbprintSha1Hex, x5c: f.cert.certPem },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${BROKER_V2}/.default`] });
    const claims = await verify(result!.accessToken, BROKER_V2, 2);
    expect(claims.azpacr).toBe("2");
  });

  it("gets a v1.0 token when the resource app asks for v1: appid/appidacr, aud = app ID URI, sts.windows.net issuer, x5t header", async () => {
    const app = msalClient(em, {
      clientId: CLIENT,
      clientCertificate: { privateKey: f.cert.keyPem, thumbprintSha256: f.cert.thumbprintSha256Hex },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://legacy/.default"] });
    expect(decodeProtectedHeader(result!.accessToken)).toEqual({
      typ: "JWT",
      alg: "RS256",
      x5t: em.activeKid(),
      kid: em.activeKid(),
    });
    const claims = await verify(result!.accessToken, "api://legacy", 1);
    expect(claims).toMatchObject({
      aud: "api://legacy",
      iss: `https://sts.windows.net/${TENANT}/`,
      idp: `https://sts.windows.net/${TENANT}/`,
      appid: CLIENT,
      appidacr: "2",
      idtyp: "app",
      roles: ["Legacy.Read"],
      ver: "1.0",
    });
    expect(claims).not.toHaveProperty("azp");
    expect(LEGACY_V1).not.toBe(claims.aud);
  });

  it("gets a token with a client secret, marked azpacr 1", async () => {
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    const claims = await verify(result!.accessToken, BROKER_V2, 2);
    expect(claims.azpacr).toBe("1");
  });

  it("gets a token with a federated assertion from the configured external issuer, marked azpacr 2", async () => {
    const app = msalClient(em, { clientId: CLIENT, clientAssertion: await federatedToken(f) });
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    const claims = await verify(result!.accessToken, BROKER_V2, 2);
    expect(claims).toMatchObject({ azp: CLIENT, azpacr: "2", roles: ["Tokens.Exchange"] });
  });

  it("signs on every call through msal's clientAssertion callback (the signer's pattern)", async () => {
    let calls = 0;
    const app = msalClient(em, {
      clientId: CLIENT,
      clientAssertion: async () => {
        calls++;
        return federatedToken(f);
      },
    });
    await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    await app.acquireTokenByClientCredential({ scopes: ["api://legacy/.default"] });
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it("omits roles when the client holds none, and idtyp when the resource has not enabled the optional claim (the default)", async () => {
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET });
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://plain/.default"] });
    const claims = await verify(result!.accessToken, NO_IDTYP, 2);
    expect(claims).not.toHaveProperty("roles");
    expect(claims).not.toHaveProperty("idtyp");
    // What a verifier falls back on without idtyp (Microsoft's guidance): no scp, and oid = sub.
    expect(claims).not.toHaveProperty("scp");
    expect(claims.oid).toBe(claims.sub);
  });

  it("accepts the tenant by domain name and still issues with the tenant id", async () => {
    const app = msalClient(em, { clientId: CLIENT, clientSecret: SECRET }, TENANT_DOMAIN);
    const result = await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    const claims = await verify(result!.accessToken, BROKER_V2, 2);
    expect(claims.tid).toBe(TENANT);
  });

  it("surfaces Entra's error to msal as a ServerError with the AADSTS code", async () => {
    const app = msalClient(em, { clientId: CLIENT, clientSecret: "wrong" });
    await expect(app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] })).rejects.toMatchObject({
      errorCode: "invalid_client",
      errorNo: 7000215,
      errorMessage: expect.stringContaining("Description: AADSTS7000215: Invalid client secret provided."),
    });
  });
});

describe("msal's clientCertificate reuses one assertion for 10 minutes", () => {
  const certApp = (target: Emulator) =>
    msalClient(target, {
      clientId: CLIENT,
      clientCertificate: { privateKey: f.cert.keyPem, thumbprintSha256: f.cert.thumbprintSha256Hex },
    });

  it("so a second resource within that window reuses it, and Entra (like the emulator by default) accepts it", async () => {
    const app = certApp(em);
    await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
    const second = await app.acquireTokenByClientCredential({ scopes: ["api://legacy/.default"] });
    expect(second?.accessToken).toBeTruthy();
  });

  it("and is refused as a replay (AADSTS50013) when the tenant sets rejectReplayedAssertions: true", async () => {
    const tenants = structuredClone(f.tenants);
    tenants.tenants[0]!.rejectReplayedAssertions = true;
    const strict = await startEmulator({ tenants });
    try {
      const app = certApp(strict);
      await app.acquireTokenByClientCredential({ scopes: ["api://broker/.default"] });
      await expect(app.acquireTokenByClientCredential({ scopes: ["api://legacy/.default"] })).rejects.toMatchObject({
        errorNo: 50013,
      });
    } finally {
      await strict.close();
    }
  });
});
