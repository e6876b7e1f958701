import { fieldChecker, parseNamedList, rejectUnknownFields, type Report } from "../document.ts";
import { isObject } from "../json.ts";
import { canonicalOrigin } from "../lib/origin.ts";
import { ITEM_NAME as ROUTE_NAME, LDH_HOST as HOST_NAME, SCOPE_TOKEN } from "../lib/syntax.ts";
import { ok, type Result } from "../result.ts";

// Forward-mode routes are configuration (ROUTES in wrangler.toml): which incoming host and/or
// path prefix goes to which origin, and which scopes a request needs per method. The document is
// validated whole at load, every problem named by route and field, like the policy.

export interface Route {
  readonly name: string;
  /** Lower-case host name the request must be for (no port). Absent: any host. */
  readonly host?: string;
  /** The request path must be this, or continue below it. Absent: any path. */
  readonly pathPrefix?: string;
  /** The canonical origin requests are forwarded to; also the minted token's audience. */
  readonly origin: string;
  /** Remove pathPrefix before forwarding: /api/items on the gateway becomes /items at the origin. */
  readonly stripPrefix: boolean;
  /** Scopes requested from policy, by method; "*" for any method not listed. */
  readonly scopes: ReadonlyMap<string, readonly string[]>;
}

export interface RouteTable {
  readonly routes: readonly Route[];
}

/** A table beyond this is a mistake; matching scans the candidates for a host linearly. */
const MAX_ROUTES = 1_000;
/** RFC 9110 §5.6.2 token, upper case: the methods people write in a route. */
const METHOD = /^[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,31}$/;
const ANY_METHOD = "*";
const MAX_PATH_PREFIX_LENGTH = 1024;

/**
 * The broker's own endpoints. They are never forwarded, on any host, so a route can neither
 * shadow the token endpoint nor publish someone else's keys as ours.
 */
const BROKER_PATHS = ["/token", "/explain", "/admin", "/revocations", "/.well-known", "/healthz"] as const;

export function isBrokerPath(path: string): boolean {
  return BROKER_PATHS.some((p) => underPrefix(path, p));
}

/** The route for a request, most specific first: longest pathPrefix, then a named host over any host. */
export function matchRoute(table: RouteTable, hostname: string, path: string): Route | undefined {
  let best: Route | undefined;
  for (const route of table.routes) {
    if (route.host !== undefined && route.host !== hostname) continue;
    if (route.pathPrefix !== undefined && !underPrefix(path, route.pathPrefix)) continue;
    if (!best || specificity(route) > specificity(best)) best = route;
  }
  return best;
}

/** The scopes a method needs on a route; HEAD is GET without a body (RFC 9110 §9.3.2). */
export function scopesFor(route: Route, method: string): readonly string[] | undefined {
  return (
    route.scopes.get(method) ??
    (method === "HEAD" ? route.scopes.get("GET") : undefined) ??
    route.scopes.get(ANY_METHOD)
  );
}

/** Methods a route answers, for the Allow header of a 405; undefined when any method is. */
export function allowedMethods(route: Route): string[] | undefined {
  if (route.scopes.has(ANY_METHOD)) return undefined;
  const methods = [...route.scopes.keys()];
  if (route.scopes.has("GET") && !route.scopes.has("HEAD")) methods.push("HEAD");
  return methods;
}

/** The path the origin sees. */
export function originPath(route: Route, path: string): string {
  if (!route.stripPrefix || route.pathPrefix === undefined) return path;
  const rest = path.slice(route.pathPrefix.length);
  return rest.startsWith("/") ? rest : `/${rest}`;
}

// A prefix matches whole segments: "/api" covers /api and /api/x but not /apix; "/api/" covers
// everything that starts with it.
function underPrefix(path: string, prefix: string): boolean {
  if (prefix.endsWith("/")) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function specificity(route: Route): number {
  return (route.pathPrefix?.length ?? 0) * 2 + (route.host !== undefined ? 1 : 0);
}

// ---- loading ----

export function parseRoutes(raw: unknown): Result<RouteTable, string[]> {
  const matches = new Set<string>();
  const parsed = parseNamedList(
    raw,
    { field: "routes", kind: "route", max: MAX_ROUTES, emptyHint: "leave ROUTES unset to turn forward mode off" },
    parseRoute,
    (route, report) => {
      const matchKey = `${route.host ?? "*"} ${route.pathPrefix ?? ""}`;
      if (matches.has(matchKey)) report("match", "another route has the same host and pathPrefix");
      matches.add(matchKey);
    },
  );
  if (!parsed.ok) return parsed;
  return ok(Object.freeze({ routes: Object.freeze(parsed.value) }));
}

function parseRoute(value: unknown, report: Report): Route | undefined {
  if (!isObject(value)) {
    report("route", "must be an object with name, match, origin and scopes");
    return undefined;
  }
  const { fail, failed } = fieldChecker(report);
  rejectUnknownFields(value, ["name", "match", "origin", "stripPrefix", "scopes"], "", fail);
  const name = value.name;
  if (typeof name !== "string" || !ROUTE_NAME.test(name))
    fail("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'");

  const match = isObject(value.match)
    ? value.match
    : (fail("match", 'must be an object with "host" and/or "pathPrefix"'), {});
  rejectUnknownFields(match, ["host", "pathPrefix"], "match.", fail);
  const { host, pathPrefix } = match;
  if (host !== undefined && (typeof host !== "string" || !HOST_NAME.test(host))) {
    fail(
      "match.host",
      `${JSON.stringify(host)} is not a lower-case host name without port or trailing dot, e.g. "inventory.gw.example.com"`,
    );
  }
  if (pathPrefix !== undefined) checkPathPrefix(pathPrefix, fail);
  if (host === undefined && pathPrefix === undefined)
    fail("match", 'needs "host" and/or "pathPrefix": a route that takes every request is not allowed');

  const origin = value.origin;
  if (typeof origin !== "string" || !canonicalOrigin(origin).ok) {
    fail(
      "origin",
      `${JSON.stringify(origin)} is not a canonical origin such as https://inventory.example.com (lower case, no path or trailing slash, no default port; http only for loopback)`,
    );
  }

  const stripPrefix = value.stripPrefix ?? false;
  if (typeof stripPrefix !== "boolean") fail("stripPrefix", "must be true or false");
  else if (stripPrefix && pathPrefix === undefined) fail("stripPrefix", "needs match.pathPrefix");

  const scopes = parseScopes(value.scopes, fail);
  if (failed()) return undefined;
  return Object.freeze({
    name: name as string,
    ...(host !== undefined && { host: host as string }),
    ...(pathPrefix !== undefined && { pathPrefix: pathPrefix as string }),
    origin: origin as string,
    stripPrefix: stripPrefix as boolean,
    scopes: scopes!,
  });
}

function checkPathPrefix(prefix: unknown, fail: Report): void {
  const field = "match.pathPrefix";
  if (typeof prefix !== "string" || !prefix.startsWith("/") || prefix.length > MAX_PATH_PREFIX_LENGTH) {
    fail(field, `${JSON.stringify(prefix)} must be a path starting with "/"`);
    return;
  }
  // Requests are matched on their normalised path, so a prefix that normalisation would change
  // (dot segments, percent-encoding, query, fragment) could never match as written.
  let normalised: string | undefined;
  try {
    const url = new URL(prefix, "https://gateway.invalid");
    if (url.search === "" && url.hash === "") normalised = url.pathname;
  } catch {
    normalised = undefined;
  }
  if (normalised !== prefix || prefix.includes("%")) {
    fail(
      field,
      `${JSON.stringify(prefix)} is not a plain normalised path (no dot segments, percent-encoding, query or fragment)`,
    );
    return;
  }
  if (prefix === "/") fail(field, '"/" matches everything: leave pathPrefix out and match on host instead');
  else if (BROKER_PATHS.some((p) => underPrefix(prefix, p) || underPrefix(p, prefix.replace(/\/$/, "")))) {
    fail(
      field,
      `${JSON.stringify(prefix)} overlaps the broker's own endpoints (${BROKER_PATHS.join(", ")}), which are never forwarded`,
    );
  }
}

function parseScopes(value: unknown, fail: Report): ReadonlyMap<string, readonly string[]> | undefined {
  if (!isObject(value) || Object.keys(value).length === 0) {
    fail(
      "scopes",
      'must be an object of method → scopes, e.g. {"GET":["inventory.read"],"POST":["inventory.write"]} ("*" for any other method)',
    );
    return undefined;
  }
  const scopes = new Map<string, readonly string[]>();
  for (const [method, list] of Object.entries(value)) {
    const field = `scopes.${method}`;
    if (method !== ANY_METHOD && !METHOD.test(method)) {
      fail(field, 'is not an upper-case HTTP method (or "*")');
      continue;
    }
    if (!Array.isArray(list) || list.length === 0) {
      fail(field, "must be a non-empty array of scope tokens");
      continue;
    }
    const seen = new Set<string>();
    list.forEach((scope: unknown, i: number) => {
      if (typeof scope !== "string" || !SCOPE_TOKEN.test(scope))
        fail(`${field}[${i}]`, `${JSON.stringify(scope)} is not a scope token (RFC 6749 §3.3)`);
      else if (seen.has(scope)) fail(`${field}[${i}]`, `${JSON.stringify(scope)} is listed twice`);
      else seen.add(scope);
    });
    scopes.set(method, Object.freeze([...seen]));
  }
  return scopes;
}
