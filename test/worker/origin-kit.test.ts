import { Hono } from "hono";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import {
  type BrokerAuthVariables,
  BrokerTokenError,
  brokerAuth,
  protectedResourceMetadata,
  verifyBrokerToken,
} from "../../origin/src/index.ts";
import { sha256Hex } from "../../origin/src/sha256.ts";
import type { Env } from "../../worker/config.ts";
import { ADVERSARIAL_CASES } from "../origin/support/adversarial-table.ts";
import { standInBroker } from "../origin/support/stand-in-broker.ts";
import { DEPLOY, INVENTORY, ORDERS_APP, type Scenario, scenario } from "./support/scenario.ts";

// The origin kit inside workerd, against tokens minted by the real broker Worker: the kit reaches
// the broker's metadata and JWKS through a fetch that calls the Worker, as a service binding would.

const ISSUER = "https://broker.test";

function brokerFetch(s: Scenario, env: Partial<Env> = {}) {
  return (input: string, init: RequestInit) => s.fetch(new Request(input, init), env);
}

async function mintedToken(s: Scenario, form: Record<string, string> = {}, env: Partial<Env> = {}): Promise<string> {
  const response = await s.exchange({ scope: "inventory.read", ...form }, env);
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("the origin kit with tokens from the broker (workerd)", () => {
  it("verifies an ES256 token the broker minted for this origin", async () => {
    const s = scenario();
    const token = await mintedToken(s);
    const verified = await verifyBrokerToken(token, {
      issuer: ISSUER,
      audience: INVENTORY,
      scopes: ["inventory.read"],
      fetch: brokerFetch(s),
    });
    expect(verified).toMatchObject({
      clientId: ORDERS_APP,
      scopes: ["inventory.read"],
      roles: ["Inventory.Read"],
      tenantId: s.tid,
    });
    expect(verified.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(verified.jti).toBe(verified.claims.jti);
  });

  it("verifies an EdDSA token from a broker signing with Ed25519", async () => {
    const s = scenario();
    const env = { BROKER_SIGNING_KEYS: inject("brokerSigningKeysEd25519") };
    const token = await mintedToken(s, {}, env);
    const verified = await verifyBrokerToken(token, {
      issuer: ISSUER,
      audience: INVENTORY,
      fetch: brokerFetch(s, env),
    });
    expect(verified.clientId).toBe(ORDERS_APP);
  });

  it("follows the broker's key rotation between requests without a refetch (the next key is published ahead)", async () => {
    const s = scenario();
    let env: Partial<Env> = {};
    let fetches = 0;
    const fetcher = (input: string, init: RequestInit) => {
      // Key fetches only: the kit's revocation poll (GET /revocations) is not what this test counts.
      if (new URL(input).pathname !== "/revocations") fetches++;
      return s.fetch(new Request(input, init), env);
    };
    const options = { issuer: ISSUER, audience: INVENTORY, scopes: ["inventory.read"], fetch: fetcher };
    const before = await mintedToken(s);
    await verifyBrokerToken(before, options);
    expect(fetches).toBe(2); // metadata + JWKS
    // The broker now signs with its next key (Ed25519), which its JWKS already listed.
    env = { BROKER_SIGNING_KEYS: inject("brokerSigningKeysEd25519") };
    const after = await mintedToken(s, {}, env);
    await expect(verifyBrokerToken(after, options)).resolves.toMatchObject({ clientId: ORDERS_APP });
    await expect(verifyBrokerToken(before, options)).resolves.toMatchObject({ clientId: ORDERS_APP });
    expect(fetches).toBe(2);
  });

  it("refuses the broker's token for another origin", async () => {
    const s = scenario();
    const entra = await s.token({ claims: { roles: ["Deploy.Write"] } });
    const token = await mintedToken(s, { subject_token: entra, resource: DEPLOY, scope: "deploy" });
    const error = await verifyBrokerToken(token, { issuer: ISSUER, audience: INVENTORY, fetch: brokerFetch(s) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrokerTokenError);
    expect(error).toMatchObject({ code: "audience_mismatch", status: 401 });
  });

  it("refuses the Entra token the caller exchanged (it is not a broker token)", async () => {
    const s = scenario();
    const entra = await s.token();
    await expect(
      verifyBrokerToken(entra, { issuer: ISSUER, audience: INVENTORY, fetch: brokerFetch(s) }),
    ).rejects.toMatchObject({ code: "alg_not_allowed" });
  });

  it("guards a Hono app on Workers: 200 with c.get('brokerToken'), 401 and 403 with RFC 6750 challenges", async () => {
    const s = scenario();
    const app = new Hono<{ Variables: BrokerAuthVariables }>();
    app.use(protectedResourceMetadata({ resource: INVENTORY, issuer: ISSUER, scopes: ["inventory.read"] }));
    app.use(
      "/items/*",
      brokerAuth({ issuer: ISSUER, audience: INVENTORY, scopes: ["inventory.read"], fetch: brokerFetch(s) }),
    );
    app.use(
      "/admin/*",
      brokerAuth({ issuer: ISSUER, audience: INVENTORY, scopes: ["inventory.admin"], fetch: brokerFetch(s) }),
    );
    app.get("/items/:id", (c) => c.json({ client: c.get("brokerToken").clientId }));
    app.get("/admin/:id", (c) => c.json({ client: c.get("brokerToken").clientId }));
    const token = await mintedToken(s);
    const auth = { headers: { authorization: `Bearer ${token}` } };

    const ok = await app.request("/items/1", auth);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ client: ORDERS_APP });

    const missing = await app.request("/items/1");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe(
      `Bearer scope="inventory.read", resource_metadata="${INVENTORY}/.well-known/oauth-protected-resource"`,
    );

    const forbidden = await app.request("/admin/1", auth);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("www-authenticate")).toMatch(
      /^Bearer error="insufficient_scope".*scope="inventory.admin"/,
    );

    const metadata = await app.request("/.well-known/oauth-protected-resource");
    expect(await metadata.json()).toMatchObject({ resource: INVENTORY, authorization_servers: [ISSUER] });
  });
});

describe("the verified-token cache key on Workers", () => {
  it("is the SHA-256 Workers' native digest computes", async () => {
    for (const input of ["", "abc", "a".repeat(55), "a".repeat(56), "a".repeat(64), await scenario().token(), "ü€😀"]) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input)));
      expect(sha256Hex(input)).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    }
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("the origin kit's adversarial table (workerd)", async () => {
  const broker = await standInBroker();
  for (const row of ADVERSARIAL_CASES) {
    it(`${row.name}: ${row.status} ${row.code}`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await row.make(broker, now);
      const options = { issuer: broker.issuer, audience: INVENTORY, scopes: ["inventory.read"], fetch: broker.fetch };
      const error = await verifyBrokerToken(token, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerTokenError);
      expect(error).toMatchObject({ code: row.code, status: row.status });
    });
  }
});
