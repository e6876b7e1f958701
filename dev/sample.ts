import type { TenantFile } from "../emulator/index.ts";

// The sample organisation that `npm start` and the end-to-end tests run: one tenant, the broker's
// API registration, three services that show what the broker is for, and one identity that
// nobody granted anything.

export const TENANT_ID = "5a3c9e2f-7b41-4d8e-9c6a-2f1e0d4b8a73";
export const BROKER_API_APP_ID = "b7e0c1d2-3f45-4a67-8b9c-0d1e2f3a4b5c";
export const BROKER_APP_ID_URI = "api://identity-broker";
export const BROKER_SCOPE = `${BROKER_APP_ID_URI}/.default`;

export interface SampleIdentity {
  readonly name: string;
  readonly appId: string;
  readonly description: string;
  readonly credential: "certificate" | "federated";
  readonly roles: readonly string[];
}

export const IDENTITIES = {
  orders: {
    name: "orders",
    appId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    description: "the orders service: may read the inventory",
    credential: "certificate",
    roles: ["Inventory.Read"],
  },
  ci: {
    name: "ci",
    appId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    description: "a CI pipeline, signing in with its runner's OIDC token (no secret): may deploy",
    credential: "federated",
    roles: ["Deploy.Production"],
  },
  agent: {
    name: "agent",
    appId: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
    description: "an AI agent: may only search the inventory, or read it on behalf of orders",
    credential: "certificate",
    roles: ["Inventory.Search", "Agent.Act"],
  },
  admin: {
    name: "admin",
    appId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b",
    description: "the operator's admin tool: may revoke and unrevoke identities (admin API)",
    credential: "certificate",
    roles: ["Broker.Admin"],
  },
  intruder: {
    name: "intruder",
    appId: "3d4e5f6a-7b8c-4d9e-8f0a-2b3c4d5e6f7a",
    description: "a registered app nobody granted anything: denied",
    credential: "certificate",
    roles: [],
  },
} as const satisfies Record<string, SampleIdentity>;

export type IdentityName = keyof typeof IDENTITIES;

/** The CI runner's OIDC identity, as a GitHub Actions or GitLab runner would present it. */
export const CI_OIDC_ISSUER = "https://ci.example.test";
export const CI_OIDC_SUBJECT = "repo:acme/shop:environment:production";

export interface SampleOrigins {
  readonly inventory: string;
  readonly deploy: string;
  /** The agent's own endpoint: orders calls it, and it acts on orders' behalf (delegation; absent: none). */
  readonly agent?: string;
}

export function sampleTenantFile(input: {
  certificates: Partial<Record<IdentityName, string>>;
  ciIssuerJwks: { keys: object[] };
}): TenantFile {
  const clients = Object.values(IDENTITIES).map((identity) => ({
    appId: identity.appId,
    displayName: identity.name,
    ...(identity.credential === "certificate"
      ? { certificates: [input.certificates[identity.name as IdentityName]!] }
      : {}),
    ...(identity.credential === "federated"
      ? {
          federatedCredentials: [
            { name: "ci-production", issuer: CI_OIDC_ISSUER, subject: CI_OIDC_SUBJECT, jwks: input.ciIssuerJwks },
          ],
        }
      : {}),
  }));
  return {
    tenants: [
      {
        tenantId: TENANT_ID,
        displayName: "Acme (emulated)",
        apps: [
          ...clients,
          {
            appId: BROKER_API_APP_ID,
            displayName: "identity-broker",
            identifierUris: [BROKER_APP_ID_URI],
            requestedAccessTokenVersion: 2,
            appRoles: [
              { value: "Inventory.Read" },
              { value: "Inventory.Search" },
              { value: "Deploy.Production" },
              { value: "Agent.Act" },
              { value: "Broker.Admin" },
            ],
            // Assignment not required, like many real APIs: the intruder gets a token without roles,
            // which the broker must deny.
            appRoleAssignmentRequired: false,
            appRoleAssignments: Object.values(IDENTITIES)
              .filter((identity) => identity.roles.length > 0)
              .map((identity) => ({ clientAppId: identity.appId, roles: [...identity.roles] })),
            optionalClaims: { idtyp: true },
          },
        ],
      },
    ],
  } as TenantFile;
}

/** The broker policy of the sample: each identity gets exactly what its job needs. */
export function samplePolicy(origins: SampleOrigins) {
  const rules = [
    {
      name: "orders-reads-inventory",
      match: { clients: [IDENTITIES.orders.appId], roles: ["Inventory.Read"] },
      grant: { origins: [origins.inventory], scopes: ["inventory.read"], maxTtlSeconds: 300 },
    },
    {
      name: "ci-deploys-production",
      match: { clients: [IDENTITIES.ci.appId], roles: ["Deploy.Production"] },
      grant: { origins: [origins.deploy], scopes: ["deploy.write"], maxTtlSeconds: 120 },
    },
    {
      name: "agent-searches-inventory",
      match: { clients: [IDENTITIES.agent.appId], roles: ["Inventory.Search"] },
      grant: { origins: [origins.inventory], scopes: ["inventory.search"], maxTtlSeconds: 60 },
    },
  ];
  // An agent gets fewer requests than a service (tiers are the [[ratelimits]] bindings of dev/broker.ts).
  const rateLimits = { default: "RATE_LIMIT_SERVICE", clients: { [IDENTITIES.agent.appId]: "RATE_LIMIT_AGENT" } };
  return origins.agent === undefined
    ? { rules, rateLimits }
    : { ...agentDelegation(origins.agent, origins.inventory, rules), rateLimits };
}

/** orders calls the agent's endpoint, and the agent reads the inventory on orders' behalf. */
function agentDelegation<R>(agent: string, inventory: string, rules: readonly R[]) {
  return {
    rules: [
      ...rules,
      {
        // What orders lets the agent do for it is what it asks for here: inventory.read, no more.
        name: "orders-calls-agent",
        match: { clients: [IDENTITIES.orders.appId], roles: ["Inventory.Read"] },
        grant: { origins: [agent], scopes: ["agent.invoke", "inventory.read"], maxTtlSeconds: 300 },
      },
    ],
    // Delegation (RFC 8693 actor tokens): the agent owns its endpoint, so it may carry a token
    // issued for that endpoint on to the inventory, on the caller's behalf, with read access only.
    owners: { [agent]: [IDENTITIES.agent.appId] },
    delegations: [
      {
        name: "orders-agent-reads-inventory",
        match: {
          subjects: [IDENTITIES.orders.appId],
          actors: { clients: [IDENTITIES.agent.appId], roles: ["Agent.Act"] },
          via: agent,
        },
        grant: { origins: [inventory], scopes: ["inventory.read"], maxTtlSeconds: 60 },
      },
    ],
  };
}

/** The [[ratelimits]] bindings the sample policy's rateLimits name: a service tier and an agent tier. */
export const SAMPLE_RATE_LIMITS = [
  { name: "RATE_LIMIT_SERVICE", namespace_id: "1001", simple: { limit: 600, period: 60 } },
  { name: "RATE_LIMIT_AGENT", namespace_id: "1002", simple: { limit: 60, period: 60 } },
] as const;

/** What each sample origin serves, and the scope each route needs. */
export const ORIGIN_ROUTES = {
  inventory: { "GET /items": "inventory.read", "GET /search": "inventory.search" },
  deploy: { "POST /deployments": "deploy.write" },
  // The agent reads the inventory for its caller, with the caller's token carried on (delegation).
  agent: { "GET /inventory": "agent.invoke" },
} as const;

/** Names of the sample identities by app id, so the origins' log lines read "orders via agent". */
export const IDENTITY_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(IDENTITIES).map((identity) => [identity.appId, identity.name]),
);

/** Forward mode on the local broker: its /items, /search and /deployments lead to the sample origins. */
export function sampleRoutes(origins: SampleOrigins) {
  return {
    routes: [
      {
        name: "inventory-items",
        match: { pathPrefix: "/items" },
        origin: origins.inventory,
        scopes: { GET: ["inventory.read"] },
      },
      {
        name: "inventory-search",
        match: { pathPrefix: "/search" },
        origin: origins.inventory,
        scopes: { GET: ["inventory.search"] },
      },
      {
        name: "deploy",
        match: { pathPrefix: "/deployments" },
        origin: origins.deploy,
        scopes: { POST: ["deploy.write"] },
      },
    ],
  };
}

/**
 * The sample tenant as an emulator tenant file, without credentials: the identities' names and
 * their role assignments on the broker's app (what the policy tool reads). `dropRoles` leaves those
 * roles unassigned.
 */
export function sampleTenantNames(dropRoles: readonly string[] = []) {
  const identities = Object.values(IDENTITIES);
  const appRoleAssignments = identities
    .map((identity) => ({
      clientAppId: identity.appId,
      roles: identity.roles.filter((role) => !dropRoles.includes(role)),
    }))
    .filter((a) => a.roles.length > 0);
  return {
    tenants: [
      {
        tenantId: TENANT_ID,
        apps: [
          ...identities.map((identity) => ({ appId: identity.appId, displayName: identity.name })),
          {
            appId: BROKER_API_APP_ID,
            displayName: "identity-broker",
            identifierUris: [BROKER_APP_ID_URI],
            appRoles: [...new Set(identities.flatMap((identity) => identity.roles))].map((value) => ({ value })),
            appRoleAssignments,
          },
        ],
      },
    ],
  };
}
