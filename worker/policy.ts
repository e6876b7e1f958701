import { canonicalOrigin } from "./lib/origin.ts";
import { GUID, ITEM_NAME as RULE_NAME, SCOPE_TOKEN } from "./lib/syntax.ts";
import { DELEGATION_FIELDS, parseDelegationPolicy, type DelegationPolicy } from "./delegation/policy.ts";
import { fieldChecker, parseNamedList, rejectUnknownFields, stringList, type Report } from "./document.ts";
import { isObject } from "./json.ts";
import { err, ok, type Result } from "./result.ts";
import { parseRateLimitPolicy, type RateLimitPolicy } from "./rate-limit.ts";

// Policy is data reviewed like code: rules say which callers (by client app id and/or app roles)
// may get tokens for which exact origins, with which scopes and for how long. Deny by default.
// A grant always comes from exactly one rule, so the audit log can name it.

export interface Rule {
  readonly name: string;
  readonly match: {
    /** Client app ids (azp/appid); any of them matches. Absent: any client that has the roles. */
    readonly clients?: ReadonlySet<string>;
    /** App roles the caller must all hold. Absent: the client id alone decides. */
    readonly roles?: readonly string[];
    /** Tenants the caller must be from. Absent: any allow-listed tenant. */
    readonly tenants?: ReadonlySet<string>;
  };
  readonly grant: {
    readonly origins: ReadonlySet<string>;
    readonly scopes: readonly string[];
    readonly maxTtlSeconds: number;
  };
  /** RFC 9449: tokens from this rule are issued only with a DPoP proof, bound to its key. */
  readonly requireDpop: boolean;
}

export interface Policy {
  readonly rules: readonly Rule[];
  /** Rules indexed by granted origin, so a decision costs the same with 10 rules or 10,000. */
  readonly byOrigin: ReadonlyMap<string, readonly Rule[]>;
  /** Owners of origins and delegation rules (RFC 8693 actor tokens): delegation/policy.ts. */
  readonly delegation: DelegationPolicy;
  /** Which rate limit tier (a [[ratelimits]] binding) each client is in. */
  readonly rateLimits: RateLimitPolicy;
}

/** What policy looks at: nothing else of the token reaches this stage. */
export interface CallerIdentity {
  readonly tenantId: string;
  readonly appId: string;
  readonly roles: readonly string[];
}

export interface AccessRequest {
  readonly resource: string;
  /** Requested scopes; undefined = all that the rule grants. */
  readonly scopes: readonly string[] | undefined;
}

export interface Grant {
  readonly rule: string;
  readonly resource: string;
  readonly scopes: readonly string[];
  /** The caller's roles that the rule required: carried into the minted token. */
  readonly roles: readonly string[];
  readonly maxTtlSeconds: number;
  readonly requireDpop: boolean;
}

export type Denial =
  | { readonly reason: "no_roles" }
  | { readonly reason: "resource_not_granted" }
  | { readonly reason: "scope_not_granted"; readonly scopes: readonly string[] };

export function decide(caller: CallerIdentity, request: AccessRequest, policy: Policy): Result<Grant, Denial> {
  const candidates = (policy.byOrigin.get(request.resource) ?? []).filter((rule) => matches(rule, caller));
  if (candidates.length === 0) {
    // Entra issues app-only tokens without roles when the API does not require assignment:
    // that is a caller nobody has granted anything, and the log should say so plainly.
    return err(caller.roles.length === 0 ? { reason: "no_roles" } : { reason: "resource_not_granted" });
  }
  const wanted = request.scopes;
  const rule = wanted ? candidates.find((r) => wanted.every((s) => r.grant.scopes.includes(s))) : candidates[0];
  if (!rule) {
    const grantable = new Set(candidates.flatMap((r) => r.grant.scopes));
    return err({ reason: "scope_not_granted", scopes: wanted!.filter((s) => !grantable.has(s)) });
  }
  return ok({
    rule: rule.name,
    resource: request.resource,
    scopes: wanted ?? rule.grant.scopes,
    roles: rule.match.roles ?? [],
    maxTtlSeconds: rule.grant.maxTtlSeconds,
    requireDpop: rule.requireDpop,
  });
}

function matches(rule: Rule, caller: CallerIdentity): boolean {
  const { clients, roles, tenants } = rule.match;
  if (clients && !clients.has(caller.appId)) return false;
  if (tenants && !tenants.has(caller.tenantId)) return false;
  if (roles && !roles.every((role) => caller.roles.includes(role))) return false;
  return true;
}

// ---- loading: the whole document is validated once, every problem named by rule and field ----

/** A policy document beyond this is a mistake or an attack on start-up time. */
const MAX_RULES = 100_000;
/** Upper bound for any rule's token lifetime: downstream tokens are meant to be short-lived. */
export const MAX_RULE_TTL_SECONDS = 24 * 60 * 60;

export function parsePolicy(raw: unknown): Result<Policy, string[]> {
  const parsed = parseNamedList(
    raw,
    { field: "rules", kind: "rule", max: MAX_RULES, otherFields: ["rateLimits", ...DELEGATION_FIELDS] },
    parseRule,
  );
  // The delegation fields are parsed by their own stage (delegation/policy.ts).
  const delegation = parseDelegationPolicy(parsed.ok ? delegationFields(raw) : {});
  if (!parsed.ok || !delegation.ok)
    return err([...(parsed.ok ? [] : parsed.error), ...(delegation.ok ? [] : delegation.error)]);
  const rules = parsed.value;
  const rateLimits = parseRateLimitPolicy(rateLimitsField(raw));
  if (!rateLimits.ok) return rateLimits;

  const byOrigin = new Map<string, Rule[]>();
  for (const rule of rules) {
    for (const origin of rule.grant.origins) {
      const list = byOrigin.get(origin);
      if (list) list.push(rule);
      else byOrigin.set(origin, [rule]);
    }
  }
  return ok(deepFreeze({ rules, byOrigin, delegation: delegation.value, rateLimits: rateLimits.value }));
}

// parseNamedList has already checked that the document parses and is an object.
function documentOf(raw: unknown): Record<string, unknown> {
  const doc = typeof raw === "string" ? (JSON.parse(raw) as unknown) : raw;
  return isObject(doc) ? doc : {};
}

function rateLimitsField(raw: unknown): unknown {
  return documentOf(raw).rateLimits;
}

function delegationFields(raw: unknown): Record<string, unknown> {
  const doc = documentOf(raw);
  const fields: Record<string, unknown> = {};
  for (const key of DELEGATION_FIELDS) if (key in doc) fields[key] = doc[key];
  return fields;
}

function parseRule(value: unknown, report: Report): Rule | undefined {
  if (!isObject(value)) {
    report("rule", "must be an object with name, match and grant");
    return undefined;
  }
  const { fail, failed } = fieldChecker(report);
  rejectUnknownFields(value, ["name", "match", "grant", "requireDpop"], "", fail);
  if (value.requireDpop !== undefined && typeof value.requireDpop !== "boolean")
    fail("requireDpop", "must be true or false");
  const name = value.name;
  if (typeof name !== "string" || !RULE_NAME.test(name))
    fail("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'");

  const match = isObject(value.match) ? value.match : (fail("match", "must be an object"), {});
  rejectUnknownFields(match, ["clients", "roles", "tenants"], "match.", fail);
  const clients = stringList(
    match.clients,
    "match.clients",
    fail,
    (s) => GUID.test(s),
    "a lower-case GUID client app id",
  );
  const roles = stringList(
    match.roles,
    "match.roles",
    fail,
    (s) => s.length > 0 && s.length <= 256,
    "a non-empty role value",
  );
  const tenants = stringList(match.tenants, "match.tenants", fail, (s) => GUID.test(s), "a lower-case GUID tenant id");
  if (clients === undefined && roles === undefined) {
    fail("match", 'needs "clients" and/or "roles": a rule that matches every caller is not allowed');
  }

  const grant = isObject(value.grant) ? value.grant : (fail("grant", "must be an object"), {});
  rejectUnknownFields(grant, ["origins", "scopes", "maxTtlSeconds"], "grant.", fail);
  const origins = stringList(
    grant.origins,
    "grant.origins",
    fail,
    (s) => canonicalOrigin(s).ok,
    "a canonical origin such as https://api.example.com (lower case, no path, no default port; http only for loopback)",
  );
  if (origins === undefined) fail("grant.origins", "is required");
  const scopes = stringList(
    grant.scopes,
    "grant.scopes",
    fail,
    (s) => SCOPE_TOKEN.test(s),
    "a scope token (RFC 6749 §3.3: printable ASCII, no spaces or quotes)",
  );
  if (scopes === undefined) fail("grant.scopes", "is required");
  const ttl = grant.maxTtlSeconds;
  if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_RULE_TTL_SECONDS) {
    fail("grant.maxTtlSeconds", `must be a whole number of seconds from 1 to ${MAX_RULE_TTL_SECONDS}`);
  }
  if (failed()) return undefined;
  return {
    name: name as string,
    match: {
      ...(clients && { clients: new Set(clients) }),
      ...(roles && { roles }),
      ...(tenants && { tenants: new Set(tenants) }),
    },
    grant: { origins: new Set(origins), scopes: scopes!, maxTtlSeconds: ttl as number },
    requireDpop: value.requireDpop === true,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (value instanceof Map) for (const v of value.values()) deepFreeze(v);
    else if (!(value instanceof Set)) for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
