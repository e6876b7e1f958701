import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { DEPLOY, DEPLOYER_APP, INVENTORY, ORDERS_APP, oauthError, scenario } from "../support/scenario.ts";
import { captureLog } from "../support/audit-log.ts";

// Deny by default: the decision stage driven through POST /token (the table of decide() itself is
// in policy.test.ts).

const log = captureLog();

describe("policy decisions", () => {
  it("denies a token with no roles at all as invalid_target (no_roles)", async () => {
    const s = scenario();
    const body = await oauthError(await s.exchange({ subject_token: await s.token({ claims: { roles: undefined } }) }));
    expect(body).toMatchObject({ status: 400, error: "invalid_target" });
    expect(log.lastExchange()).toMatchObject({ reason: "no_roles", client_id: ORDERS_APP });
  });

  it("denies a client whose roles do not cover the rule", async () => {
    const s = scenario();
    const body = await oauthError(
      await s.exchange({ subject_token: await s.token({ claims: { roles: ["Inventory.Write"] } }) }),
    );
    expect(body.error).toBe("invalid_target");
    expect(log.lastExchange()?.reason).toBe("resource_not_granted");
  });

  it("matches roles case-sensitively, like Entra's role values", async () => {
    const s = scenario();
    const body = await oauthError(
      await s.exchange({ subject_token: await s.token({ claims: { roles: ["inventory.read"] } }) }),
    );
    expect(body.error).toBe("invalid_target");
  });

  it("denies the right role from the wrong client when the rule names clients", async () => {
    const s = scenario();
    const body = await oauthError(
      await s.exchange({ subject_token: await s.token({ claims: { azp: DEPLOYER_APP } }) }),
    );
    expect(body.error).toBe("invalid_target");
  });

  it("denies an origin no rule grants", async () => {
    const s = scenario();
    const body = await oauthError(await s.exchange({ resource: "https://payroll.example.com" }));
    expect(body).toMatchObject({
      error: "invalid_target",
      error_description: "the requested resource is not granted to this client",
    });
  });

  it("does not let a suffix or sub-domain ride on a granted origin", async () => {
    const s = scenario();
    for (const resource of [
      "https://evil-inventory.example.com",
      "https://inventory.example.com.evil.net",
      "https://a.inventory.example.com",
      "https://inventory.example.com:8443",
    ]) {
      expect((await oauthError(await s.exchange({ resource }))).error).toBe("invalid_target");
    }
  });

  it("denies a scope beyond the grant with invalid_scope, naming the scope", async () => {
    const s = scenario();
    const body = await oauthError(await s.exchange({ scope: "inventory.read inventory.delete" }));
    expect(body).toMatchObject({
      status: 400,
      error: "invalid_scope",
      error_description: "scope not granted for this resource: inventory.delete",
    });
    expect(log.lastExchange()?.reason).toBe("scope_not_granted");
  });

  it("does not combine two rules' scopes into one token", async () => {
    const s = scenario();
    const policy = {
      rules: [
        {
          name: "a",
          match: { clients: [ORDERS_APP] },
          grant: { origins: [INVENTORY], scopes: ["read"], maxTtlSeconds: 60 },
        },
        {
          name: "b",
          match: { clients: [ORDERS_APP] },
          grant: { origins: [INVENTORY], scopes: ["write"], maxTtlSeconds: 600 },
        },
      ],
    };
    s.configure({ POLICY: JSON.stringify(policy) });
    expect((await oauthError(await s.exchange({ scope: "read write" }))).error).toBe("invalid_scope");
    const write = (await (await s.exchange({ scope: "write" })).json()) as { expires_in: number };
    expect(write.expires_in).toBe(600);
    expect(log.lastExchange()?.rule).toBe("b");
    const none = (await (await s.exchange()).json()) as { scope: string; expires_in: number };
    expect(none).toMatchObject({ scope: "read", expires_in: 60 });
  });

  it("limits a rule to its tenants", async () => {
    const s = scenario();
    const policy = {
      rules: [
        {
          name: "other-tenant",
          match: { clients: [ORDERS_APP], tenants: [crypto.randomUUID()] },
          grant: { origins: [INVENTORY], scopes: ["read"], maxTtlSeconds: 60 },
        },
      ],
    };
    expect((await oauthError(await s.exchange({}, { POLICY: JSON.stringify(policy) }))).error).toBe("invalid_target");
  });

  it("accepts the policy as a TOML table (an object) as well as a JSON string", async () => {
    const s = scenario();
    const policy = {
      rules: [
        {
          name: "deploy",
          match: { roles: ["Deploy.Write"] },
          grant: { origins: [DEPLOY], scopes: ["deploy"], maxTtlSeconds: 30 },
        },
      ],
    };
    const response = await s.exchange(
      { resource: DEPLOY, subject_token: await s.token({ claims: { roles: ["Deploy.Write"] } }) },
      { POLICY: policy },
    );
    expect(response.status).toBe(200);
  });

  it("denies a rule that requires two roles to a caller holding only one of them", async () => {
    const s = scenario();
    const rule = {
      name: "two-roles",
      match: { roles: ["Inventory.Read", "Inventory.Write"] },
      grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
    };
    const env = { POLICY: JSON.stringify({ rules: [rule] }) };
    const one = await s.token({ claims: { roles: ["Inventory.Read"] } });
    expect((await oauthError(await s.exchange({ subject_token: one }, env))).error).toBe("invalid_target");
    expect(log.lastReason()).toBe("resource_not_granted");
    const both = await s.token({ claims: { roles: ["Inventory.Write", "Inventory.Read"] } });
    expect((await s.exchange({ subject_token: both }, env)).status).toBe(200);
  });

  it("puts into the minted token only the roles the granting rule required, not all the caller's", async () => {
    const s = scenario();
    const token = await s.token({ claims: { roles: ["Inventory.Read", "Admin.All", "Deploy.Write"] } });
    const response = await s.exchange({ subject_token: token });
    const minted = decodeJwt(((await response.json()) as { access_token: string }).access_token);
    expect(minted.roles).toEqual(["Inventory.Read"]);
    expect(log.lastExchange()).toMatchObject({ roles: ["Inventory.Read"] });
  });

  it("mints roles [] from a rule that matches on the client alone", async () => {
    const s = scenario();
    const rule = {
      name: "orders-by-client",
      match: { clients: [ORDERS_APP] },
      grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
    };
    const token = await s.token({ claims: { roles: ["Inventory.Read", "Admin.All"] } });
    const response = await s.exchange({ subject_token: token }, { POLICY: JSON.stringify({ rules: [rule] }) });
    const minted = decodeJwt(((await response.json()) as { access_token: string }).access_token);
    expect(minted.roles).toEqual([]);
  });
});
