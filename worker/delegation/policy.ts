import { fieldChecker, parseNamedList, rejectUnknownFields, stringList, type Report } from "../document.ts";
import { isObject } from "../json.ts";
import { canonicalOrigin } from "../lib/origin.ts";
import { GUID, ITEM_NAME, SCOPE_TOKEN } from "../lib/syntax.ts";
import { err, ok, type Result } from "../result.ts";

// The delegation part of the policy document: which clients own which origins (so a token for
// that origin may be carried on by them as an actor), and delegation rules that say who may act
// for whom, via which origin, towards which origins with which scopes. Deny by default.
//
//   [vars.POLICY.owners]
//   "https://agent.example.com" = ["<agent app id>"]
//
//   [[vars.POLICY.delegations]]
//   name = "orders-agent-reads-inventory"
//   match = { subjects = ["<orders app id>"], actors = { clients = ["<agent app id>"], roles = ["Agent.Act"] }, via = "https://agent.example.com" }
//   grant = { origins = ["https://inventory.example.com"], scopes = ["inventory.read"], maxTtlSeconds = 60 }

export interface DelegationRule {
  readonly name: string;
  readonly match: {
    /** The original callers (T1's `sub`) this rule lets others act for; absent: any. */
    readonly subjects?: ReadonlySet<string>;
    readonly actors: {
      readonly clients?: ReadonlySet<string>;
      /** App roles the actor's Entra token must all carry. */
      readonly roles?: readonly string[];
      readonly tenants?: ReadonlySet<string>;
    };
    /** The origin the subject token was issued for: the hop the actor received it on. */
    readonly via: string;
  };
  readonly grant: {
    readonly origins: ReadonlySet<string>;
    readonly scopes: readonly string[];
    readonly maxTtlSeconds: number;
  };
  /** RFC 9449: tokens from this rule are issued only to an actor that sends a DPoP proof. */
  readonly requireDpop: boolean;
}

export interface DelegationPolicy {
  readonly rules: readonly DelegationRule[];
  /** Rules indexed by the origin they grant. */
  readonly byOrigin: ReadonlyMap<string, readonly DelegationRule[]>;
  /** Origin → the client app ids that own it (may act on tokens issued for it). */
  readonly owners: ReadonlyMap<string, ReadonlySet<string>>;
  /** Most actors a chain may hold (`act` nesting of the issued token). */
  readonly maxDepth: number;
}

/** The policy document's fields that belong to delegation. */
export const DELEGATION_FIELDS = ["delegations", "owners", "maxDelegationDepth"] as const;
/** RFC 8693 leaves depth open; three hops cover caller → agent → tool → service, and every hop
 *  is one more party that can misuse the subject's rights. */
export const DEFAULT_MAX_DELEGATION_DEPTH = 3;
/** A chain this long is unreadable in an audit line and has no legitimate use. */
const MAX_DELEGATION_DEPTH = 10;
const MAX_DELEGATION_RULES = 10_000;
const MAX_OWNED_ORIGINS = 10_000;
/** A delegated token serves one hop of someone else's work: an hour is generous (rules allow a day). */
const MAX_DELEGATION_TTL_SECONDS = 60 * 60;

export function parseDelegationPolicy(doc: Record<string, unknown>): Result<DelegationPolicy, string[]> {
  const problems: string[] = [];

  const owners = new Map<string, ReadonlySet<string>>();
  if (doc.owners !== undefined) {
    if (!isObject(doc.owners) || Object.keys(doc.owners).length > MAX_OWNED_ORIGINS)
      problems.push(`owners: must be a table of origin = [client app ids] (at most ${MAX_OWNED_ORIGINS} origins)`);
    else {
      for (const [origin, clients] of Object.entries(doc.owners)) {
        const report: Report = (field, problem) => problems.push(`owners: ${field}: ${problem}`);
        if (!canonicalOrigin(origin).ok) report(JSON.stringify(origin), "is not a canonical origin");
        const list = stringList(clients, JSON.stringify(origin), report, (s) => GUID.test(s), "a client app id");
        if (list) owners.set(origin, new Set(list));
      }
    }
  }

  let maxDepth = DEFAULT_MAX_DELEGATION_DEPTH;
  const depth = doc.maxDelegationDepth;
  if (depth !== undefined) {
    if (!Number.isInteger(depth) || (depth as number) < 1 || (depth as number) > MAX_DELEGATION_DEPTH)
      problems.push(`maxDelegationDepth: must be a whole number from 1 to ${MAX_DELEGATION_DEPTH}`);
    else maxDepth = depth as number;
  }

  let rules: DelegationRule[] = [];
  if (doc.delegations !== undefined) {
    const parsed = parseNamedList(
      { delegations: doc.delegations },
      { field: "delegations", kind: "delegation", max: MAX_DELEGATION_RULES },
      parseDelegationRule,
      (rule, report) => {
        // A rule whose hop nobody owns can never match: almost certainly a missing owners entry.
        if (!owners.has(rule.match.via))
          report("match.via", `${rule.match.via} has no owners: list its clients under owners`);
      },
    );
    if (parsed.ok) rules = parsed.value;
    else problems.push(...parsed.error);
  }
  if (problems.length > 0) return err(problems);

  const byOrigin = new Map<string, DelegationRule[]>();
  for (const rule of rules) {
    for (const origin of rule.grant.origins) {
      const list = byOrigin.get(origin);
      if (list) list.push(rule);
      else byOrigin.set(origin, [rule]);
    }
  }
  return ok({ rules, byOrigin, owners, maxDepth });
}

function parseDelegationRule(value: unknown, report: Report): DelegationRule | undefined {
  if (!isObject(value)) {
    report("delegation", "must be an object with name, match and grant");
    return undefined;
  }
  const { fail, failed } = fieldChecker(report);
  rejectUnknownFields(value, ["name", "match", "grant", "requireDpop"], "", fail);
  const name = value.name;
  if (typeof name !== "string" || !ITEM_NAME.test(name))
    fail("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'");
  if (value.requireDpop !== undefined && typeof value.requireDpop !== "boolean")
    fail("requireDpop", "must be true or false");

  const match = isObject(value.match) ? value.match : (fail("match", "must be an object"), {});
  rejectUnknownFields(match, ["subjects", "actors", "via"], "match.", fail);
  const subjects = stringList(match.subjects, "match.subjects", fail, (s) => GUID.test(s), "a client app id");
  const actors = isObject(match.actors) ? match.actors : (fail("match.actors", "must be an object"), {});
  rejectUnknownFields(actors, ["clients", "roles", "tenants"], "match.actors.", fail);
  const clients = stringList(actors.clients, "match.actors.clients", fail, (s) => GUID.test(s), "a client app id");
  const roles = stringList(actors.roles, "match.actors.roles", fail, (s) => s.length > 0 && s.length <= 256, "a role");
  const tenants = stringList(actors.tenants, "match.actors.tenants", fail, (s) => GUID.test(s), "a tenant id");
  if (clients === undefined && roles === undefined)
    fail("match.actors", 'needs "clients" and/or "roles": a rule that lets anyone act is not allowed');
  const via = match.via;
  if (typeof via !== "string" || !canonicalOrigin(via).ok)
    fail("match.via", "must be the canonical origin the subject token was issued for");

  const grant = isObject(value.grant) ? value.grant : (fail("grant", "must be an object"), {});
  rejectUnknownFields(grant, ["origins", "scopes", "maxTtlSeconds"], "grant.", fail);
  const origins = stringList(grant.origins, "grant.origins", fail, (s) => canonicalOrigin(s).ok, "a canonical origin");
  if (origins === undefined) fail("grant.origins", "is required");
  const scopes = stringList(grant.scopes, "grant.scopes", fail, (s) => SCOPE_TOKEN.test(s), "a scope token");
  if (scopes === undefined) fail("grant.scopes", "is required");
  const ttl = grant.maxTtlSeconds;
  if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_DELEGATION_TTL_SECONDS)
    fail("grant.maxTtlSeconds", `must be a whole number of seconds from 1 to ${MAX_DELEGATION_TTL_SECONDS}`);
  if (failed()) return undefined;
  return {
    name: name as string,
    match: {
      ...(subjects && { subjects: new Set(subjects) }),
      actors: {
        ...(clients && { clients: new Set(clients) }),
        ...(roles && { roles }),
        ...(tenants && { tenants: new Set(tenants) }),
      },
      via: via as string,
    },
    grant: { origins: new Set(origins), scopes: scopes!, maxTtlSeconds: ttl as number },
    requireDpop: value.requireDpop === true,
  };
}
