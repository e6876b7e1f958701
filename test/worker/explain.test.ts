import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLog } from "./support/audit-log.ts";
import { DEPLOY, DEPLOYER_APP, INVENTORY, nowSeconds, oauthError, POLICY, scenario } from "./support/scenario.ts";

// POST /explain: the caller's own view of the decision /token would take. Agreement with /token on
// every policy and adversarial case is asserted by those suites (agreement mode in scenario.ts);
// here: the shape of the answer, that nothing is minted, and that verification stays opaque.

const log = captureLog();
afterEach(() => vi.useRealTimers());

async function explained(response: Response): Promise<Record<string, unknown>> {
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return (await response.json()) as Record<string, unknown>;
}

describe("POST /explain: a verified caller asks about itself", () => {
  it("explains a grant: rule, scope, lifetime and what capped it, and mints nothing", async () => {
    const s = scenario();
    const body = await explained(await s.explain());
    expect(body).toEqual({
      decision: "granted",
      reason: "granted",
      rule: "orders-reads-inventory",
      scope: "inventory.read inventory.list",
      expiresIn: 300,
      lifetimeCappedBy: "rule",
      candidates: [{ rule: "orders-reads-inventory", missing: { roles: [], scopes: [] } }],
    });
    expect(log.exchanges()).toEqual([]);
    expect(log.lines().join("\n")).not.toMatch(/"jti"|token_sha256/);
  });

  it("names the broker's cap and the subject token's remaining life when they are shorter", async () => {
    const s = scenario();
    const capped = await explained(await s.explain({}, { MAX_TOKEN_TTL_SECONDS: "200" }));
    expect(capped).toMatchObject({ expiresIn: 200, lifetimeCappedBy: "broker" });

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(nowSeconds() * 1000 + 500);
    const now = nowSeconds();
    const short = await s.token({ claims: { exp: now + 90 } });
    const body = await explained(await s.explain({ subject_token: short }));
    expect(body).toMatchObject({ decision: "granted", expiresIn: 90, lifetimeCappedBy: "subject_token" });
  });

  it("explains a denial for missing roles with the rules that grant the origin and what is lacking", async () => {
    const s = scenario();
    const token = await s.token({ claims: { roles: ["Inventory.Write"] } });
    const body = await explained(await s.explain({ subject_token: token }));
    expect(body).toEqual({
      decision: "denied",
      reason: "resource_not_granted",
      candidates: [{ rule: "orders-reads-inventory", missing: { roles: ["Inventory.Read"], scopes: [] } }],
    });
  });

  it("explains a scope beyond every rule, naming the scopes each candidate lacks", async () => {
    const s = scenario();
    const body = await explained(await s.explain({ scope: "inventory.read inventory.delete" }));
    expect(body).toEqual({
      decision: "denied",
      reason: "scope_not_granted",
      candidates: [{ rule: "orders-reads-inventory", missing: { roles: [], scopes: ["inventory.delete"] } }],
    });
  });

  it("explains a token with no roles as no_roles", async () => {
    const s = scenario();
    const token = await s.token({ claims: { roles: undefined } });
    const body = await explained(await s.explain({ subject_token: token }));
    expect(body).toMatchObject({ decision: "denied", reason: "no_roles" });
  });

  it("explains a subject token too close to expiry as subject_token_expiring", async () => {
    const s = scenario();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(nowSeconds() * 1000 + 500);
    const token = await s.token({ claims: { exp: nowSeconds() + 5 } });
    const body = await explained(await s.explain({ subject_token: token }));
    expect(body).toMatchObject({ decision: "denied", reason: "subject_token_expiring" });
  });

  it("does not show a client the rules written for other clients or tenants", async () => {
    const s = scenario();
    const policy = {
      rules: [
        ...POLICY.rules,
        {
          name: "deployer-reads-inventory",
          match: { clients: [DEPLOYER_APP] },
          grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
        },
        {
          name: "other-tenant-reads-inventory",
          match: { roles: ["Inventory.Read"], tenants: [crypto.randomUUID()] },
          grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
        },
        {
          name: "anyone-with-audit-role",
          match: { roles: ["Inventory.Audit"] },
          grant: { origins: [INVENTORY], scopes: ["inventory.audit"], maxTtlSeconds: 60 },
        },
      ],
    };
    s.configure({ POLICY: JSON.stringify(policy) });
    const token = await s.token({ claims: { roles: ["Other.Role"] } });
    const body = await explained(await s.explain({ subject_token: token, scope: "inventory.audit" }));
    expect(body.candidates).toEqual([
      { rule: "orders-reads-inventory", missing: { roles: ["Inventory.Read"], scopes: ["inventory.audit"] } },
      { rule: "anyone-with-audit-role", missing: { roles: ["Inventory.Audit"], scopes: [] } },
    ]);
  });

  it("has no candidates for an origin no rule grants", async () => {
    const s = scenario();
    const body = await explained(await s.explain({ resource: "https://payroll.example.com" }));
    expect(body).toEqual({ decision: "denied", reason: "resource_not_granted", candidates: [] });
  });

  it("explains a role-only rule for any client", async () => {
    const s = scenario();
    const token = await s.token({ claims: { azp: DEPLOYER_APP, roles: ["Deploy.Write"] } });
    const body = await explained(await s.explain({ subject_token: token, resource: DEPLOY }));
    expect(body).toMatchObject({ decision: "granted", rule: "deployers-deploy", scope: "deploy", expiresIn: 120 });
  });
});

describe("POST /explain: no oracle for forged or foreign tokens", () => {
  const forgeries: Array<[string, (s: ReturnType<typeof scenario>) => Promise<string>]> = [
    ["a bad signature", async (s) => `${(await s.token()).slice(0, -8)}AAAAAAAA`],
    ["an expired token", async (s) => s.token({ claims: { exp: nowSeconds() - 3600, iat: nowSeconds() - 7200 } })],
    ["a foreign tenant", async (s) => s.token({ claims: { tid: crypto.randomUUID() } })],
    ["a wrong audience", async (s) => s.token({ claims: { aud: "api://someone-else" } })],
    ["a delegated token", async (s) => s.token({ claims: { scp: "user.read" } })],
    ["a secret-authenticated client", async (s) => s.token({ claims: { azpacr: "1" } })],
    ["not a JWT", async () => "not-a-token"],
  ];
  for (const [name, make] of forgeries) {
    it(`answers ${name} exactly as /token does, with the reason only in the audit log`, async () => {
      const s = scenario();
      const token = await make(s);
      const viaToken = await oauthError(await s.exchange({ subject_token: token }));
      const response = await s.explain({ subject_token: token });
      const text = await response.clone().text();
      expect(await oauthError(response)).toEqual(viaToken);
      expect(viaToken).toMatchObject({ status: 400, error: "invalid_request" });
      const reason = log.lastExchange()?.reason as string;
      expect(log.lastExplain()).toMatchObject({ outcome: "denied", reason });
      expect(text).not.toContain(reason);
      expect(text).not.toMatch(/decision|candidates/);
    });
  }

  it("refuses a malformed form as /token does", async () => {
    const s = scenario();
    for (const form of [{ resource: undefined }, { grant_type: "client_credentials" }, { scope: "a\tb" }]) {
      expect(await oauthError(await s.explain(form))).toEqual(await oauthError(await s.exchange(form)));
    }
  });

  it("answers 404 when EXPLAIN is off, and 405 to other methods", async () => {
    const s = scenario();
    const off = await s.explain({}, { EXPLAIN: "off" });
    expect(off.status).toBe(404);
    expect(log.explains()).toEqual([]);
    const get = await s.fetch(new Request("https://broker.test/explain"));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("refuses to start with an EXPLAIN value it does not know", async () => {
    const s = scenario();
    expect((await s.explain({}, { EXPLAIN: "everyone" })).status).toBe(500);
    expect(log.configProblems()).toContain('EXPLAIN is "everyone": use "self" or "off"');
  });
});

describe("audit events as CloudEvents", () => {
  it("wraps every decision in a CloudEvents 1.0 envelope naming the policy version, in one short line", async () => {
    const s = scenario();
    await s.exchange();
    await s.explain({ scope: "inventory.delete" });
    const lines = log.lines();
    expect(lines).toHaveLength(2);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) {
      expect(event).toMatchObject({
        specversion: "1.0",
        source: "https://broker.test",
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        data: { policy_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
    }
    expect(events.map((e) => e.type)).toEqual(["dev.identity-broker.exchange", "dev.identity-broker.explain"]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
    // A decision line stays under ~600 bytes; a grant carries two SHA-256s and three UUIDs more.
    const [grant, decision] = lines.map((line) => new TextEncoder().encode(line).byteLength);
    expect(decision).toBeLessThan(600);
    expect(grant).toBeLessThan(768);
  });

  it("gives the same policy_sha256 to the same policy as a TOML table or a JSON string, another to another", async () => {
    const s = scenario();
    const hash = async (policy: unknown) => {
      await s.explain({}, { POLICY: policy });
      return (log.lastExplain() as { policy_sha256: string }).policy_sha256;
    };
    const asString = await hash(JSON.stringify(POLICY));
    expect(await hash(structuredClone(POLICY))).toBe(asString);
    const changed = structuredClone(POLICY);
    changed.rules[0]!.grant.maxTtlSeconds = 301;
    expect(await hash(changed)).not.toBe(asString);
  });

  it("keeps an event with very many roles within the line limit", async () => {
    const s = scenario();
    const roles = Array.from({ length: 40 }, (_, i) => `Some.Long.Application.Role.Number.${i}`);
    const policy = {
      rules: [{ name: "many", match: { roles }, grant: { origins: [INVENTORY], scopes: ["x"], maxTtlSeconds: 60 } }],
    };
    const token = await s.token({ claims: { roles } });
    expect((await s.exchange({ subject_token: token }, { POLICY: JSON.stringify(policy) })).status).toBe(200);
    const line = log.lines().at(-1)!;
    expect(new TextEncoder().encode(line).byteLength).toBeLessThanOrEqual(1024);
    expect(log.lastExchange()).toMatchObject({ outcome: "granted", roles_count: 40, truncated: true });
  });
});
