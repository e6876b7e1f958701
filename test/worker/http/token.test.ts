import { decodeJwt, decodeProtectedHeader, createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { DEPLOY, DEPLOYER_APP, INVENTORY, ORDERS_APP, nowSeconds, scenario } from "../support/scenario.ts";
import { captureLog } from "../support/audit-log.ts";

const log = captureLog();

describe("POST /token", () => {
  it("exchanges a v2.0 certificate-client token for an origin-scoped RFC 9068 token", async () => {
    const s = scenario();
    const response = await s.exchange();
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 300,
      scope: "inventory.read inventory.list",
    });
    const token = body.access_token as string;
    const jwks = (await (await s.fetch(new Request("https://broker.test/.well-known/jwks.json"))).json()) as {
      keys: JsonWebKey[];
    };
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
      issuer: "https://broker.test",
      audience: INVENTORY,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe("broker-es256-1");
    expect(payload).toMatchObject({
      sub: ORDERS_APP,
      client_id: ORDERS_APP,
      tid: s.tid,
      scope: "inventory.read inventory.list",
      roles: ["Inventory.Read"],
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe("string");
  });

  it("accepts a v1.0 token (appid/appidacr, sts issuer, app id URI audience) the same way", async () => {
    const s = scenario();
    const response = await s.exchange({ subject_token: await s.token({ version: "1.0" }) });
    expect(response.status).toBe(200);
    const payload = decodeJwt(((await response.json()) as { access_token: string }).access_token);
    expect(payload.client_id).toBe(ORDERS_APP);
  });

  it("writes one audit line per decision with the rule, jti and a hash, never the token", async () => {
    const s = scenario();
    const subject = await s.token();
    const response = await s.exchange({ subject_token: subject });
    const { access_token } = (await response.json()) as { access_token: string };
    const [line] = log.exchanges();
    expect(line).toMatchObject({
      outcome: "granted",
      reason: "granted",
      rule: "orders-reads-inventory",
      client_id: ORDERS_APP,
      tenant: s.tid,
      resource: INVENTORY,
    });
    expect(line!.jti).toBe(decodeJwt(access_token).jti);
    expect(line!.token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof line!.subject_token_remaining_s).toBe("number");
    const all = log.lines().join("\n");
    expect(all).not.toContain(access_token.split(".")[2]);
    expect(all).not.toContain(subject.split(".")[2]);
  });

  it("hands a repeated exchange the token it minted before, audited as a reuse by its jti", async () => {
    const s = scenario();
    const env = s.deployment();
    const subject = await s.token();
    const first = (await (await s.exchange({ subject_token: subject }, env)).json()) as Record<string, unknown>;
    const second = (await (await s.exchange({ subject_token: subject }, env)).json()) as Record<string, unknown>;
    expect(second.access_token).toBe(first.access_token);
    expect(second.expires_in).toBeLessThanOrEqual(first.expires_in as number);
    expect(second.expires_in).toBeGreaterThan((first.expires_in as number) - 5);
    const [minted, reused] = log.exchanges();
    expect(minted).toMatchObject({ outcome: "granted", token_reused: false });
    expect(minted!.token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(reused).toMatchObject({ outcome: "granted", token_reused: true, jti: minted!.jti });
    expect(reused!.token_sha256).toBeUndefined();
  });

  it("mints anew for another scope, another origin or another subject token", async () => {
    const s = scenario();
    const env = s.deployment();
    const subject = await s.token();
    const tokenOf = async (form: Record<string, string>) =>
      ((await (await s.exchange(form, env)).json()) as { access_token: string }).access_token;
    const all = await tokenOf({ subject_token: subject });
    const narrower = await tokenOf({ subject_token: subject, scope: "inventory.list" });
    const otherSubject = await tokenOf({ subject_token: await s.token({ claims: { uti: "another-token" } }) });
    expect(new Set([all, narrower, otherSubject]).size).toBe(3);
    expect(decodeJwt(narrower).scope).toBe("inventory.list");
    expect(await tokenOf({ subject_token: subject })).toBe(all);
  });

  it("grants a role-only rule to any client holding the role", async () => {
    const s = scenario();
    const token = await s.token({ claims: { azp: DEPLOYER_APP, roles: ["Deploy.Write"] } });
    const response = await s.exchange({ subject_token: token, resource: DEPLOY });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { expires_in: number }).expires_in).toBe(120);
  });

  it("narrows to the requested scopes when they are a subset", async () => {
    const s = scenario();
    const response = await s.exchange({ scope: "inventory.list" });
    const body = (await response.json()) as { scope: string; access_token: string };
    expect(body.scope).toBe("inventory.list");
    expect(decodeJwt(body.access_token).scope).toBe("inventory.list");
  });

  it("caps the lifetime at the subject token's remaining life", async () => {
    const s = scenario();
    const token = await s.token({ claims: { exp: nowSeconds() + 100 } });
    const body = (await (await s.exchange({ subject_token: token })).json()) as { expires_in: number };
    expect(body.expires_in).toBeLessThanOrEqual(100);
    expect(body.expires_in).toBeGreaterThan(90);
  });

  it("caps the lifetime at MAX_TOKEN_TTL_SECONDS", async () => {
    const s = scenario();
    const body = (await (await s.exchange({}, { MAX_TOKEN_TTL_SECONDS: "60" })).json()) as { expires_in: number };
    expect(body.expires_in).toBe(60);
  });

  it("signs with EdDSA when the active key is Ed25519", async () => {
    const s = scenario();
    const { inject } = await import("vitest");
    const response = await s.exchange({}, { BROKER_SIGNING_KEYS: inject("brokerSigningKeysEd25519") });
    const { access_token } = (await response.json()) as { access_token: string };
    expect(decodeProtectedHeader(access_token)).toMatchObject({
      alg: "EdDSA",
      typ: "at+jwt",
      kid: "broker-ed25519-next",
    });
  });

  it("fetches keys from ENTRA_JWKS_ORIGIN when set, while the issuer stays the authority host's", async () => {
    const s = scenario();
    const env = { ENTRA_AUTHORITY_HOST: "https://login.emulator.test", ENTRA_JWKS_ORIGIN: s.entraOrigin };
    const token = await s.token({ claims: { iss: `https://login.emulator.test/${s.tid}/v2.0` } });
    expect((await s.exchange({ subject_token: token }, env)).status).toBe(200);
    expect(await s.keyFetches()).toBe(1);
    const wrongIssuer = await s.token({ claims: { iss: `${s.entraOrigin}/${s.tid}/v2.0` } });
    expect((await s.exchange({ subject_token: wrongIssuer }, env)).status).toBe(400);
  });
});
