import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import worker from "../../worker/index.ts";
import type { Env } from "../../worker/config.ts";
import { RATE_LIMIT_RETRY_AFTER_SECONDS, parseRateLimitPolicy } from "../../worker/rate-limit.ts";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, scenario } from "./support/scenario.ts";
import { auditEntry } from "./support/audit-log.ts";

// Per-client rate limits with Miniflare's real rate limiter: RATE_LIMIT_AGENT allows 3 requests a
// minute, RATE_LIMIT_SERVICE 10,000 (wrangler.test.toml). Counters are keyed by tenant and client,
// and each scenario has its own tenant, so tests never share a counter.

const ORIGIN = inject("testOrigin");
const RESOURCE = "https://inventory.example.com";
const AGENT_LIMIT = 3;
/** Miniflare's windows are aligned to the wall clock: start a test early in a window so it cannot roll over mid-test. */
const WINDOW_SECONDS = 60;
const MARGIN_SECONDS = 15;
/** Room for waiting out the end of a window. */
const TEST_TIMEOUT_MS = (MARGIN_SECONDS + 10) * 1000;

async function freshWindow(): Promise<void> {
  const left = WINDOW_SECONDS - ((Date.now() / 1000) % WINDOW_SECONDS);
  if (left < MARGIN_SECONDS) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
}

let logs: string[];
beforeEach(() => {
  logs = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => vi.restoreAllMocks());

function lastAudit(event: string): Record<string, unknown> | undefined {
  return logs
    .map(auditEntry)
    .filter((e) => e.event === event)
    .at(-1);
}

function setup(overrides: Partial<Env> = {}) {
  const s = scenario();
  const agent = crypto.randomUUID();
  const service = crypto.randomUUID();
  const policy = {
    rules: [
      {
        name: "readers",
        match: { roles: ["Inventory.Read"] },
        grant: { origins: [RESOURCE, ORIGIN], scopes: ["inventory.read"], maxTtlSeconds: 300 },
      },
    ],
    rateLimits: { default: "RATE_LIMIT_SERVICE", clients: { [agent]: "RATE_LIMIT_AGENT" } },
  };
  const routes = {
    routes: [{ name: "all", match: { pathPrefix: "/api/" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } }],
  };
  const env = s.env({ POLICY: JSON.stringify(policy), ROUTES: JSON.stringify(routes), ...overrides });
  const send = async (request: Request) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  const token = (client: string) => s.token({ claims: { azp: client, roles: ["Inventory.Read"] } });
  return {
    agent,
    service,
    async exchange(client: string) {
      const body = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: await token(client),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: RESOURCE,
      });
      return send(
        new Request("https://broker.test/token", {
          method: "POST",
          body,
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
      );
    },
    async explain(client: string) {
      const body = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: await token(client),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: RESOURCE,
      });
      return send(
        new Request("https://broker.test/explain", {
          method: "POST",
          body,
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
      );
    },
    async forward(client: string) {
      return send(
        new Request("https://gw.test/api/items", { headers: { authorization: `Bearer ${await token(client)}` } }),
      );
    },
  };
}

describe("per-client rate limits", () => {
  it(
    "answers 429 with Retry-After and rate_limited once a client is over its tier, without affecting another client",
    async () => {
      await freshWindow();
      const t = setup();
      for (let i = 0; i < AGENT_LIMIT; i++) expect((await t.exchange(t.agent)).status).toBe(200);
      expect(lastAudit("token_exchange")).toMatchObject({ outcome: "granted", rate_limit: "RATE_LIMIT_AGENT" });

      const limited = await t.exchange(t.agent);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe(String(RATE_LIMIT_RETRY_AFTER_SECONDS));
      expect(await limited.json()).toMatchObject({ error: "rate_limited" });
      expect(lastAudit("token_exchange")).toMatchObject({
        outcome: "denied",
        reason: "rate_limited",
        client_id: t.agent,
        rate_limit: "RATE_LIMIT_AGENT",
      });

      // The service client, in the default tier, goes on.
      for (let i = 0; i < AGENT_LIMIT + 2; i++) expect((await t.exchange(t.service)).status).toBe(200);
      expect(lastAudit("token_exchange")).toMatchObject({ client_id: t.service, rate_limit: "RATE_LIMIT_SERVICE" });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "counts forward-mode requests too",
    async () => {
      await freshWindow();
      const t = setup();
      for (let i = 0; i < AGENT_LIMIT; i++) expect((await t.forward(t.agent)).status).toBe(200);
      const limited = await t.forward(t.agent);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe(String(RATE_LIMIT_RETRY_AFTER_SECONDS));
      expect(lastAudit("forward")).toMatchObject({ reason: "rate_limited", client_id: t.agent });
      expect((await t.forward(t.service)).status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "counts POST /explain calls and explains a limited caller as rate_limited, as /token would refuse it",
    async () => {
      await freshWindow();
      const t = setup();
      for (let i = 0; i < AGENT_LIMIT - 1; i++) {
        const response = await t.explain(t.agent);
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({ decision: "granted", rule: "readers" });
      }
      // The explains spent the budget: one exchange is left.
      expect((await t.exchange(t.agent)).status).toBe(200);
      expect((await t.exchange(t.agent)).status).toBe(429);

      const limited = await t.explain(t.agent);
      expect(limited.status).toBe(200);
      expect(await limited.json()).toMatchObject({
        decision: "denied",
        reason: "rate_limited",
        rateLimit: "RATE_LIMIT_AGENT",
        retryAfter: RATE_LIMIT_RETRY_AFTER_SECONDS,
        candidates: [{ rule: "readers", missing: { roles: [], scopes: [] } }],
      });
      expect(lastAudit("explain")).toMatchObject({
        outcome: "denied",
        reason: "rate_limited",
        client_id: t.agent,
        rate_limit: "RATE_LIMIT_AGENT",
      });
      expect(await (await t.explain(t.service)).json()).toMatchObject({ decision: "granted" });
    },
    TEST_TIMEOUT_MS,
  );

  it("lets requests through (fail open) and logs it when the binding fails", async () => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    const t = setup({ RATE_LIMIT_AGENT: { limit: () => Promise.reject(new Error("rate limiter down")) } });
    expect((await t.exchange(t.agent)).status).toBe(200);
    expect(errors.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({ event: "rate_limit_unavailable", binding: "RATE_LIMIT_AGENT", behaviour: "fail_open" }),
    );
  });

  it("refuses to start with a policy that names a binding wrangler.toml does not declare", async () => {
    const s = scenario();
    const errors: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void errors.push(line));
    const policy = {
      rules: [{ name: "r", match: { roles: ["A"] }, grant: { origins: [RESOURCE], scopes: ["s"], maxTtlSeconds: 60 } }],
      rateLimits: { default: "RATE_LIMIT_MISSING" },
    };
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("https://broker.test/.well-known/jwks.json"),
      s.env({ POLICY: JSON.stringify(policy) }),
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(500);
    expect(errors.join("\n")).toContain('rateLimits names \\"RATE_LIMIT_MISSING\\"');
  });
});

describe("POLICY.rateLimits", () => {
  it("names every mistake: unknown fields, client ids that are not GUIDs, binding names that cannot be bindings", () => {
    const parsed = parseRateLimitPolicy({
      default: "not a binding",
      clients: { "orders-service": "RATE_LIMIT_AGENT", "33333333-3333-4333-8333-333333333333": 5 },
      perMinute: 10,
    });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toEqual([
      'rateLimits: unknown field "perMinute"',
      "rateLimits.default: must be the name of a [[ratelimits]] binding",
      'rateLimits.clients: "orders-service" is not a lower-case GUID client app id',
      'rateLimits.clients."33333333-3333-4333-8333-333333333333": must be the name of a [[ratelimits]] binding',
    ]);
  });

  it("is optional: without it nobody is limited", () => {
    const parsed = parseRateLimitPolicy(undefined);
    expect(parsed.ok && parsed.value.default).toBeUndefined();
    expect(parsed.ok && parsed.value.clients.size).toBe(0);
  });
});
