import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../worker/config.ts";
import {
  matchRoute,
  originPath,
  parseRoutes,
  scopesFor,
  type RouteTable,
} from "../../../worker/forward/route-table.ts";
import { scenario } from "../support/scenario.ts";

// worker/forward/route-table.ts: ROUTES validation (every problem named) and matching.

const route = (over: Record<string, unknown> = {}) => ({
  name: "inventory",
  match: { pathPrefix: "/api/" },
  origin: "https://inventory.example.com",
  scopes: { GET: ["inventory.read"] },
  ...over,
});

function table(...routes: Array<Record<string, unknown>>): RouteTable {
  const parsed = parseRoutes({ routes });
  if (!parsed.ok) throw new Error(parsed.error.join("; "));
  return parsed.value;
}

describe("ROUTES", () => {
  it("accepts a JSON string or a TOML table", () => {
    expect(parseRoutes(JSON.stringify({ routes: [route()] })).ok).toBe(true);
    expect(
      parseRoutes({
        routes: [route({ stripPrefix: true, match: { host: "inventory.gw.example.com", pathPrefix: "/api" } })],
      }).ok,
    ).toBe(true);
  });

  it.each([
    ["not JSON", "{", /not valid JSON/],
    ["no routes", { routes: [] }, /"routes" is empty: leave ROUTES unset to turn forward mode off/],
    ["an unknown top-level field", { routes: [route()], extra: 1 }, /unknown field "extra"/],
    ["an unknown route field", { routes: [route({ headers: {} })] }, /route "inventory": headers: unknown field/],
    ["a bad name", { routes: [route({ name: "has space" })] }, /name: must be/],
    [
      "no match at all",
      { routes: [route({ match: {} })] },
      /route "inventory": match: needs "host" and\/or "pathPrefix"/,
    ],
    [
      "a host with a port",
      { routes: [route({ match: { host: "gw.example.com:8443" } })] },
      /match.host: "gw.example.com:8443" is not/,
    ],
    ["an upper-case host", { routes: [route({ match: { host: "GW.example.com" } })] }, /match.host/],
    [
      "a relative path prefix",
      { routes: [route({ match: { pathPrefix: "api" } })] },
      /match.pathPrefix: "api" must be a path/,
    ],
    [
      "a prefix with dot segments",
      { routes: [route({ match: { pathPrefix: "/a/../b" } })] },
      /not a plain normalised path/,
    ],
    [
      "a percent-encoded prefix",
      { routes: [route({ match: { pathPrefix: "/a%2Fb" } })] },
      /not a plain normalised path/,
    ],
    ["a prefix of /", { routes: [route({ match: { pathPrefix: "/" } })] }, /matches everything/],
    [
      "a prefix over /token",
      { routes: [route({ match: { pathPrefix: "/token" } })] },
      /overlaps the broker's own endpoints/,
    ],
    ["a prefix under /.well-known", { routes: [route({ match: { pathPrefix: "/.well-known/acme" } })] }, /overlaps/],
    [
      "a non-canonical origin",
      { routes: [route({ origin: "https://Inventory.example.com/" })] },
      /origin: "https:\/\/Inventory.example.com\/" is not a canonical origin/,
    ],
    [
      "a plain-http origin off loopback",
      { routes: [route({ origin: "http://inventory.example.com" })] },
      /origin: .* is not a canonical origin/,
    ],
    [
      "stripPrefix without a prefix",
      { routes: [route({ match: { host: "gw.example.com" }, stripPrefix: true })] },
      /stripPrefix: needs match.pathPrefix/,
    ],
    ["no scopes", { routes: [route({ scopes: {} })] }, /scopes: must be an object of method/],
    [
      "a lower-case method",
      { routes: [route({ scopes: { get: ["a"] } })] },
      /scopes.get: is not an upper-case HTTP method/,
    ],
    ["an empty scope list", { routes: [route({ scopes: { GET: [] } })] }, /scopes.GET: must be a non-empty array/],
    [
      "a bad scope token",
      { routes: [route({ scopes: { GET: ["a b"] } })] },
      /scopes.GET\[0\]: "a b" is not a scope token/,
    ],
    ["duplicate names", { routes: [route(), route({ match: { pathPrefix: "/b/" } })] }, /duplicate route name/],
    [
      "duplicate matches",
      { routes: [route(), route({ name: "other" })] },
      /route "other": match: another route has the same host and pathPrefix/,
    ],
  ])("rejects %s, naming the route and field", (_, doc, message) => {
    const parsed = parseRoutes(doc);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.join("\n")).toMatch(message);
  });

  it("reports problems under the setting's name when the config loads", async () => {
    const s = scenario();
    const config = await loadConfig(
      s.env({ ROUTES: JSON.stringify({ routes: [route({ origin: "ftp://x" })] }), FORWARD_TIMEOUT_MS: "5" }),
    );
    expect(config.ok).toBe(false);
    if (!config.ok) {
      expect(config.error).toContainEqual(expect.stringMatching(/^ROUTES route "inventory": origin:/));
      expect(config.error).toContainEqual(expect.stringMatching(/^FORWARD_TIMEOUT_MS is "5"/));
    }
  });

  it("leaves forward mode off when ROUTES is absent, with a 30 s default timeout when on", async () => {
    const s = scenario();
    const off = await loadConfig(s.env());
    expect(off.ok && off.value.forward).toBeUndefined();
    const on = await loadConfig(s.env({ ROUTES: JSON.stringify({ routes: [route()] }) }));
    expect(on.ok && on.value.forward?.timeoutMs).toBe(30_000);
  });
});

describe("route matching", () => {
  const routes = table(
    route({ name: "api", match: { pathPrefix: "/api" } }),
    route({ name: "api-admin", match: { pathPrefix: "/api/admin/" } }),
    route({ name: "gw-host", match: { host: "gw.example.com" } }),
    route({ name: "gw-api", match: { host: "gw.example.com", pathPrefix: "/api" } }),
  );
  it.each([
    ["any.example.com", "/api", "api"],
    ["any.example.com", "/api/x", "api"],
    ["any.example.com", "/apix", undefined], // whole segments only
    ["any.example.com", "/api/admin/users", "api-admin"], // longest prefix
    ["any.example.com", "/api/admin", "api"], // "/api/admin/" needs the slash
    ["gw.example.com", "/api/x", "gw-api"], // same prefix: the named host wins
    ["gw.example.com", "/api/admin/x", "api-admin"], // a longer prefix beats the host
    ["gw.example.com", "/other", "gw-host"],
    ["other.example.com", "/other", undefined],
  ])("routes %s%s to %s", (host, path, name) => {
    expect(matchRoute(routes, host, path)?.name).toBe(name);
  });

  it("strips the prefix on request, keeping the path absolute", () => {
    const [r] = table(route({ match: { pathPrefix: "/api" }, stripPrefix: true })).routes;
    expect(originPath(r!, "/api/items")).toBe("/items");
    expect(originPath(r!, "/api")).toBe("/");
    expect(originPath(r!, "/api//evil.example/x")).toBe("//evil.example/x");
  });

  it("falls back from HEAD to GET and from any method to *", () => {
    const [r] = table(route({ scopes: { GET: ["read"], "*": ["any"] } })).routes;
    expect(scopesFor(r!, "HEAD")).toEqual(["read"]);
    expect(scopesFor(r!, "PATCH")).toEqual(["any"]);
  });
});
