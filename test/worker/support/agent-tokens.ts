import { base64url, decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import { inject } from "vitest";
import {
  ACCESS_TOKEN_TYPE,
  DEPLOY,
  DEPLOYER_APP,
  INVENTORY,
  ORDERS_APP,
  POLICY,
  nowSeconds,
  type Scenario,
} from "./scenario.ts";

// Delegation (RFC 8693 actor tokens) and DPoP (RFC 9449) fixtures: a policy where orders calls an
// agent, the agent reads the inventory on orders' behalf, and a tool one hop further; broker tokens
// crafted with the broker's test key (for chains and times no exchange would produce); DPoP proofs
// with explicit overrides for every claim and header.

export const AGENT_APP = "55555555-5555-4555-8555-555555555555";
export const TOOL_APP = "66666666-6666-4666-8666-666666666666";
export const AGENT = "https://agent.example.com";
export const TOOL = "https://tool.example.com";
export const ORDERS = "https://orders.example.com";
export const TOKEN_ENDPOINT = "https://broker.test/token";

export const DELEGATION_POLICY = {
  rules: [
    ...POLICY.rules,
    {
      name: "orders-calls-agent",
      match: { clients: [ORDERS_APP], roles: ["Inventory.Read"] },
      grant: { origins: [AGENT], scopes: ["agent.invoke", "inventory.read", "inventory.list"], maxTtlSeconds: 300 },
    },
  ],
  owners: { [AGENT]: [AGENT_APP], [TOOL]: [TOOL_APP], [ORDERS]: [ORDERS_APP] },
  delegations: [
    {
      name: "orders-agent-reads-inventory",
      match: { subjects: [ORDERS_APP], actors: { clients: [AGENT_APP], roles: ["Agent.Act"] }, via: AGENT },
      grant: { origins: [INVENTORY, TOOL], scopes: ["inventory.read", "inventory.list"], maxTtlSeconds: 60 },
    },
    {
      name: "agent-asks-orders",
      match: { actors: { clients: [AGENT_APP] }, via: AGENT },
      grant: { origins: [ORDERS], scopes: ["inventory.read"], maxTtlSeconds: 60 },
    },
    {
      name: "tool-reads-inventory",
      match: { actors: { clients: [TOOL_APP] }, via: TOOL },
      grant: { origins: [INVENTORY, AGENT], scopes: ["inventory.read"], maxTtlSeconds: 60 },
    },
    {
      name: "orders-reads-inventory-for-agent",
      match: { actors: { clients: [ORDERS_APP] }, via: ORDERS },
      grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
    },
    {
      name: "agent-deploys-bound",
      match: { actors: { clients: [AGENT_APP] }, via: AGENT },
      grant: { origins: [DEPLOY], scopes: ["inventory.read"], maxTtlSeconds: 60 },
      requireDpop: true,
    },
  ],
};

export { DEPLOYER_APP };

/** The agent's own Entra token (its identity as an actor). */
export function actorToken(
  s: Scenario,
  appId = AGENT_APP,
  roles = ["Agent.Act"],
  claims: Record<string, unknown> = {},
) {
  return s.token({ claims: { azp: appId, roles, ...claims } });
}

/** orders' broker token for `resource` (T1), from a real exchange. */
export async function brokerTokenFor(
  s: Scenario,
  form: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<string> {
  const response = await s.exchange({ resource: AGENT, ...form }, {}, headers);
  if (response.status !== 200) throw new Error(`T1 exchange failed: ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A delegation request: T1 as subject, an actor token, and the rest of the form. */
export async function delegateWith(
  s: Scenario,
  subjectToken: string,
  form: Record<string, string | undefined> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  return s.exchange(
    {
      subject_token: subjectToken,
      actor_token: "actor_token" in form ? form.actor_token : await actorToken(s),
      actor_token_type: ACCESS_TOKEN_TYPE,
      resource: INVENTORY,
      ...form,
    },
    {},
    headers,
  );
}

/** A broker token signed with the broker's active test key: claims merged over a T1 for the agent. */
export async function craftBrokerToken(
  s: Scenario,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const keys = JSON.parse(inject("brokerSigningKeys")) as { keys: Array<JWK & { kid: string }> };
  const signing = keys.keys[0]!;
  const now = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: "https://broker.test",
    sub: ORDERS_APP,
    client_id: ORDERS_APP,
    aud: AGENT,
    scope: "agent.invoke inventory.read inventory.list",
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
    tid: s.tid,
    roles: ["Inventory.Read"],
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: signing.kid, ...header })
    .sign(await importJWK(signing, "ES256"));
}

export interface DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly alg: "ES256" | "EdDSA";
}

export async function dpopKey(alg: "ES256" | "EdDSA" = "ES256"): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

export interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  accessToken?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Signs with this key while embedding `key`'s public JWK. */
  signWith?: DpopKey;
}

/** A DPoP proof (RFC 9449 §4.2) for the token endpoint unless told otherwise. */
export async function proof(key: DpopKey, options: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: options.jti ?? crypto.randomUUID(),
    htm: options.htm ?? "POST",
    htu: options.htu ?? TOKEN_ENDPOINT,
    iat: options.iat ?? nowSeconds(),
    ...(options.accessToken && {
      ath: base64url.encode(
        new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(options.accessToken))),
      ),
    }),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  const signer = options.signWith ?? key;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, typ: "dpop+jwt", jwk: key.publicJwk, ...options.header })
    .sign(signer.privateKey);
}

export function claimsOf(token: string) {
  return decodeJwt(token);
}
