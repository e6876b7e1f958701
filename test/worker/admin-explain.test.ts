import { describe, expect, it } from "vitest";
import { captureLog } from "./support/audit-log.ts";
import { DEPLOY, DEPLOYER_APP, INVENTORY, ORDERS_APP, scenario, type Scenario } from "./support/scenario.ts";

// POST /admin/explain: what-if for operators, authenticated as the admin API is (an Entra app-only
// token of a certificate client holding a role in ADMIN_ROLES), answering POST /explain's structure.

const log = captureLog();
const ADMIN_APP = "55555555-5555-4555-8555-555555555555";

async function adminToken(s: Scenario, claims: Record<string, unknown> = {}): Promise<string> {
  return s.token({ claims: { azp: ADMIN_APP, roles: ["Broker.Admin"], ...claims } });
}

async function ask(
  s: Scenario,
  body: unknown,
  options: { token?: string | null; env?: Record<string, string>; contentType?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "content-type": options.contentType ?? "application/json" };
  const token = options.token === undefined ? await adminToken(s) : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const request = new Request("https://broker.test/admin/explain", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return s.fetch(request, options.env);
}

const ORDERS_WHAT_IF = { client: ORDERS_APP, roles: ["Inventory.Read"], resource: INVENTORY };

describe("POST /admin/explain: authentication (RFC 6750)", () => {
  it("challenges a request without a token with a bare Bearer challenge", async () => {
    const s = scenario();
    const response = await ask(s, ORDERS_WHAT_IF, { token: null });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="https://broker.test"');
    expect(log.admins()).toEqual([expect.objectContaining({ outcome: "denied", reason: "token_missing" })]);
  });

  it("refuses a malformed Authorization header with 400 invalid_request", async () => {
    const s = scenario();
    const response = await s.fetch(
      new Request("https://broker.test/admin/explain", {
        method: "POST",
        headers: { authorization: "Bearer a b", "content-type": "application/json" },
        body: "{}",
      }),
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("refuses a token that fails verification with a generic invalid_token, the reason only in the log", async () => {
    const s = scenario();
    const forged = `${(await adminToken(s)).slice(0, -8)}AAAAAAAA`;
    const response = await ask(s, ORDERS_WHAT_IF, { token: forged });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(
      /^Bearer realm="https:\/\/broker.test", error="invalid_token"/,
    );
    const text = await response.text();
    expect(text).not.toContain("signature_invalid");
    expect(log.admins().at(-1)).toMatchObject({ outcome: "denied", reason: "signature_invalid" });
  });

  it("refuses a token in the query with 400 invalid_request", async () => {
    const s = scenario();
    const response = await s.fetch(
      new Request(`https://broker.test/admin/explain?access_token=${await adminToken(s)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ORDERS_WHAT_IF),
      }),
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
    expect(log.admins().at(-1)).toMatchObject({ outcome: "denied", reason: "token_in_query" });
  });

  it("answers 503 temporarily_unavailable with Retry-After when Entra's keys cannot be had", async () => {
    const s = scenario();
    const token = await adminToken(s);
    await s.setKeys({ mode: "down" });
    const response = await ask(s, ORDERS_WHAT_IF, { token });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(((await response.json()) as { error: string }).error).toBe("temporarily_unavailable");
    expect(log.admins().at(-1)).toMatchObject({ outcome: "denied", reason: "jwks_unavailable" });
  });

  it("refuses a valid token without an admin role with 403 insufficient_scope naming the roles", async () => {
    const s = scenario();
    const response = await ask(s, ORDERS_WHAT_IF, { token: await s.token() });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(await response.json()).toMatchObject({ error_description: expect.stringContaining("Broker.Admin") });
    expect(log.admins().at(-1)).toMatchObject({ reason: "admin_role_missing", client_id: ORDERS_APP });
  });

  it("takes the admin roles from ADMIN_ROLES", async () => {
    const s = scenario();
    const env = { ADMIN_ROLES: "Ops.Explain, Ops.All" };
    expect((await ask(s, ORDERS_WHAT_IF, { env })).status).toBe(403);
    const ops = await adminToken(s, { roles: ["Ops.Explain"] });
    expect((await ask(s, ORDERS_WHAT_IF, { env, token: ops })).status).toBe(200);
  });

  it("refuses a secret-authenticated client even where exchanges admit client secrets", async () => {
    const s = scenario();
    const token = await adminToken(s, { azpacr: "1" });
    const response = await ask(s, ORDERS_WHAT_IF, { token, env: { REQUIRE_CERTIFICATE_CLIENTS: "false" } });
    expect(response.status).toBe(403);
    expect(log.admins().at(-1)).toMatchObject({ reason: "client_not_certificate_authenticated" });
  });
});

describe("POST /admin/explain: what-if", () => {
  it("answers POST /explain's structure for an identity, without any token of it, and mints nothing", async () => {
    const s = scenario();
    const response = await ask(s, ORDERS_WHAT_IF);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({
      decision: "granted",
      reason: "granted",
      rule: "orders-reads-inventory",
      scope: "inventory.read inventory.list",
      expiresIn: 300,
      lifetimeCappedBy: "rule",
      candidates: [{ rule: "orders-reads-inventory", missing: { roles: [], scopes: [] } }],
      tenant: s.tid,
    });
    expect(log.exchanges()).toEqual([]);
    expect(log.admins().at(-1)).toMatchObject({
      action: "explain",
      outcome: "granted",
      client_id: ADMIN_APP,
      target_client: ORDERS_APP,
      target_tenant: s.tid,
      rule: "orders-reads-inventory",
    });
  });

  it("gives the same answer as the identity's own POST /explain", async () => {
    const s = scenario();
    const cases = [
      { roles: ["Inventory.Read"], resource: INVENTORY, scope: "inventory.read" },
      { roles: ["Inventory.Write"], resource: INVENTORY },
      { roles: [], resource: INVENTORY },
      { roles: ["Inventory.Read"], resource: INVENTORY, scope: "inventory.read inventory.delete" },
      { roles: ["Deploy.Write"], resource: DEPLOY, client: DEPLOYER_APP },
    ];
    for (const c of cases) {
      const client = c.client ?? ORDERS_APP;
      const token = await s.token({ claims: { azp: client, roles: c.roles.length > 0 ? c.roles : undefined } });
      const own = await (await s.explain({ subject_token: token, resource: c.resource, scope: c.scope })).json();
      const whatIf = (await (await ask(s, { ...c, client })).json()) as Record<string, unknown>;
      const { tenant, ...rest } = whatIf;
      expect(tenant).toBe(s.tid);
      expect(rest).toEqual(own);
    }
  });

  it("explains a denial with the candidates and what the identity lacks", async () => {
    const s = scenario();
    const response = await ask(s, { client: ORDERS_APP, roles: [], resource: INVENTORY, scope: "inventory.write" });
    expect(await response.json()).toMatchObject({
      decision: "denied",
      reason: "no_roles",
      candidates: [
        { rule: "orders-reads-inventory", missing: { roles: ["Inventory.Read"], scopes: ["inventory.write"] } },
      ],
    });
  });

  it("denies a tenant the broker does not accept as tenant_not_allowed", async () => {
    const s = scenario();
    const other = crypto.randomUUID();
    const response = await ask(s, { ...ORDERS_WHAT_IF, tenant: other });
    expect(await response.json()).toEqual({
      decision: "denied",
      reason: "tenant_not_allowed",
      tenant: other,
      candidates: [],
    });
  });

  it("needs the tenant when the broker accepts several", async () => {
    const s = scenario();
    const env = { ENTRA_TENANT_IDS: `${s.tid},${crypto.randomUUID()}` };
    const response = await ask(s, ORDERS_WHAT_IF, { env });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "invalid_request",
      error_description: "tenant is required: this broker accepts 2 tenants",
    });
    expect((await ask(s, { ...ORDERS_WHAT_IF, tenant: s.tid }, { env })).status).toBe(200);
  });

  const badBodies: Array<[string, unknown, string, string?]> = [
    ["not JSON", "{", "body is not valid UTF-8 JSON"],
    ["an array", [], "body must be a JSON object with tenant, client, roles, resource, scope"],
    ["an unknown field", { ...ORDERS_WHAT_IF, role: "x" }, "role unknown field"],
    ["a client that is not a GUID", { ...ORDERS_WHAT_IF, client: "orders" }, "client must be"],
    ["roles as a string", { ...ORDERS_WHAT_IF, roles: "Inventory.Read" }, "roles must be"],
    ["a resource with a path", { ...ORDERS_WHAT_IF, resource: `${INVENTORY}/items` }, "resource must be"],
    ["a malformed scope", { ...ORDERS_WHAT_IF, scope: "a\tb" }, "scope must be"],
    ["a tenant name", { ...ORDERS_WHAT_IF, tenant: "contoso.onmicrosoft.com" }, "tenant must be"],
    ["form data", "client=x", "body must be application/json", "application/x-www-form-urlencoded"],
  ];
  for (const [name, body, description, contentType] of badBodies) {
    it(`refuses ${name} with 400 naming the field`, async () => {
      const s = scenario();
      const response = await ask(s, body, { contentType });
      expect(response.status).toBe(400);
      const got = (await response.json()) as { error: string; error_description: string };
      expect(got.error).toBe("invalid_request");
      expect(got.error_description.startsWith(description)).toBe(true);
    });
  }
});
