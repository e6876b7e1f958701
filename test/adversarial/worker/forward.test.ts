import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, beforeEach, describe, expect, it, inject, vi } from "vitest";
import worker from "../../../worker/index.ts";
import type { Echo } from "../../worker/support/origin-echo.ts";
import { ORDERS_APP, scenario, type Scenario } from "../../worker/support/scenario.ts";

// Forward mode under attack: a caller with a valid Entra token tries to make the origin believe
// something other than the minted token (spoofed identity headers, ambient credentials, method or
// path overrides), to carry a credential further than the origin, or to reach the broker's own
// endpoints through a route. Every check has its own case, so one broken rule fails one test.

const ORIGIN = inject("testOrigin");
const GATEWAY = "https://inventory.gw.test";
const ROUTES = {
  routes: [
    {
      name: "inventory",
      match: { host: "inventory.gw.test", pathPrefix: "/api/" },
      origin: ORIGIN,
      stripPrefix: true,
      scopes: { GET: ["inventory.read"], POST: ["inventory.write"] },
    },
    { name: "raw", match: { pathPrefix: "/raw" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } },
    { name: "whole-host", match: { host: "whole.gw.test" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } },
  ],
};
const POLICY = {
  rules: [
    {
      name: "orders-use-inventory",
      match: { clients: [ORDERS_APP], roles: ["Inventory.Read"] },
      grant: { origins: [ORIGIN], scopes: ["inventory.read", "inventory.write"], maxTtlSeconds: 300 },
    },
  ],
};

let logs: string[];
beforeEach(() => {
  logs = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => vi.restoreAllMocks());
const forwardAudit = () =>
  logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === "forward");

function gateway(s: Scenario) {
  const env = s.env({ ROUTES: JSON.stringify(ROUTES), POLICY: JSON.stringify(POLICY) });
  return async (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token === undefined && !headers.has("authorization")) headers.set("authorization", `Bearer ${await s.token()}`);
    else if (token) headers.set("authorization", `Bearer ${token}`);
    const ctx = createExecutionContext();
    const url = path.startsWith("https://") ? path : `${GATEWAY}${path}`;
    const response = await worker.fetch(new Request(url, { ...rest, headers }), env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

async function echoed(response: Response): Promise<Echo> {
  expect(response.status).toBe(200);
  return (await response.json()) as Echo;
}

describe("headers an origin could take as a statement about the caller never reach it", () => {
  const spoofs: Array<[string, string, string]> = [
    ["cookie", "session=admin", "an ambient credential: the origin would authenticate the cookie's user"],
    ["x-forwarded-for", "10.0.0.1", "a client address the origin may allow-list"],
    ["x-forwarded-host", "admin.internal", "the host the origin builds URLs and tenancy from"],
    ["x-forwarded-user", "admin", "oauth2-proxy's authenticated user"],
    ["x-forwarded-access-token", "spoofed-token-value", "oauth2-proxy's upstream token"],
    ["forwarded", "for=10.0.0.1;host=admin.internal", "RFC 7239's address and host"],
    ["x-real-ip", "10.0.0.1", "nginx's client address"],
    ["true-client-ip", "10.0.0.1", "Akamai/Cloudflare's client address"],
    ["cf-connecting-ip", "10.0.0.1", "Cloudflare's client address"],
    ["cf-connecting-ipv6", "::1", "Cloudflare's IPv6 client address"],
    ["x-cluster-client-ip", "10.0.0.1", "a load balancer's client address"],
    ["remote-user", "admin", "CGI-style authenticated user"],
    ["x-remote-user", "admin", "Apache/Kubernetes authenticated user"],
    ["x-id-token", "spoofed-token-value", "an identity token the origin may trust"],
    ["x-access-token", "spoofed-token-value", "an access token the origin may prefer"],
    ["x-http-method-override", "DELETE", "a GET authorised as a read acting as a DELETE"],
    ["x-http-method", "DELETE", "a method override"],
    ["x-method-override", "DELETE", "a method override"],
    ["x-rewrite-url", "/admin", "IIS's original URL: the caller picks the path served"],
    ["x-original-url", "/admin", "the original URL: the caller picks the path served"],
    ["x-client-id", "spoofed", "a client id the origin may authorise by"],
    ["x-user-id", "admin", "a user id the origin may authorise by"],
    ["x-authenticated-user", "admin", "an authenticated user"],
    ["x-auth-request-email", "admin@contoso.example", "oauth2-proxy's auth_request email"],
    ["x-ms-client-principal-name", "admin@contoso.example", "App Service Easy Auth's principal"],
    ["x-ms-token-aad-access-token", "spoofed-token-value", "App Service Easy Auth's token store"],
    ["cf-access-jwt-assertion", "spoofed-token-value", "Cloudflare Access's assertion"],
    ["cf-access-authenticated-user-email", "admin@contoso.example", "Cloudflare Access's user"],
    ["x-goog-authenticated-user-email", "admin@contoso.example", "Google IAP's user"],
    ["x-amzn-oidc-identity", "admin", "AWS ALB's OIDC identity"],
    ["x-jwt-assertion", "spoofed-token-value", "a gateway's JWT assertion"],
    ["proxy-authorization", "Basic YTpi", "a credential for a proxy, hop-by-hop"],
  ];
  for (const [name, value, why] of spoofs) {
    it(`drops ${name} (${why})`, async () => {
      const got = await echoed(await gateway(scenario())("/api/items", { headers: { [name]: value } }));
      expect(got.headers).not.toHaveProperty(name);
      expect(JSON.stringify(got)).not.toContain(value);
    });
  }

  it("drops a header the caller names in Connection (hop-by-hop for this connection only)", async () => {
    const headers = { connection: "x-internal-role", "x-internal-role": "admin" };
    const got = await echoed(await gateway(scenario())("/api/items", { headers }));
    expect(got.headers).not.toHaveProperty("x-internal-role");
  });

  it("replaces the caller's Entra token: the origin sees only the minted token, for itself", async () => {
    const s = scenario();
    const entra = await s.token();
    const got = await echoed(await gateway(s)("/api/items", { token: entra }));
    expect(JSON.stringify(got)).not.toContain(entra.split(".")[2]);
    expect(decodeJwt(String(got.headers.authorization).slice("Bearer ".length)).aud).toBe(ORIGIN);
  });
});

describe("a credential never travels further than the origin", () => {
  it("passes a redirect back without following it (Location would receive the minted token)", async () => {
    const response = await gateway(scenario())("/api/__status/307");
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("https://elsewhere.example/next");
  });

  it("refuses a token also sent in the query string, which would otherwise reach the origin's logs", async () => {
    const s = scenario();
    const token = await s.token();
    const response = await gateway(s)(`/api/items?access_token=${token}`, { token });
    expect(response.status).toBe(400);
    expect(await response.text()).not.toContain(token.split(".")[2]);
    expect(forwardAudit()).toEqual([expect.objectContaining({ reason: "token_in_query", outcome: "denied" })]);
  });

  it("refuses two Authorization values instead of choosing one", async () => {
    const s = scenario();
    const response = await gateway(s)("/api/items", {
      headers: { authorization: `Bearer ${await s.token()}, Bearer ${await s.token()}` },
    });
    expect(response.status).toBe(400);
    expect(forwardAudit()[0]).toMatchObject({ reason: "authorization_malformed" });
  });
});

describe("paths and methods cannot be bent", () => {
  it("keeps a path like //evil.example/x on the route's origin (concatenated, never resolved)", async () => {
    const got = await echoed(await gateway(scenario())("/raw//evil.example/x"));
    expect(got.path).toBe("/raw//evil.example/x");
  });

  it("matches routes on the normalised path: an encoded dot segment cannot climb out of a prefix", async () => {
    // /api/%2e%2e/admin is /admin (WHATWG URL), which no route covers: not forwarded as /api/….
    const response = await gateway(scenario())("/api/%2e%2e/admin");
    expect(response.status).toBe(404);
    expect(forwardAudit()).toEqual([]);
  });

  it("never forwards the broker's own token endpoint, even on a host routed as a whole", async () => {
    const response = await gateway(scenario())("https://whole.gw.test/token", { method: "POST", body: "" });
    expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
    expect(forwardAudit()).toEqual([]);
  });

  it("never publishes the origin's keys as the broker's (/.well-known is never forwarded)", async () => {
    const response = await gateway(scenario())("https://whole.gw.test/.well-known/jwks.json", { token: null });
    const keys = (await response.json()) as { keys: Array<{ kid: string }> };
    expect(keys.keys.length).toBeGreaterThan(0);
    expect(forwardAudit()).toEqual([]);
  });

  it("authorises the method that is sent: a POST needs the write scope even if the caller holds read", async () => {
    const s = scenario();
    const response = await gateway(s)("/api/items", { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    expect(forwardAudit()[0]).toMatchObject({ method: "POST", scope: "inventory.write" });
  });
});
