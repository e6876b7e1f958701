import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../worker/config.ts";
import { toOriginHeaders } from "../../worker/forward/headers.ts";
import { BoundedLru } from "../../worker/lru.ts";
import { createMintedTokens, REUSE_MARGIN_SECONDS } from "../../worker/forward/minted-tokens.ts";
import { matchRoute, originPath, parseRoutes, scopesFor, type RouteTable } from "../../worker/forward/route-table.ts";
import { createVerifiedCallers } from "../../worker/verified-callers.ts";
import { createJwksCache } from "../../worker/jwks.ts";
import type { Caller } from "../../worker/entra-token.ts";
import { nowSeconds, ORDERS_APP, scenario } from "./support/scenario.ts";

// The forward-mode stages on their own: ROUTES validation and matching, the two caches with
// time as an argument, header filtering.

afterEach(() => vi.restoreAllMocks());

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

describe("verified callers cache", () => {
  it("verifies a token once, re-verifies past exp + skew (with the precise reason), and when the clock goes back", async () => {
    const s = scenario();
    const now = nowSeconds();
    const token = await s.token({ claims: { exp: now + 100 } });
    const config = await loadConfig(s.env());
    if (!config.ok) throw new Error("config");
    const callers = createVerifiedCallers(config.value.entra, createJwksCache());
    const verify = vi.spyOn(crypto.subtle, "verify");
    expect((await callers.verify(token, now)).ok).toBe(true);
    expect((await callers.verify(token, now + 50)).ok).toBe(true);
    expect(verify).toHaveBeenCalledTimes(1);
    expect((await callers.verify(token, now - 5)).ok).toBe(true); // before it was verified: check again
    expect(verify).toHaveBeenCalledTimes(2);
    const expired = await callers.verify(token, now + 100 + config.value.entra.clockSkewSeconds);
    expect(expired).toEqual({ ok: false, error: { reason: "token_expired" } });
  });
});

describe("minted tokens cache", () => {
  const caller: Caller = {
    tenantId: "t",
    appId: ORDERS_APP,
    objectId: "o",
    roles: ["Inventory.Read"],
    tokenVersion: "2.0",
    clientAuth: "certificate",
    issuedAt: 0,
    expiresAt: 1e10,
  };
  const grant = {
    rule: "r",
    resource: "https://inventory.example.com",
    scopes: ["inventory.read"],
    roles: ["Inventory.Read"],
    maxTtlSeconds: 300,
  };

  async function tokens() {
    const s = scenario();
    const config = await loadConfig(s.env());
    if (!config.ok) throw new Error("config");
    return { cache: createMintedTokens(config.value.signingKeys), issuer: config.value.issuer };
  }

  it("reuses while enough lifetime remains, then mints a fresh one", async () => {
    const { cache, issuer } = await tokens();
    const now = 1_000_000;
    const request = (at: number) => ({ issuer, caller, grant, ttlSeconds: 300, now: at });
    const first = await cache.get("h", request(now));
    const margin = Math.max(REUSE_MARGIN_SECONDS, 300 * 0.1); // the fixed margin or a tenth of the ttl
    expect((await cache.get("h", request(now + 300 - margin))).issued.jti).toBe(first.issued.jti);
    const late = await cache.get("h", request(now + 300 - margin + 1));
    expect(late.reused).toBe(false);
    expect(late.issued.jti).not.toBe(first.issued.jti);
    expect(decodeJwt(late.issued.token).iat).toBe(now + 300 - margin + 1);
  });

  it("signs once for concurrent misses on one key", async () => {
    const { cache, issuer } = await tokens();
    const sign = vi.spyOn(crypto.subtle, "sign");
    const results = await Promise.all(
      Array.from({ length: 5 }, () => cache.get("h", { issuer, caller, grant, ttlSeconds: 300, now: 1 })),
    );
    expect(new Set(results.map((r) => r.issued.jti)).size).toBe(1);
    expect(sign).toHaveBeenCalledTimes(1);
  });
});

describe("BoundedLru", () => {
  it("evicts the least recently used entry by count and by weight", () => {
    const lru = new BoundedLru<string, number>({ maxEntries: 2, maxWeight: 10 });
    lru.set("a", 1, 1);
    lru.set("b", 2, 1);
    lru.get("a");
    lru.set("c", 3, 1);
    expect([lru.get("a"), lru.get("b"), lru.get("c")]).toEqual([1, undefined, 3]);
    lru.set("d", 4, 9);
    expect(lru.get("a")).toBeUndefined();
    expect(lru.weight).toBeLessThanOrEqual(10);
    lru.set("huge", 5, 11);
    expect(lru.get("huge")).toBeUndefined();
  });
});

describe("headers to the origin", () => {
  it("drops headers named by Connection and replaces Authorization with the minted token", () => {
    const headers = toOriginHeaders(
      new Headers({
        connection: "keep-alive, x-secret",
        "x-secret": "1",
        "x-fine": "2",
        authorization: "Bearer caller",
      }),
      "minted",
    );
    expect([...headers]).toEqual([
      ["authorization", "Bearer minted"],
      ["x-fine", "2"],
    ]);
  });
});
