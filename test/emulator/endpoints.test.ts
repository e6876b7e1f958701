// Endpoint details compared with Entra's: the v1 issuer on another host, /common and /organizations
// discovery with the {tenantid} template, per-tenant keys in the common key set, tenant-name errors,
// the v1 token endpoint, client_secret_basic, the `resource` parameter on v2, lifetimes and refresh_in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import {
  CLIENT,
  OTHER_TENANT,
  SECRET,
  TENANT,
  createFixture,
  expectEntraError,
  get,
  msalClient,
  postRaw,
  postToken,
  secretForm,
  type Fixture,
} from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants });
});
afterAll(() => em?.close());

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

describe("issuers", () => {
  it("puts the v1 issuer on Entra's sts.windows.net host, which serves nothing: keys come from the emulator", async () => {
    const v1 = (await get(em, `${em.authority(TENANT)}/.well-known/openid-configuration`)).body;
    expect(v1.issuer).toBe(`https://sts.windows.net/${TENANT}/`);
    expect(new URL(v1.jwks_uri).origin).toBe(em.httpsOrigin);
    const token = await em.issueToken({ tenantId: TENANT, clientId: CLIENT, resource: "api://legacy" });
    expect(decodeJwt(token.access_token).iss).toBe(`https://sts.windows.net/${TENANT}/`);
  });

  it("lets stsHost move the v1 issuer elsewhere", async () => {
    const other = await startEmulator({ tenants: f.tenants, stsHost: "https://sts.test" });
    try {
      expect(other.issuer(TENANT, 1)).toBe(`https://sts.test/${TENANT}/`);
    } finally {
      await other.close();
    }
  });
});

describe("/common and /organizations", () => {
  it.each(["common", "organizations"])(
    "serve v2 discovery with the {tenantid} issuer template and no region",
    async (alias) => {
      const r = await get(em, `${em.httpsOrigin}/${alias}/v2.0/.well-known/openid-configuration`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        issuer: `${em.httpsOrigin}/{tenantid}/v2.0`,
        token_endpoint: `${em.httpsOrigin}/${alias}/oauth2/v2.0/token`,
        jwks_uri: `${em.httpsOrigin}/${alias}/discovery/v2.0/keys`,
        tenant_region_scope: null,
      });
      const v1 = await get(em, `${em.httpsOrigin}/${alias}/.well-known/openid-configuration`);
      expect(v1.body.issuer).toBe("https://sts.windows.net/{tenantid}/");
    },
  );

  it("publish the shared keys with the template and a tenant's own keys with its fixed issuer", async () => {
    const common = (await get(em, `${em.httpsOrigin}/common/discovery/v2.0/keys`)).body.keys as any[];
    const own = (await get(em, `${em.authority(OTHER_TENANT)}/discovery/v2.0/keys`)).body.keys as any[];
    const shared = (await get(em, `${em.authority(TENANT)}/discovery/v2.0/keys`)).body.keys as any[];
    expect(new Set(shared.map((k) => k.issuer))).toEqual(new Set([`${em.httpsOrigin}/{tenantid}/v2.0`]));
    expect(new Set(own.map((k) => k.issuer))).toEqual(new Set([`${em.httpsOrigin}/${OTHER_TENANT}/v2.0`]));
    expect(own.map((k) => k.kid)).not.toContain(shared[0].kid);
    expect(common.map((k) => k.kid).sort()).toEqual([...shared, ...own].map((k) => k.kid).sort());
    const fixed = common.find((k) => k.kid === own[0].kid);
    expect(fixed.issuer).toBe(`${em.httpsOrigin}/${OTHER_TENANT}/v2.0`);
  });

  it("sign a tenant with its own keys with one of those keys", async () => {
    const own = (await get(em, `${em.authority(OTHER_TENANT)}/discovery/v2.0/keys`)).body.keys.map((k: any) => k.kid);
    expect(own).toContain(em.activeKid(OTHER_TENANT));
    expect(em.activeKid(OTHER_TENANT)).not.toBe(em.activeKid(TENANT));
  });

  it("refuse client credentials on /common and /consumers (AADSTS9001023) and /organizations (AADSTS90019)", async () => {
    for (const alias of ["common", "consumers"]) {
      expectEntraError(await postToken(em, secretForm(), alias), 400, "invalid_request", 9001023);
    }
    expectEntraError(await postToken(em, secretForm(), "organizations"), 400, "invalid_request", 90019);
  });
});

describe("tenant documents and names", () => {
  it("set tenant_region_scope from the tenant file (default NA)", async () => {
    const na = await get(em, `${em.authority(TENANT)}/v2.0/.well-known/openid-configuration`);
    const eu = await get(em, `${em.authority(OTHER_TENANT)}/v2.0/.well-known/openid-configuration`);
    expect([na.body.tenant_region_scope, eu.body.tenant_region_scope]).toEqual(["NA", "EU"]);
  });

  it("refuse a malformed tenant name with AADSTS900023, an unknown well-formed one with AADSTS90002", async () => {
    expectEntraError(await postToken(em, secretForm(), "not_a_tenant"), 400, "invalid_request", 900023);
    const doc = await get(em, `${em.httpsOrigin}/not_a_tenant/v2.0/.well-known/openid-configuration`);
    expect([doc.status, doc.body.error, doc.body.error_codes]).toEqual([400, "invalid_tenant", [900023]]);
    expectEntraError(await postToken(em, secretForm(), "unknown.example"), 400, "invalid_request", 90002);
  });
});

describe("token endpoint details", () => {
  it("refuses the v1 `resource` parameter on the v2 endpoint with AADSTS901002", async () => {
    const r = await postToken(em, secretForm({ resource: "api://broker" }));
    expectEntraError(r, 400, "invalid_request", 901002, "The 'resource' request parameter is not supported.");
  });

  it("refuses any scope without /.default with AADSTS1002012, even beside a /.default one", async () => {
    const r = await postToken(em, secretForm({ scope: "User.Read api://broker/.default" }));
    expectEntraError(r, 400, "invalid_scope", 1002012);
  });

  it("accepts client_secret_basic (form-urlencoded id and secret), and refuses a wrong one as 7000215", async () => {
    const basic = (id: string, secret: string) =>
      `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
    const body = form({ grant_type: "client_credentials", scope: "api://broker/.default" });
    const ok = await postRaw(em, em.tokenEndpoint(TENANT), body, { Authorization: basic(CLIENT, SECRET) });
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token).azpacr).toBe("1");
    const bad = await postRaw(em, em.tokenEndpoint(TENANT), body, { Authorization: basic(CLIENT, "nope") });
    expectEntraError(bad, 401, "invalid_client", 7000215);
    const both = await postRaw(em, em.tokenEndpoint(TENANT), form({ ...secretForm(), client_id: CLIENT }), {
      Authorization: basic(CLIENT, SECRET),
    });
    expectEntraError(both, 400, "invalid_request", 900144, "one client authentication method");
  });

  it("echoes client-request-id as the response header (and as correlation_id in errors)", async () => {
    const id = "0f0e0d0c-0b0a-4909-8807-060504030201";
    const r = await postRaw(em, em.tokenEndpoint(TENANT), form(secretForm()), { "client-request-id": id });
    expect([r.status, r.headers["client-request-id"]]).toEqual([200, id]);
  });

  it("serves the v1 endpoint it advertises: resource=, answer with string times and the resource", async () => {
    const url = `${em.authority(TENANT)}/oauth2/token`;
    const v1Form = { grant_type: "client_credentials", client_id: CLIENT, client_secret: SECRET };
    const r = await postRaw(em, url, form({ ...v1Form, resource: "api://legacy" }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: "Bearer", resource: "api://legacy", expires_in: "3599" });
    expect(Number(r.body.expires_on) - Number(r.body.not_before)).toBe(3599 + 300);
    expect(decodeJwt(r.body.access_token)).toMatchObject({ aud: "api://legacy", ver: "1.0" });
    expectEntraError(await postRaw(em, url, form(v1Form)), 400, "invalid_request", 900144, "'resource'");
  });
});

describe("lifetimes", () => {
  it("optionally gives Entra's random 60-90 minute lifetimes, and refresh_in that msal turns into refreshOn", async () => {
    const live = await startEmulator({ tenants: f.tenants, randomTokenLifetime: true, refreshIn: true });
    try {
      const lifetimes = new Set<number>();
      for (let i = 0; i < 8; i++) {
        const t = await live.issueToken({ tenantId: TENANT, clientId: CLIENT, resource: "api://broker" });
        expect(t.expires_in).toBeGreaterThanOrEqual(3600);
        expect(t.expires_in).toBeLessThan(5400);
        expect(t.refresh_in).toBe(Math.floor(t.expires_in / 2));
        lifetimes.add(t.expires_in);
      }
      expect(lifetimes.size).toBeGreaterThan(1);
      const result = await msalClient(live, { clientId: CLIENT, clientSecret: SECRET }).acquireTokenByClientCredential({
        scopes: ["api://broker/.default"],
      });
      const left = (result!.refreshOn!.getTime() - Date.now()) / 1000;
      expect(left).toBeGreaterThan(1700);
      expect(left).toBeLessThan(2800);
    } finally {
      await live.close();
    }
  });

  it("leaves refresh_in out by default", async () => {
    const t = await em.issueToken({ tenantId: TENANT, clientId: CLIENT, resource: "api://broker" });
    expect(t).not.toHaveProperty("refresh_in");
    expect(t.expires_in).toBe(3599);
  });
});
