import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { inject } from "vitest";
import worker from "../../../worker/index.ts";
import type { Env } from "../../../worker/config.ts";
import { DEPLOYER_APP, ORDERS_APP, nowSeconds, scenario, type Scenario } from "../support/scenario.ts";
import type { Echo } from "../support/origin-echo.ts";

// Forward mode end to end inside workerd: the Worker forwards to a real (Node, loopback) origin
// that echoes what it received, so each test can see exactly what crossed the gateway.

const ORIGIN = inject("testOrigin");
const CLOSED = inject("closedOrigin");
const GATEWAY = "https://inventory.gw.test";

const ROUTES = {
  routes: [
    {
      name: "inventory",
      match: { host: "inventory.gw.test", pathPrefix: "/api/" },
      origin: ORIGIN,
      stripPrefix: true,
      scopes: {
        GET: ["inventory.read"],
        POST: ["inventory.write"],
        PUT: ["inventory.write"],
        DELETE: ["inventory.admin"],
      },
    },
    { name: "raw", match: { pathPrefix: "/raw" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } },
    { name: "whole-host", match: { host: "whole.gw.test" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } },
    { name: "down", match: { pathPrefix: "/down" }, origin: CLOSED, scopes: { "*": ["inventory.read"] } },
  ],
};

const POLICY = {
  rules: [
    {
      name: "orders-use-inventory",
      match: { clients: [ORDERS_APP], roles: ["Inventory.Read"] },
      grant: { origins: [ORIGIN, CLOSED], scopes: ["inventory.read", "inventory.write"], maxTtlSeconds: 300 },
    },
  ],
};

/** Timeout for the slow-origin test: short so it runs well under 2 s. */
const TEST_TIMEOUT_MS = 400;

/** One stable env object per gateway, as in production, so the per-config caches persist across requests. */
function gateway(s: Scenario, overrides: Partial<Env> = {}) {
  const env = s.env({
    ROUTES: JSON.stringify(ROUTES),
    POLICY: JSON.stringify(POLICY),
    FORWARD_TIMEOUT_MS: String(TEST_TIMEOUT_MS),
    ...overrides,
  });
  return {
    async fetch(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token === undefined) headers.set("authorization", `Bearer ${await s.token()}`);
      else if (token !== null) headers.set("authorization", `Bearer ${token}`);
      const request = new Request(path.startsWith("https://") ? path : `${GATEWAY}${path}`, { ...rest, headers });
      const ctx = createExecutionContext();
      const response = await worker.fetch(request, env, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    },
  };
}

async function echo(response: Response): Promise<Echo> {
  expect(response.status).toBe(200);
  return (await response.json()) as Echo;
}

let logs: string[];
beforeEach(() => {
  logs = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => vi.restoreAllMocks());

function forwardAudit(): Array<Record<string, unknown>> {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === "forward");
}

describe("forward mode: allowed requests", () => {
  it("arrives at the origin with a valid minted token for that origin, not the caller's token", async () => {
    const s = scenario();
    const gw = gateway(s);
    const callerToken = await s.token();
    const got = await echo(await gw.fetch("/api/items", { token: callerToken }));
    const authorization = got.headers.authorization as string;
    expect(authorization).toMatch(/^Bearer /);
    const minted = authorization.slice("Bearer ".length);
    expect(minted).not.toBe(callerToken);
    expect(JSON.stringify(got)).not.toContain(callerToken.split(".")[2]);

    const jwks = (await (await gw.fetch("/.well-known/jwks.json", { token: null })).json()) as { keys: JsonWebKey[] };
    const { payload } = await jwtVerify(minted, createLocalJWKSet(jwks as never), {
      issuer: "https://broker.test",
      audience: ORIGIN,
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({
      sub: ORDERS_APP,
      client_id: ORDERS_APP,
      tid: s.tid,
      scope: "inventory.read",
      roles: ["Inventory.Read"],
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(forwardAudit()).toEqual([
      expect.objectContaining({
        outcome: "granted",
        reason: "granted",
        route: "inventory",
        method: "GET",
        origin_status: 200,
        token_reused: false,
        jti: payload.jti,
      }),
    ]);
  });

  it("puts the route's scopes for the method into the minted token", async () => {
    const gw = gateway(scenario());
    const got = await echo(await gw.fetch("/api/items", { method: "POST", body: "{}" }));
    expect(decodeJwt((got.headers.authorization as string).slice(7)).scope).toBe("inventory.write");
  });

  it("strips identity-spoofing, credential and hop-by-hop headers and keeps application headers", async () => {
    const gw = gateway(scenario());
    const spoofed: Record<string, string> = {
      "x-forwarded-for": "10.0.0.1",
      "x-forwarded-user": "admin",
      "x-forwarded-host": "evil.example",
      forwarded: "for=10.0.0.1",
      "x-real-ip": "10.0.0.1",
      "true-client-ip": "10.0.0.1",
      "x-client-id": "spoof",
      "x-user-id": "admin",
      "x-userinfo": "admin",
      "x-ms-client-principal": "eyJ",
      "x-ms-client-principal-name": "admin@contoso.com",
      "x-ms-token-aad-access-token": "t",
      "cf-access-jwt-assertion": "eyJ",
      "cf-access-authenticated-user-email": "admin@contoso.com",
      "x-authenticated-user": "admin",
      "x-remote-user": "admin",
      "remote-user": "admin",
      "x-auth-request-email": "admin@contoso.com",
      "x-original-url": "/admin",
      "x-http-method-override": "DELETE",
      cookie: "session=admin",
      "proxy-authorization": "Basic YTpi",
      "x-custom-hop": "1",
      connection: "x-custom-hop",
      te: "trailers",
      upgrade: "websocket",
    };
    const kept = {
      "x-request-id": "req-42",
      accept: "application/json",
      "content-type": "application/json",
      "user-agent": "orders/1.0",
    };
    const got = await echo(
      await gw.fetch("/api/items", { method: "POST", body: "{}", headers: { ...spoofed, ...kept } }),
    );
    for (const name of Object.keys(spoofed)) expect(got.headers, name).not.toHaveProperty(name);
    expect(got.headers).toMatchObject(kept);
  });

  it.each([
    ["GET", undefined],
    ["POST", '{"sku":"A-1","qty":3}'],
    ["PUT", "plain text body ✓"],
  ])("passes %s with its path, query string and body through unchanged", async (method, body) => {
    const gw = gateway(scenario());
    const query = "?b=2&a=1&a=%20x%2Fy&empty=&flag";
    const got = await echo(
      await gw.fetch(`/api/items/A%2F1/details${query}`, { method, ...(body !== undefined && { body }) }),
    );
    expect(got).toMatchObject({ method, path: "/items/A%2F1/details", query, body: body ?? "" });
  });

  it("keeps the path when the route does not strip its prefix, and routes a whole host", async () => {
    const gw = gateway(scenario());
    expect((await echo(await gw.fetch("/raw/x/y?z=1"))).path).toBe("/raw/x/y");
    expect((await echo(await gw.fetch("https://whole.gw.test/any/path"))).path).toBe("/any/path");
  });

  it("passes a binary body through byte for byte", async () => {
    const gw = gateway(scenario());
    const bytes = new Uint8Array(256 * 64).map((_, i) => i % 256);
    const got = await echo(
      await gw.fetch("/api/blob", {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "application/octet-stream" },
      }),
    );
    expect(got.bodyBase64).toBe(btoa(String.fromCharCode(...bytes)));
    expect(got.headers["content-type"]).toBe("application/octet-stream");
  });

  it("answers HEAD with the GET scopes", async () => {
    const gw = gateway(scenario());
    const response = await gw.fetch("/api/items", { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(forwardAudit()[0]).toMatchObject({ method: "HEAD", scope: "inventory.read" });
  });

  it("streams the origin's response: the first chunk arrives while the origin still holds the rest", async () => {
    const gw = gateway(scenario());
    const id = crypto.randomUUID();
    const response = await gw.fetch(`/api/__stream/${id}`);
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("chunk-1")) text += (await reader.read()).value ?? "";
    expect(text).toBe("chunk-1\n"); // the origin has not sent chunk-2 yet: nothing was buffered
    await fetch(`${ORIGIN}/__release/${id}`, { method: "POST" });
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    expect(text).toBe("chunk-1\nchunk-2\n");
  });

  it("streams the caller's body: the origin sees the first chunk before the caller has sent the rest", async () => {
    const gw = gateway(scenario());
    const id = crypto.randomUUID();
    const encoder = new TextEncoder();
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
    push.enqueue(encoder.encode("part-1;"));
    const pending = gw.fetch(`/api/__upload/${id}`, { method: "POST", body, duplex: "half" } as RequestInit);
    const deadline = Date.now() + 3_000;
    let seen = { chunks: 0, bytes: 0, done: false };
    while (seen.chunks === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      seen = (await (await fetch(`${ORIGIN}/__uploads/${id}`)).json()) as typeof seen;
    }
    expect(seen).toMatchObject({ bytes: 7, done: false });
    push.enqueue(encoder.encode("part-2"));
    push.close();
    const response = await pending;
    expect(await response.json()).toMatchObject({ bytes: 13, done: true });
  });

  it("passes a redirect back without following it, dropping the origin's hop-by-hop headers", async () => {
    const gw = gateway(scenario());
    const response = await gw.fetch("/api/__status/302");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://elsewhere.example/next");
    expect(response.headers.get("x-kept")).toBe("yes");
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect(response.headers.has("x-hop-origin")).toBe(false);
    expect(response.headers.has("keep-alive")).toBe(false);
    expect(await response.text()).toBe("status 302");
  });

  it("passes origin errors through as the origin's own responses", async () => {
    const response = await gateway(scenario()).fetch("/api/__status/503");
    expect(response.status).toBe(503);
    expect(await response.text()).toBe("status 503");
  });
});

describe("forward mode: minted token reuse", () => {
  it("reuses the minted token for the same caller, origin and scopes instead of signing again", async () => {
    const s = scenario();
    const gw = gateway(s);
    const token = await s.token();
    const sign = vi.spyOn(crypto.subtle, "sign");
    const verify = vi.spyOn(crypto.subtle, "verify");
    const first = await echo(await gw.fetch("/api/a", { token }));
    const second = await echo(await gw.fetch("/api/b?x=1", { token }));
    const third = await echo(await gw.fetch("/raw/c", { token }));
    expect(second.headers.authorization).toBe(first.headers.authorization);
    expect(third.headers.authorization).toBe(first.headers.authorization); // same origin, same scopes
    expect(sign).toHaveBeenCalledTimes(1);
    expect(verify).toHaveBeenCalledTimes(1); // the Entra token was verified once too
    expect(forwardAudit().map((e) => e.token_reused)).toEqual([false, true, true]);
  });

  it("mints separately per scope set and per caller token", async () => {
    const s = scenario();
    const gw = gateway(s);
    const token = await s.token();
    const jti = async (r: Response) => decodeJwt(((await echo(r)).headers.authorization as string).slice(7)).jti;
    const read = await jti(await gw.fetch("/api/a", { token }));
    const write = await jti(await gw.fetch("/api/a", { token, method: "POST", body: "x" }));
    const other = await jti(await gw.fetch("/api/a", { token: await s.token() }));
    expect(new Set([read, write, other]).size).toBe(3);
  });

  it("never reuses a minted token beyond the caller's token: its lifetime is capped by the caller's exp", async () => {
    const s = scenario();
    const gw = gateway(s);
    const token = await s.token({ claims: { exp: nowSeconds() + 45 } });
    const payload = decodeJwt(
      ((await echo(await gw.fetch("/api/a", { token }))).headers.authorization as string).slice(7),
    );
    expect(payload.exp).toBeLessThanOrEqual(nowSeconds() + 45);
  });
});

describe("forward mode: refusals (RFC 6750)", () => {
  const challenge = (response: Response) => response.headers.get("www-authenticate") ?? "";

  it.each([
    ["no Authorization header", { token: null }, 401, "invalid_token", "token_missing"],
    [
      "another auth scheme",
      { token: null, headers: { authorization: "Basic dXNlcjpwYXNz" } },
      401,
      "invalid_token",
      "token_missing",
    ],
    [
      "Bearer without a token",
      { token: null, headers: { authorization: "Bearer " } },
      400,
      "invalid_request",
      "authorization_malformed",
    ],
    [
      "two bearer tokens",
      { token: null, headers: { authorization: "Bearer a.b.c, Bearer d.e.f" } },
      400,
      "invalid_request",
      "authorization_malformed",
    ],
    ["a token that is not a JWT", { token: "not-a-jwt" }, 401, "invalid_token", "token_malformed"],
  ] as const)("refuses %s", async (_, init, status, error, reason) => {
    const response = await gateway(scenario()).fetch("/api/items", init as RequestInit & { token: string | null });
    expect(response.status).toBe(status);
    expect(challenge(response)).toMatch(new RegExp(`^Bearer realm="https://broker.test", error="${error}"`));
    expect(await response.json()).toMatchObject({ error });
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(forwardAudit()).toEqual([expect.objectContaining({ outcome: "denied", reason, route: "inventory" })]);
  });

  it("refuses a token also sent as an access_token query parameter, so it cannot reach the origin", async () => {
    const response = await gateway(scenario()).fetch("/api/items?access_token=abc");
    expect(response.status).toBe(400);
    expect(challenge(response)).toContain('error="invalid_request"');
    expect(forwardAudit()[0]).toMatchObject({ reason: "token_in_query" });
  });

  it.each([
    [
      "an expired token",
      { claims: { exp: nowSeconds() - 3600, iat: nowSeconds() - 7200, nbf: nowSeconds() - 7200 } },
      "token_expired",
    ],
    ["a delegated token", { claims: { scp: "user_impersonation" } }, "not_app_only"],
    ["a token for another tenant", { claims: { tid: "99999999-9999-4999-8999-999999999999" } }, "tenant_not_allowed"],
    ["a token signed by an unpublished key", { kid: "key-b" }, "key_not_found"],
  ] as const)(
    "answers %s with 401 invalid_token and the precise reason in the audit log",
    async (_, options, reason) => {
      const s = scenario();
      const response = await gateway(s).fetch("/api/items", { token: await s.token(options) });
      expect(response.status).toBe(401);
      expect(challenge(response)).toContain('error="invalid_token"');
      expect(forwardAudit()[0]).toMatchObject({ outcome: "denied", reason });
    },
  );

  it("answers a method the policy does not grant the route's scope for with 403 insufficient_scope naming the scope", async () => {
    const response = await gateway(scenario()).fetch("/api/items/1", { method: "DELETE" });
    expect(response.status).toBe(403);
    expect(challenge(response)).toMatch(/error="insufficient_scope".*scope="inventory.admin"/);
    expect(await response.json()).toMatchObject({ error: "insufficient_scope" });
    expect(forwardAudit()[0]).toMatchObject({ outcome: "denied", reason: "scope_not_granted", client_id: ORDERS_APP });
  });

  it.each([
    ["a caller with no roles", { claims: { roles: [] } }, "no_roles"],
    ["a client the policy does not name", { claims: { azp: DEPLOYER_APP } }, "resource_not_granted"],
  ] as const)("answers %s with 403 insufficient_scope", async (_, options, reason) => {
    const s = scenario();
    const response = await gateway(s).fetch("/api/items", { token: await s.token(options) });
    expect(response.status).toBe(403);
    expect(challenge(response)).toContain('error="insufficient_scope"');
    expect(forwardAudit()[0]).toMatchObject({ reason });
  });

  it("answers a method the route does not map with 405 and Allow", async () => {
    const response = await gateway(scenario()).fetch("/api/items", { method: "PATCH", body: "x" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, PUT, DELETE, HEAD");
    expect(forwardAudit()[0]).toMatchObject({ reason: "method_not_routed" });
  });

  it("answers 503 with Retry-After when Entra's keys cannot be fetched", async () => {
    const s = scenario();
    await s.setKeys({ mode: "down" });
    const response = await gateway(s).fetch("/api/items");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(forwardAudit()[0]).toMatchObject({ reason: "jwks_unavailable" });
  });

  it("answers 503 with Retry-After to a key it has never seen while Entra's key endpoint is down", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now());
      const s = scenario();
      const gw = gateway(s);
      expect((await gw.fetch("/api/items")).status).toBe(200);
      await s.setKeys({ mode: "down", published: ["key-a", "key-b"] });
      vi.setSystemTime(Date.now() + 61_000);
      const response = await gw.fetch("/api/items", { token: await s.token({ kid: "key-b" }) });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("30");
      expect(forwardAudit().at(-1)).toMatchObject({ reason: "jwks_unavailable" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("forward mode: origin failures", () => {
  it("answers 502 when the origin refuses connections", async () => {
    const started = Date.now();
    const response = await gateway(scenario()).fetch("/down/x");
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: "origin_unreachable" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(forwardAudit()[0]).toMatchObject({ outcome: "error", reason: "origin_unreachable", route: "down" });
  });

  it("answers 504 when the origin does not answer within FORWARD_TIMEOUT_MS", async () => {
    const started = Date.now();
    const response = await gateway(scenario()).fetch("/api/__slow");
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: "origin_timeout" });
    expect(elapsed).toBeGreaterThanOrEqual(TEST_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(2_000);
    expect(forwardAudit()[0]).toMatchObject({ outcome: "error", reason: "origin_timeout" });
  });
});

describe("forward mode: routing", () => {
  it("leaves requests no route matches to the 404 handler", async () => {
    const gw = gateway(scenario());
    expect((await gw.fetch("/elsewhere")).status).toBe(404);
    expect((await gw.fetch("https://other.gw.test/api/items")).status).toBe(404);
    expect(forwardAudit()).toEqual([]);
  });

  it("never shadows the broker's own endpoints, even on a host routed as a whole", async () => {
    const gw = gateway(scenario());
    const jwks = await gw.fetch("https://whole.gw.test/.well-known/jwks.json", { token: null });
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    const metadata = await gw.fetch("https://whole.gw.test/.well-known/oauth-authorization-server", { token: null });
    expect(((await metadata.json()) as { issuer: string }).issuer).toBe("https://broker.test");
    expect(await (await gw.fetch("https://whole.gw.test/healthz", { token: null })).text()).toBe("ok");
    const token = await gw.fetch("https://whole.gw.test/token", { method: "POST", body: "" });
    expect(((await token.json()) as { error: string }).error).toBe("invalid_request");
    expect((await gw.fetch("https://whole.gw.test/.well-known/other")).status).toBe(404);
    expect((await gw.fetch("https://whole.gw.test/healthz", { method: "POST", body: "" })).status).toBe(404);
    expect(forwardAudit()).toEqual([]);
  });

  it("is off when ROUTES is not set", async () => {
    const s = scenario();
    const response = await gateway(s, { ROUTES: undefined }).fetch("/api/items");
    expect(response.status).toBe(404);
  });
});
