import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as baseEnv } from "cloudflare:workers";
import { inject } from "vitest";
import worker from "../../../worker/index.ts";
import type { Env } from "../../../worker/config.ts";

// Builds one isolated test scenario: a fresh tenant id (so the Worker's per-URL JWKS cache and the
// key server's counters start empty), the Worker's env for it, and Entra-shaped tokens for it.
// Every helper takes explicit overrides so that each test shows only the fact it is about.

export const ORDERS_APP = "33333333-3333-4333-8333-333333333333";
export const DEPLOYER_APP = "44444444-4444-4444-8444-444444444444";
export const BROKER_APP_ID_URI = "api://identity-broker";
export const BROKER_CLIENT_ID = "22222222-2222-4222-8222-222222222222";
export const INVENTORY = "https://inventory.example.com";
export const DEPLOY = "https://deploy.example.com";
export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const V1_ISSUER_HOST = "https://sts.test";

export const POLICY = {
  rules: [
    {
      name: "orders-reads-inventory",
      match: { clients: [ORDERS_APP], roles: ["Inventory.Read"] },
      grant: { origins: [INVENTORY], scopes: ["inventory.read", "inventory.list"], maxTtlSeconds: 300 },
    },
    {
      name: "deployers-deploy",
      match: { roles: ["Deploy.Write"] },
      grant: { origins: [DEPLOY], scopes: ["deploy"], maxTtlSeconds: 120 },
    },
  ],
};

interface EntraKey {
  kid: string;
  privateJwk: JsonWebKey;
}
const entraKeys = JSON.parse(inject("entraKeys")) as EntraKey[];
const entraOrigin = inject("entraOrigin");

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export interface TokenOptions {
  /** Claims merged over the defaults; a value of undefined removes the claim. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  kid?: string;
  version?: "1.0" | "2.0";
}

/** Env objects made by `deployment()`: passed through as they are, not rebuilt per request. */
const deployments = new WeakSet<object>();

export function scenario() {
  const tid = crypto.randomUUID();
  const envOverrides: Partial<Env> = {};

  const s = {
    tid,
    entraOrigin,
    jwksUrl: `${entraOrigin}/${tid}/discovery/v2.0/keys`,

    env(overrides: Partial<Env> = {}): Env {
      return {
        ...(baseEnv as unknown as Env),
        ENTRA_AUTHORITY_HOST: entraOrigin,
        ENTRA_V1_ISSUER_HOST: V1_ISSUER_HOST,
        ENTRA_TENANT_IDS: tid,
        ENTRA_AUDIENCES: `${BROKER_APP_ID_URI},${BROKER_CLIENT_ID}`,
        POLICY: JSON.stringify(POLICY),
        BROKER_SIGNING_KEYS: inject("brokerSigningKeys"),
        ...envOverrides,
        ...overrides,
      };
    },

    /** Default env settings for every request of this scenario. */
    configure(overrides: Partial<Env>) {
      Object.assign(envOverrides, overrides);
    },

    claims(
      version: "1.0" | "2.0" = "2.0",
      appId = ORDERS_APP,
      roles: string[] = ["Inventory.Read"],
    ): Record<string, unknown> {
      const now = nowSeconds();
      const common = {
        tid,
        oid: crypto.randomUUID(),
        sub: crypto.randomUUID(),
        iat: now - 60,
        nbf: now - 60,
        exp: now + 3600,
        roles,
        idtyp: "app",
        uti: "uti",
        rh: "rh",
      };
      return version === "2.0"
        ? { ...common, ver: "2.0", iss: `${entraOrigin}/${tid}/v2.0`, aud: BROKER_CLIENT_ID, azp: appId, azpacr: "2" }
        : {
            ...common,
            ver: "1.0",
            iss: `${V1_ISSUER_HOST}/${tid}/`,
            aud: BROKER_APP_ID_URI,
            appid: appId,
            appidacr: "2",
          };
    },

    async token(options: TokenOptions = {}): Promise<string> {
      const kid = options.kid ?? "key-a";
      const key = entraKeys.find((k) => k.kid === kid);
      if (!key) throw new Error(`no test key ${kid}`);
      const payload: Record<string, unknown> = { ...s.claims(options.version), ...options.claims };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      // Signed with Web Crypto directly rather than a JWT library: libraries (rightly) refuse
      // weak keys and odd headers, and the tests need to make exactly those tokens.
      const header = { alg: "RS256", typ: "JWT", kid, ...options.header };
      const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      const privateKey = await crypto.subtle.importKey(
        "jwk",
        key.privateJwk,
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const signature = await crypto.subtle.sign(
        "RSASSA-PKCS1-v1_5",
        privateKey,
        new TextEncoder().encode(signingInput),
      );
      return `${signingInput}.${b64url(new Uint8Array(signature))}`;
    },

    async setKeys(update: { mode?: string; published?: string[] }): Promise<void> {
      await fetch(`${entraOrigin}/__control/${tid}`, { method: "POST", body: JSON.stringify(update) });
    },

    async keyFetches(): Promise<number> {
      const state = (await (await fetch(`${entraOrigin}/__control/${tid}`)).json()) as { hits: number };
      return state.hits;
    },

    /**
     * One env object for many requests, as a deployed Worker sees it: the per-config caches (verified
     * callers, minted tokens) then persist between requests. Pass it as `exchange`'s env.
     */
    deployment(overrides: Partial<Env> = {}): Env {
      const env = s.env(overrides);
      deployments.add(env);
      return env;
    },

    /** POST /token with a form built from the defaults plus overrides (undefined removes a field). */
    async exchange(
      form: Record<string, string | string[] | undefined> = {},
      env: Partial<Env> | Env = {},
    ): Promise<Response> {
      const fields: Record<string, string | string[] | undefined> = {
        grant_type: TOKEN_EXCHANGE,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: INVENTORY,
        ...form,
      };
      if (!("subject_token" in form)) fields.subject_token = await s.token();
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
      }
      return s.fetch(
        new Request("https://broker.test/token", {
          method: "POST",
          body,
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
        env,
      );
    },

    async fetch(request: Request, env: Partial<Env> | Env = {}): Promise<Response> {
      const ctx = createExecutionContext();
      const response = await worker.fetch(request, deployments.has(env) ? (env as Env) : s.env(env), ctx);
      await waitOnExecutionContext(ctx);
      return response;
    },
  };
  return s;
}

export type Scenario = ReturnType<typeof scenario>;

/** Asserts an OAuth error response and returns its body. */
export async function oauthError(
  response: Response,
): Promise<{ status: number; error: string; error_description: string; cacheControl: string | null }> {
  const body = (await response.json()) as { error: string; error_description: string };
  return { status: response.status, ...body, cacheControl: response.headers.get("cache-control") };
}

export function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
