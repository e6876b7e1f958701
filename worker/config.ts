import { loadForwardSettings, type ForwardConfig } from "./forward/settings.ts";
import { canonicalOrigin } from "./lib/origin.ts";
import { GUID } from "./lib/syntax.ts";
import { policySha256 } from "./policy-hash.ts";
import { parsePolicy, type Policy } from "./policy.ts";
import { err, ok, type Result } from "./result.ts";
import { loadSigningKeys, type SigningKeys } from "./signing-keys.ts";
import { bindingsNamed, isRateLimitBinding, type RateLimiters } from "./rate-limit.ts";

// Configuration is read from the Worker's bindings once per isolate, validated as a whole, and
// frozen. Nothing else in the broker reads `env`.

/** The bindings as wrangler delivers them: vars from wrangler.toml, the key set from a secret. */
export interface Env {
  BROKER_ISSUER?: unknown;
  ENTRA_AUTHORITY_HOST?: unknown;
  ENTRA_V1_ISSUER_HOST?: unknown;
  ENTRA_JWKS_ORIGIN?: unknown;
  ENTRA_TENANT_IDS?: unknown;
  ENTRA_AUDIENCES?: unknown;
  REQUIRE_CERTIFICATE_CLIENTS?: unknown;
  CLOCK_SKEW_SECONDS?: unknown;
  MAX_SUBJECT_TOKEN_AGE_SECONDS?: unknown;
  MAX_TOKEN_TTL_SECONDS?: unknown;
  POLICY?: unknown;
  ROUTES?: unknown;
  FORWARD_TIMEOUT_MS?: unknown;
  EXPLAIN?: unknown;
  BROKER_SIGNING_KEYS?: unknown;
  /** App roles that may call the admin API (comma-separated); default Broker.Admin. */
  ADMIN_ROLES?: unknown;
  /** Workers KV namespace holding revocations; unbound = nothing can be revoked (local tools only). */
  REVOCATIONS?: unknown;
  /** [[ratelimits]] bindings, named by POLICY.rateLimits. */
  readonly [binding: string]: unknown;
}

/** Every setting the broker reads, so a tool can flag a var nobody reads (usually a misspelt one).
 *  Typed against Env: a setting added there and not here fails the typecheck. */
export const SETTINGS = {
  BROKER_ISSUER: "var",
  ENTRA_AUTHORITY_HOST: "var",
  ENTRA_V1_ISSUER_HOST: "var",
  ENTRA_JWKS_ORIGIN: "var",
  ENTRA_TENANT_IDS: "var",
  ENTRA_AUDIENCES: "var",
  REQUIRE_CERTIFICATE_CLIENTS: "var",
  CLOCK_SKEW_SECONDS: "var",
  MAX_SUBJECT_TOKEN_AGE_SECONDS: "var",
  MAX_TOKEN_TTL_SECONDS: "var",
  POLICY: "var",
  ROUTES: "var",
  FORWARD_TIMEOUT_MS: "var",
  EXPLAIN: "var",
  ADMIN_ROLES: "var",
  BROKER_SIGNING_KEYS: "secret",
} as const satisfies Record<keyof Env, "var" | "secret">;

/** Who may ask POST /explain: each caller about itself ("self"), or nobody ("off"). */
export type ExplainMode = "self" | "off";

export interface EntraConfig {
  /** e.g. https://login.microsoftonline.com (public cloud), https://login.microsoftonline.us */
  readonly authorityHost: string;
  /** v1.0 tokens are issued by the STS host, not the login host: https://sts.windows.net */
  readonly v1IssuerHost: string;
  /** Where the signing keys are fetched: the authority host, unless a local emulator needs its
   *  plain-http loopback listener (workerd cannot be told to trust the emulator's local CA). */
  readonly jwksOrigin: string;
  readonly tenants: ReadonlySet<string>;
  readonly audiences: ReadonlySet<string>;
  readonly requireCertificateClients: boolean;
  readonly clockSkewSeconds: number;
  readonly maxTokenAgeSeconds: number;
}

export interface Config {
  /** The broker's public URL: RFC 8414 issuer and the `iss` of every minted token. */
  readonly issuer: string;
  readonly entra: EntraConfig;
  readonly policy: Policy;
  readonly signingKeys: SigningKeys;
  /** Global cap on minted token lifetime, whatever a rule allows. */
  readonly maxTokenTtlSeconds: number;
  /** Forward mode (the broker as a gateway in front of origins); undefined when ROUTES is not set. */
  readonly forward?: ForwardConfig;
  readonly explain: ExplainMode;
  /** SHA-256 (hex) of the policy document in canonical JSON: names the policy version in audit events. */
  readonly policySha256: string;
  /** Operating the broker: who may use the admin API, where revocations live, rate limit counters. */
  readonly operations: OperationsConfig;
}

export interface OperationsConfig {
  readonly adminRoles: ReadonlySet<string>;
  readonly revocations?: KVNamespace;
  readonly rateLimiters: RateLimiters;
}

/** The admin role when ADMIN_ROLES is not set. */
export const DEFAULT_ADMIN_ROLE = "Broker.Admin";

const PUBLIC_CLOUD = "https://login.microsoftonline.com";
const PUBLIC_CLOUD_V1_ISSUER = "https://sts.windows.net";
/** Entra validators conventionally allow 5 minutes of skew at most; more hides broken clocks. */
const MAX_CLOCK_SKEW_SECONDS = 300;

export async function loadConfig(env: Env): Promise<Result<Config, string[]>> {
  const problems: string[] = [];
  const problem = (setting: string, text: string) => problems.push(`${setting} ${text}`);

  const issuer = originSetting(env.BROKER_ISSUER, "BROKER_ISSUER", undefined, problem);
  const authorityHost = originSetting(env.ENTRA_AUTHORITY_HOST, "ENTRA_AUTHORITY_HOST", PUBLIC_CLOUD, problem);
  const v1IssuerHost = originSetting(env.ENTRA_V1_ISSUER_HOST, "ENTRA_V1_ISSUER_HOST", PUBLIC_CLOUD_V1_ISSUER, problem);
  const jwksOrigin = originSetting(env.ENTRA_JWKS_ORIGIN, "ENTRA_JWKS_ORIGIN", authorityHost, problem);

  const tenants = listSetting(env.ENTRA_TENANT_IDS, "ENTRA_TENANT_IDS", problem);
  for (const tid of tenants) {
    if (!GUID.test(tid))
      problem(
        "ENTRA_TENANT_IDS",
        `has "${tid}", which is not a lower-case tenant GUID (names like contoso.onmicrosoft.com are not accepted: tokens carry the GUID)`,
      );
  }
  const audiences = listSetting(env.ENTRA_AUDIENCES, "ENTRA_AUDIENCES", problem);

  const requireCertificateClients = booleanSetting(
    env.REQUIRE_CERTIFICATE_CLIENTS,
    "REQUIRE_CERTIFICATE_CLIENTS",
    true,
    problem,
  );
  const clockSkewSeconds = integerSetting(
    env.CLOCK_SKEW_SECONDS,
    "CLOCK_SKEW_SECONDS",
    60,
    0,
    MAX_CLOCK_SKEW_SECONDS,
    problem,
  );
  const maxTokenAgeSeconds = integerSetting(
    env.MAX_SUBJECT_TOKEN_AGE_SECONDS,
    "MAX_SUBJECT_TOKEN_AGE_SECONDS",
    24 * 3600,
    60,
    28 * 3600,
    problem,
  );
  const maxTokenTtlSeconds = integerSetting(
    env.MAX_TOKEN_TTL_SECONDS,
    "MAX_TOKEN_TTL_SECONDS",
    900,
    10,
    24 * 3600,
    problem,
  );

  const explain = enumSetting(env.EXPLAIN, "EXPLAIN", ["self", "off"] as const, "self", problem);

  let policy: Policy | undefined;
  let policyHash: string | undefined;
  if (env.POLICY === undefined)
    problem("POLICY", 'is not set: add a [vars.POLICY] table (or a JSON string) with a "rules" array to wrangler.toml');
  else {
    const parsed = parsePolicy(env.POLICY);
    if (parsed.ok) {
      policy = parsed.value;
      policyHash = await policySha256(env.POLICY);
    } else for (const p of parsed.error) problem("POLICY", p);
  }

  const forward = loadForwardSettings(env.ROUTES, env.FORWARD_TIMEOUT_MS);
  if (!forward.ok) problems.push(...forward.error);

  const operations = loadOperations(env, policy, problem);

  const keys = await loadSigningKeys(env.BROKER_SIGNING_KEYS);
  if (!keys.ok) problem("BROKER_SIGNING_KEYS", keys.error);

  if (problems.length > 0) return err(problems);
  return ok(
    Object.freeze({
      issuer: issuer!,
      entra: Object.freeze({
        authorityHost: authorityHost!,
        v1IssuerHost: v1IssuerHost!,
        jwksOrigin: jwksOrigin!,
        tenants: new Set(tenants),
        audiences: new Set(audiences),
        requireCertificateClients,
        clockSkewSeconds,
        maxTokenAgeSeconds,
      }),
      policy: policy!,
      signingKeys: (keys as { value: SigningKeys }).value,
      maxTokenTtlSeconds,
      forward: forward.ok ? forward.value : undefined,
      explain,
      policySha256: policyHash!,
      operations,
    }),
  );
}

type Problem = (setting: string, text: string) => void;

function loadOperations(env: Env, policy: Policy | undefined, problem: Problem): OperationsConfig {
  const adminRoles =
    env.ADMIN_ROLES === undefined || env.ADMIN_ROLES === ""
      ? [DEFAULT_ADMIN_ROLE]
      : listSetting(env.ADMIN_ROLES, "ADMIN_ROLES", problem);
  const kv = env.REVOCATIONS;
  if (kv !== undefined && (typeof kv !== "object" || kv === null || typeof (kv as KVNamespace).get !== "function"))
    problem(
      "REVOCATIONS",
      'must be a KV namespace binding ([[kv_namespaces]] binding = "REVOCATIONS" in wrangler.toml)',
    );
  const rateLimiters = new Map<string, RateLimit>();
  for (const name of policy ? bindingsNamed(policy.rateLimits) : []) {
    const binding = env[name];
    if (isRateLimitBinding(binding)) rateLimiters.set(name, binding);
    else
      problem(
        "POLICY",
        `rateLimits names "${name}", which is not a rate limit binding: add [[ratelimits]] name = "${name}" to wrangler.toml`,
      );
  }
  return Object.freeze({
    adminRoles: new Set(adminRoles),
    ...(kv !== undefined && { revocations: kv as KVNamespace }),
    rateLimiters,
  });
}

function originSetting(
  value: unknown,
  setting: string,
  fallback: string | undefined,
  problem: Problem,
): string | undefined {
  const raw = (typeof value === "string" ? value.trim() : undefined) || fallback;
  if (value !== undefined && typeof value !== "string") {
    problem(setting, "must be a string");
    return undefined;
  }
  if (!raw) {
    problem(setting, "is not set");
    return undefined;
  }
  const origin = canonicalOrigin(raw);
  if (!origin.ok) {
    problem(
      setting,
      `is "${raw}": it must be an https origin with no path or trailing slash (http only for a loopback host such as http://127.0.0.1:8787)`,
    );
    return undefined;
  }
  return origin.value;
}

function listSetting(value: unknown, setting: string, problem: Problem): string[] {
  // A comma-separated string (how secrets and --var deliver it) or a TOML array of strings.
  const raw = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  if (raw.some((item) => typeof item !== "string"))
    problem(setting, "must be a comma-separated string or an array of strings");
  const items = raw
    .filter((item): item is string => typeof item === "string")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) problem(setting, "is not set: give a comma-separated list");
  return items;
}

function enumSetting<T extends string>(
  value: unknown,
  setting: string,
  allowed: readonly T[],
  fallback: T,
  problem: Problem,
): T {
  if (value === undefined || value === "") return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  problem(setting, `is ${JSON.stringify(value)}: use ${allowed.map((a) => `"${a}"`).join(" or ")}`);
  return fallback;
}

function booleanSetting(value: unknown, setting: string, fallback: boolean, problem: Problem): boolean {
  if (value === undefined || value === "") return fallback;
  if (value === "true" || value === true) return true;
  if (value === "false" || value === false) return false;
  problem(setting, `is ${JSON.stringify(value)}: use "true" or "false"`);
  return fallback;
}

function integerSetting(
  value: unknown,
  setting: string,
  fallback: number,
  min: number,
  max: number,
  problem: Problem,
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if ((typeof value !== "string" && typeof value !== "number") || !/^\d+$/.test(String(value)) || n < min || n > max) {
    problem(setting, `is ${JSON.stringify(value)}: use a whole number of seconds from ${min} to ${max}`);
    return fallback;
  }
  return n;
}
