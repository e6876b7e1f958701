import { describe, expect, it } from "vitest";
import { decide, parsePolicy, type CallerIdentity, type Policy } from "../../worker/policy.ts";

// worker/policy.ts, the decision stage as a table: pure data in, Grant or Denial out. The HTTP
// cases in policy-decisions.test.ts show the same rules through POST /token.

const TENANT = "11111111-1111-4111-8111-111111111111";
const OTHER_TENANT = "99999999-9999-4999-8999-999999999999";
const ORDERS = "33333333-3333-4333-8333-333333333333";
const DEPLOYER = "44444444-4444-4444-8444-444444444444";
const API = "https://api.example.com";

function policy(...rules: unknown[]): Policy {
  const parsed = parsePolicy({ rules });
  if (!parsed.ok) throw new Error(parsed.error.join("; "));
  return parsed.value;
}

const rule = (name: string, match: unknown, scopes = ["read", "write"], origins = [API], maxTtlSeconds = 300) => ({
  name,
  match,
  grant: { origins, scopes, maxTtlSeconds },
});

const caller = (roles: string[], appId = ORDERS, tenantId = TENANT): CallerIdentity => ({ tenantId, appId, roles });

interface Case {
  name: string;
  policy: Policy;
  caller: CallerIdentity;
  resource?: string;
  scopes?: string[];
  want:
    | { rule: string; scopes: string[]; roles: string[]; maxTtlSeconds?: number }
    | { denied: string; scopes?: string[] };
}

const cases: Case[] = [
  {
    name: "a rule requiring two roles, caller holding one of them: denied (every role, not some)",
    policy: policy(rule("two-roles", { roles: ["Orders.Read", "Orders.Write"] })),
    caller: caller(["Orders.Read"]),
    want: { denied: "resource_not_granted" },
  },
  {
    name: "a rule requiring two roles, caller holding both and more",
    policy: policy(rule("two-roles", { roles: ["Orders.Read", "Orders.Write"] })),
    caller: caller(["Orders.Write", "Audit.Read", "Orders.Read"]),
    want: { rule: "two-roles", scopes: ["read", "write"], roles: ["Orders.Read", "Orders.Write"] },
  },
  {
    name: "the grant carries only the roles the rule required, not all the caller's roles",
    policy: policy(rule("reader", { roles: ["Orders.Read"] })),
    caller: caller(["Orders.Read", "Admin.All", "Deploy.Write"]),
    want: { rule: "reader", scopes: ["read", "write"], roles: ["Orders.Read"] },
  },
  {
    name: "a clients-only rule grants with no roles, whatever roles the caller holds",
    policy: policy(rule("orders-app", { clients: [ORDERS] })),
    caller: caller(["Orders.Read", "Admin.All"]),
    want: { rule: "orders-app", scopes: ["read", "write"], roles: [] },
  },
  {
    name: "a clients-only rule for another client",
    policy: policy(rule("orders-app", { clients: [ORDERS] })),
    caller: caller(["Orders.Read"], DEPLOYER),
    want: { denied: "resource_not_granted" },
  },
  {
    name: "no roles at all and no rule matching the client",
    policy: policy(rule("reader", { roles: ["Orders.Read"] })),
    caller: caller([]),
    want: { denied: "no_roles" },
  },
  {
    name: "clients and roles: both must match",
    policy: policy(rule("both", { clients: [ORDERS], roles: ["Orders.Read"] })),
    caller: caller(["Orders.Read"], DEPLOYER),
    want: { denied: "resource_not_granted" },
  },
  {
    name: "a tenant-restricted rule and a caller from another allow-listed tenant",
    policy: policy(rule("tenant", { roles: ["Orders.Read"], tenants: [TENANT] })),
    caller: caller(["Orders.Read"], ORDERS, OTHER_TENANT),
    want: { denied: "resource_not_granted" },
  },
  {
    name: "roles match case-sensitively",
    policy: policy(rule("reader", { roles: ["Orders.Read"] })),
    caller: caller(["orders.read"]),
    want: { denied: "resource_not_granted" },
  },
  {
    name: "an origin no rule grants",
    policy: policy(rule("reader", { roles: ["Orders.Read"] })),
    caller: caller(["Orders.Read"]),
    resource: "https://other.example.com",
    want: { denied: "resource_not_granted" },
  },
  {
    name: "requested scopes within the rule: exactly those",
    policy: policy(rule("reader", { roles: ["Orders.Read"] })),
    caller: caller(["Orders.Read"]),
    scopes: ["write"],
    want: { rule: "reader", scopes: ["write"], roles: ["Orders.Read"] },
  },
  {
    name: "a scope beyond every matching rule, named in the denial",
    policy: policy(rule("reader", { roles: ["Orders.Read"] }, ["read"])),
    caller: caller(["Orders.Read"]),
    scopes: ["read", "admin"],
    want: { denied: "scope_not_granted", scopes: ["admin"] },
  },
  {
    name: "scopes split across two rules are not combined: one rule grants",
    policy: policy(rule("r", { roles: ["Orders.Read"] }, ["read"]), rule("w", { roles: ["Orders.Read"] }, ["write"])),
    caller: caller(["Orders.Read"]),
    scopes: ["read", "write"],
    want: { denied: "scope_not_granted", scopes: [] },
  },
  {
    name: "the first rule that covers the requested scopes grants, with its own roles and lifetime",
    policy: policy(
      rule("r", { roles: ["Orders.Read"] }, ["read"], [API], 60),
      rule("rw", { roles: ["Orders.Read", "Orders.Write"] }, ["read", "write"], [API], 120),
    ),
    caller: caller(["Orders.Read", "Orders.Write"]),
    scopes: ["write"],
    want: { rule: "rw", scopes: ["write"], roles: ["Orders.Read", "Orders.Write"], maxTtlSeconds: 120 },
  },
];

describe("decide", () => {
  for (const c of cases) {
    it(c.name, () => {
      const result = decide(c.caller, { resource: c.resource ?? API, scopes: c.scopes }, c.policy);
      if ("denied" in c.want) {
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error.reason).toBe(c.want.denied);
          if (c.want.scopes && result.error.reason === "scope_not_granted")
            expect(result.error.scopes).toEqual(c.want.scopes);
        }
      } else {
        expect(result).toEqual({
          ok: true,
          value: {
            rule: c.want.rule,
            resource: c.resource ?? API,
            scopes: c.want.scopes,
            roles: c.want.roles,
            maxTtlSeconds: c.want.maxTtlSeconds ?? 300,
          },
        });
      }
    });
  }
});
