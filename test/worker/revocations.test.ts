import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as baseEnv } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import worker from "../../worker/index.ts";
import type { Env } from "../../worker/config.ts";
import {
  createRevocationStore,
  KV_TIMEOUT_MS,
  MAX_STALE_SECONDS,
  REFRESH_SECONDS,
} from "../../worker/revocations/store.ts";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, nowSeconds, scenario } from "./support/scenario.ts";
import { auditEntry } from "./support/audit-log.ts";

// Revocations end to end inside workerd with Miniflare's real KV namespace (the REVOCATIONS
// binding of wrangler.test.toml). Every test uses its own client ids, tenant, rule names and
// origins, so entries made here never touch other tests sharing the namespace.

const ORIGIN = inject("testOrigin");
const GATEWAY = "https://inventory.gw.test";
const kv = (baseEnv as unknown as { REVOCATIONS: KVNamespace }).REVOCATIONS;

function guid(): string {
  return crypto.randomUUID();
}

let logs: string[];
beforeEach(() => {
  logs = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => vi.restoreAllMocks());

function audit(event: string): Array<Record<string, unknown>> {
  return logs.map(auditEntry).filter((e) => e.event === event);
}

/** A broker for one test: unique names, one stable env object (as in production: per-config caches persist). */
function broker(overrides: Partial<Env> = {}) {
  const s = scenario();
  const id = guid().slice(0, 8);
  const names = {
    service: guid(),
    admin: guid(),
    rule: `inventory-readers-${id}`,
    resource: `https://inventory-${id}.example.com`,
  };
  const policy = {
    rules: [
      {
        name: names.rule,
        match: { roles: ["Inventory.Read"] },
        grant: { origins: [names.resource, ORIGIN], scopes: ["inventory.read"], maxTtlSeconds: 300 },
      },
    ],
  };
  const routes = {
    routes: [
      {
        name: "inventory",
        match: { host: "inventory.gw.test", pathPrefix: "/api/" },
        origin: ORIGIN,
        stripPrefix: true,
        scopes: { GET: ["inventory.read"] },
      },
    ],
  };
  const env = s.env({ POLICY: JSON.stringify(policy), ROUTES: JSON.stringify(routes), ...overrides });
  const b = {
    s,
    names,
    env,
    async fetch(request: Request, useEnv: Env = env): Promise<Response> {
      const ctx = createExecutionContext();
      const response = await worker.fetch(request, useEnv, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    },
    serviceToken(client = names.service, claims: Record<string, unknown> = {}) {
      return s.token({ claims: { azp: client, roles: ["Inventory.Read"], ...claims } });
    },
    adminToken(claims: Record<string, unknown> = {}) {
      return s.token({ claims: { azp: names.admin, roles: ["Broker.Admin"], ...claims } });
    },
    async exchange(subjectToken: string, resource = names.resource, useEnv: Env = env): Promise<Response> {
      const body = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource,
      });
      return b.fetch(
        new Request("https://broker.test/token", {
          method: "POST",
          body,
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
        useEnv,
      );
    },
    async forward(token: string, useEnv: Env = env): Promise<Response> {
      return b.fetch(new Request(`${GATEWAY}/api/items`, { headers: { authorization: `Bearer ${token}` } }), useEnv);
    },
    async admin(
      method: string,
      path: string,
      options: { token?: string | null; body?: unknown; env?: Env } = {},
    ): Promise<Response> {
      const headers = new Headers();
      const token = options.token === undefined ? await b.adminToken() : options.token;
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      if (options.body !== undefined) headers.set("content-type", "application/json");
      return b.fetch(
        new Request(`https://broker.test${path}`, {
          method,
          headers,
          ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        }),
        options.env ?? env,
      );
    },
    async revoke(kind: string, value: string, extra: Record<string, unknown> = {}) {
      const response = await b.admin("POST", "/admin/revocations", {
        body: { kind, value, reason: `test: ${kind} leaked`, ...extra },
      });
      expect(response.status).toBe(201);
      return (await response.json()) as Record<string, unknown> & { id: string };
    },
  };
  return b;
}

async function oauth(response: Response) {
  const body = (await response.json()) as { error: string; error_description: string };
  return { status: response.status, error: body.error, description: body.error_description };
}

describe("POST /admin/revocations", () => {
  it("stores the entry and answers 201 with its id, who revoked it and when", async () => {
    const b = broker();
    const before = nowSeconds();
    const entry = await b.revoke("client", b.names.service, { expiresIn: 3600 });
    expect(entry).toMatchObject({
      kind: "client",
      value: b.names.service,
      reason: "test: client leaked",
      revokedBy: `${b.names.admin}@${b.s.tid}`,
    });
    expect(entry.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry.revokedAt).toBeGreaterThanOrEqual(before);
    expect(entry.expiresAt).toBe((entry.revokedAt as number) + 3600);
    expect(audit("admin").at(-1)).toMatchObject({
      outcome: "granted",
      action: "revoke",
      reason: "revoked",
      client_id: b.names.admin,
      revocation: entry.id,
      revocation_kind: "client",
      revoked_value: b.names.service,
    });
    // In KV itself, not only in this isolate's copy.
    const stored = (await kv.get("revocations", "json")) as { entries: Array<{ id: string }> };
    expect(stored.entries.map((e) => e.id)).toContain(entry.id);
  });

  it("refuses a body that is not a valid revocation with 400 naming the field", async () => {
    const b = broker();
    const cases: Array<[unknown, string]> = [
      [{ kind: "user", value: "x", reason: "r" }, "kind"],
      [{ kind: "client", value: "not-a-guid", reason: "r" }, "value"],
      [{ kind: "origin", value: "https://api.example.com/path", reason: "r" }, "value"],
      [{ kind: "client", value: guid(), reason: "" }, "reason"],
      [{ kind: "client", value: guid(), reason: "r", expiresIn: 5 }, "expiresIn"],
      [{ kind: "client", value: guid(), reason: "r", extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const response = await b.admin("POST", "/admin/revocations", { body });
      const error = await oauth(response);
      expect(error.status, JSON.stringify(body)).toBe(400);
      expect(error.error).toBe("invalid_request");
      expect(error.description.startsWith(field)).toBe(true);
    }
    const huge = await b.admin("POST", "/admin/revocations", {
      body: { kind: "client", value: guid(), reason: "x".repeat(10_000) },
    });
    expect(huge.status).toBe(413);
    const notJson = await b.fetch(
      new Request("https://broker.test/admin/revocations", {
        method: "POST",
        headers: { authorization: `Bearer ${await b.adminToken()}`, "content-type": "text/plain" },
        body: "kind=client",
      }),
    );
    expect(await oauth(notJson)).toMatchObject({ status: 400, description: "content-type must be application/json" });
  });
});

describe("revoking each kind through the admin API", () => {
  it("client: its next exchange is refused with invalid_request, audited as revoked with the entry's id", async () => {
    const b = broker();
    const token = await b.serviceToken();
    expect((await b.exchange(token)).status).toBe(200);
    const entry = await b.revoke("client", b.names.service);
    const refused = await oauth(await b.exchange(token));
    expect(refused).toMatchObject({ status: 400, error: "invalid_request" });
    expect(refused.description).toContain("client has been revoked");
    expect(audit("token_exchange").at(-1)).toMatchObject({
      outcome: "denied",
      reason: "revoked",
      revocation: entry.id,
      revocation_kind: "client",
      client_id: b.names.service,
    });
    // Another client of the same tenant is not affected.
    expect((await b.exchange(await b.serviceToken(guid()))).status).toBe(200);
  });

  it("tenant: every client of the tenant is refused with invalid_request", async () => {
    const b = broker();
    const entry = await b.revoke("tenant", b.s.tid);
    for (const client of [b.names.service, guid()]) {
      expect(await oauth(await b.exchange(await b.serviceToken(client)))).toMatchObject({
        status: 400,
        error: "invalid_request",
      });
    }
    expect(audit("token_exchange").at(-1)).toMatchObject({ reason: "revoked", revocation: entry.id });
  });

  it("origin: exchanges for it are refused with invalid_target; other origins still work", async () => {
    const b = broker();
    const entry = await b.revoke("origin", b.names.resource);
    expect(await oauth(await b.exchange(await b.serviceToken()))).toMatchObject({
      status: 400,
      error: "invalid_target",
    });
    expect(audit("token_exchange").at(-1)).toMatchObject({
      reason: "revoked",
      revocation: entry.id,
      revocation_kind: "origin",
    });
    expect((await b.exchange(await b.serviceToken(), ORIGIN)).status).toBe(200);
  });

  it("rule: grants from the rule are refused with invalid_target", async () => {
    const b = broker();
    const entry = await b.revoke("rule", b.names.rule);
    expect(await oauth(await b.exchange(await b.serviceToken()))).toMatchObject({
      status: 400,
      error: "invalid_target",
    });
    expect(audit("token_exchange").at(-1)).toMatchObject({
      reason: "revoked",
      revocation: entry.id,
      revocation_kind: "rule",
      rule: b.names.rule,
    });
  });

  it("token: forward mode stops reusing the minted token whose jti is revoked and mints another", async () => {
    const b = broker();
    const token = await b.serviceToken();
    const first = await b.forward(token);
    expect(first.status).toBe(200);
    const firstJti = audit("forward").at(-1)!.jti as string;
    expect((await b.forward(token)).status).toBe(200);
    expect(audit("forward").at(-1)).toMatchObject({ token_reused: true, jti: firstJti });

    await b.revoke("token", firstJti);
    const after = await b.forward(token);
    expect(after.status).toBe(200);
    const sent = (await after.json()) as { headers: { authorization: string } };
    const jti = decodeJwt(sent.headers.authorization.slice("Bearer ".length)).jti;
    expect(jti).not.toBe(firstJti);
    expect(audit("forward").at(-1)).toMatchObject({ token_reused: false, jti });
  });

  it("token: POST /token stops handing out the reused token whose jti is revoked and mints another", async () => {
    const b = broker();
    const subject = await b.serviceToken();
    const first = (await (await b.exchange(subject)).json()) as { access_token: string };
    const again = (await (await b.exchange(subject)).json()) as { access_token: string };
    expect(again.access_token).toBe(first.access_token); // reused while it has life left
    const jti = decodeJwt(first.access_token).jti as string;
    await b.revoke("token", jti);
    const after = (await (await b.exchange(subject)).json()) as { access_token: string };
    expect(decodeJwt(after.access_token).jti).not.toBe(jti);
    expect(audit("token_exchange").at(-1)).toMatchObject({ outcome: "granted", token_reused: false });
  });

  it("GET /admin/revocations lists it and DELETE lifts it: the client is served again", async () => {
    const b = broker();
    const token = await b.serviceToken();
    const entry = await b.revoke("client", b.names.service);
    const listed = (await (await b.admin("GET", "/admin/revocations")).json()) as {
      revocations: Array<{ id: string }>;
    };
    expect(listed.revocations.map((e) => e.id)).toContain(entry.id);
    expect((await b.exchange(token)).status).toBe(400);

    const lifted = await b.admin("DELETE", `/admin/revocations/${entry.id}`);
    expect(lifted.status).toBe(200);
    expect(await lifted.json()).toMatchObject({ id: entry.id });
    expect(audit("admin").at(-1)).toMatchObject({ action: "unrevoke", reason: "unrevoked", revocation: entry.id });
    expect((await b.exchange(token)).status).toBe(200);
    const again = (await (await b.admin("GET", "/admin/revocations")).json()) as { revocations: Array<{ id: string }> };
    expect(again.revocations.map((e) => e.id)).not.toContain(entry.id);
    expect((await b.admin("DELETE", `/admin/revocations/${entry.id}`)).status).toBe(404);
  });
});

describe("immediate effect in the same isolate, cache hits included", () => {
  it("refuses a client whose verification is cached in /token", async () => {
    const b = broker();
    const token = await b.serviceToken();
    expect((await b.exchange(token)).status).toBe(200);
    expect((await b.exchange(token)).status).toBe(200); // the verification cache answers this one
    await b.revoke("client", b.names.service);
    expect((await b.exchange(token)).status).toBe(400);
  });

  it("refuses a forward-mode client whose verification and minted token are cached", async () => {
    const b = broker();
    const token = await b.serviceToken();
    expect((await b.forward(token)).status).toBe(200);
    expect((await b.forward(token)).status).toBe(200);
    expect(audit("forward").at(-1)).toMatchObject({ token_reused: true });
    const entry = await b.revoke("client", b.names.service);
    const refused = await b.forward(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(audit("forward").at(-1)).toMatchObject({ outcome: "denied", reason: "revoked", revocation: entry.id });
  });

  it("refuses forward mode with 403 for a revoked rule", async () => {
    const b = broker();
    const token = await b.serviceToken();
    expect((await b.forward(token)).status).toBe(200);
    await b.revoke("rule", b.names.rule);
    expect((await b.forward(token)).status).toBe(403);
  });
});

describe("temporary blocks", () => {
  it("stop applying when expiresIn has passed (time as an argument)", async () => {
    const store = createRevocationStore(kv);
    const now = nowSeconds();
    const client = guid();
    const added = await store.add(
      { kind: "client", value: client, reason: "looping agent", expiresIn: 60 },
      "test",
      now,
    );
    expect(added.ok).toBe(true);
    const snapshot = await store.snapshot(now);
    expect(snapshot.ok && snapshot.value.find("client", client, now + 59)).toBeTruthy();
    expect(snapshot.ok && snapshot.value.find("client", client, now + 60)).toBeUndefined();
    // A write after expiry prunes it from the document.
    await store.add({ kind: "client", value: guid(), reason: "other", expiresIn: 60 }, "test", now + 61);
    const stored = (await kv.get("revocations", "json")) as { entries: Array<{ value: string }> };
    expect(stored.entries.map((e) => e.value)).not.toContain(client);
  });
});

describe("GET /revocations (for origins)", () => {
  it("publishes client, tenant, rule and token entries without reasons, with caching headers", async () => {
    const b = broker();
    const client = await b.revoke("client", b.names.service);
    const origin = await b.revoke("origin", b.names.resource);
    const jti = guid();
    await b.revoke("token", jti);
    const response = await b.fetch(new Request("https://broker.test/revocations"));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    const body = (await response.json()) as {
      revocations: Array<Record<string, unknown>>;
      maxTokenLifetimeSeconds: number;
    };
    expect(body.maxTokenLifetimeSeconds).toBe(300);
    const mine = body.revocations.filter((e) => e.value === b.names.service || e.value === jti || e.id === origin.id);
    expect(mine).toEqual([
      { id: client.id, kind: "client", value: b.names.service, revokedAt: client.revokedAt },
      { id: expect.any(String), kind: "token", value: jti, revokedAt: expect.any(Number) },
    ]);
  });

  it("leaves out entries older than the longest token lifetime: every token minted before them has expired", async () => {
    const b = broker();
    const store = createRevocationStore(kv);
    const old = guid();
    await store.add({ kind: "client", value: old, reason: "long ago" }, "test", nowSeconds() - 3600);
    const body = (await (await b.fetch(new Request("https://broker.test/revocations"))).json()) as {
      revocations: Array<{ value: string }>;
    };
    expect(body.revocations.map((e) => e.value)).not.toContain(old);
  });

  it("reaches another isolate's list at its next refresh, REFRESH_SECONDS later at most", async () => {
    const here = createRevocationStore(kv);
    const elsewhere = createRevocationStore(kv);
    const now = nowSeconds();
    const client = guid();
    await elsewhere.snapshot(now);
    await here.add({ kind: "client", value: client, reason: "leak" }, "test", now);
    const cached = await elsewhere.snapshot(now + REFRESH_SECONDS - 1);
    expect(cached.ok && cached.value.find("client", client, now)).toBeUndefined();
    const refreshed = await elsewhere.snapshot(now + REFRESH_SECONDS);
    expect(refreshed.ok && refreshed.value.find("client", client, now)).toBeTruthy();
  });
});

describe("a broker without the REVOCATIONS binding", () => {
  it("serves exchanges, publishes an empty list and answers the admin API with 501", async () => {
    const b = broker({ REVOCATIONS: undefined });
    expect((await b.exchange(await b.serviceToken())).status).toBe(200);
    const list = await b.fetch(new Request("https://broker.test/revocations"));
    expect(await list.json()).toMatchObject({ revocations: [] });
    const admin = await b.admin("POST", "/admin/revocations", { body: { kind: "client", value: guid(), reason: "r" } });
    expect(await oauth(admin)).toMatchObject({ status: 501, error: "revocations_not_configured" });
  });
});

describe("admin API refusals", () => {
  it("401 with a bare challenge (no error code, RFC 6750 §3.1) without a bearer token", async () => {
    const b = broker();
    const response = await b.admin("GET", "/admin/revocations", { token: null });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="https://broker.test"');
    expect(audit("admin").at(-1)).toMatchObject({ outcome: "denied", reason: "token_missing" });
  });

  it("403 insufficient_scope for a client without an admin role", async () => {
    const b = broker();
    const response = await b.admin("POST", "/admin/revocations", {
      token: await b.serviceToken(),
      body: { kind: "client", value: b.names.admin, reason: "takeover" },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(audit("admin").at(-1)).toMatchObject({ reason: "admin_role_missing", client_id: b.names.service });
  });

  it("honours ADMIN_ROLES", async () => {
    const b = broker({ ADMIN_ROLES: "Ops.Revoke" });
    expect((await b.admin("GET", "/admin/revocations")).status).toBe(403);
    const ops = await b.s.token({ claims: { azp: b.names.admin, roles: ["Ops.Revoke"] } });
    expect((await b.admin("GET", "/admin/revocations", { token: ops })).status).toBe(200);
  });

  it("403 for a secret-authenticated admin even where the broker admits secret clients", async () => {
    const b = broker({ REQUIRE_CERTIFICATE_CLIENTS: "false" });
    const response = await b.admin("GET", "/admin/revocations", { token: await b.adminToken({ azpacr: "1" }) });
    expect(response.status).toBe(403);
    expect(audit("admin").at(-1)).toMatchObject({ reason: "client_not_certificate_authenticated" });
  });

  it("403 for a secret-authenticated admin where the broker requires certificates", async () => {
    const b = broker();
    const response = await b.admin("GET", "/admin/revocations", { token: await b.adminToken({ azpacr: "1" }) });
    expect(response.status).toBe(403);
    expect(audit("admin").at(-1)).toMatchObject({ reason: "client_not_certificate_authenticated" });
  });

  it("401 for a delegated (user) token, even with the admin role", async () => {
    const b = broker();
    const token = await b.adminToken({ scp: "user_impersonation", idtyp: "user" });
    const response = await b.admin("DELETE", `/admin/revocations/${guid()}`, { token });
    expect(response.status).toBe(401);
    expect(audit("admin").at(-1)).toMatchObject({ outcome: "denied", reason: "not_app_only" });
  });
});

/** A KV binding whose reads fail (or hang): what an outage looks like from the Worker. */
function brokenKv(mode: "error" | "hang"): KVNamespace {
  const fail = () => (mode === "error" ? Promise.reject(new Error("KV unavailable")) : new Promise<never>(() => {}));
  return { get: fail, put: fail, list: fail, delete: fail, getWithMetadata: fail } as unknown as KVNamespace;
}

describe("KV errors: never a 500", () => {
  it("fails /token closed with 503 temporarily_unavailable and Retry-After when no list can be read", async () => {
    const b = broker();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = { ...b.env, REVOCATIONS: brokenKv("error") };
    const response = await b.exchange(await b.serviceToken(), b.names.resource, env);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await oauth(response)).error).toBe("temporarily_unavailable");
    expect(audit("token_exchange").at(-1)).toMatchObject({ outcome: "error", reason: "revocations_unavailable" });
    expect((await b.forward(await b.serviceToken(), env)).status).toBe(503);
    expect((await b.fetch(new Request("https://broker.test/revocations"), env)).status).toBe(503);
    const write = await b.admin("POST", "/admin/revocations", {
      env,
      body: { kind: "client", value: guid(), reason: "r" },
    });
    expect(write.status).toBe(503);
  });

  it(`answers 503 within ${KV_TIMEOUT_MS} ms (plus slack) when KV hangs`, async () => {
    const b = broker();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const started = Date.now();
    const response = await b.exchange(await b.serviceToken(), b.names.resource, {
      ...b.env,
      REVOCATIONS: brokenKv("hang"),
    });
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(KV_TIMEOUT_MS + 1000);
  });

  it(`keeps using the last list read for up to ${MAX_STALE_SECONDS} s of failures, then fails closed`, async () => {
    let down = false;
    const flaky = {
      get: (key: string, type: "text") => (down ? Promise.reject(new Error("KV unavailable")) : kv.get(key, type)),
      put: (key: string, value: string) => kv.put(key, value),
    } as unknown as KVNamespace;
    vi.spyOn(console, "error").mockImplementation(() => {});
    const store = createRevocationStore(flaky);
    const now = nowSeconds();
    const client = guid();
    expect((await store.add({ kind: "client", value: client, reason: "leak" }, "test", now)).ok).toBe(true);
    down = true;
    const readsBefore = store.reads();
    const stale = await store.snapshot(now + 30);
    expect(stale.ok && stale.value.find("client", client, now + 30)).toBeTruthy();
    expect(store.reads()).toBe(readsBefore + 1); // it did try KV
    expect((await store.snapshot(now + MAX_STALE_SECONDS)).ok).toBe(true);
    const closed = await store.snapshot(now + MAX_STALE_SECONDS + 1);
    expect(closed.ok).toBe(false);
    down = false;
    expect((await store.snapshot(now + MAX_STALE_SECONDS + 2)).ok).toBe(true);
  });

  it("reads KV at most once per refresh interval, however many requests", async () => {
    const store = createRevocationStore(kv);
    const now = nowSeconds();
    await Promise.all(Array.from({ length: 20 }, () => store.snapshot(now)));
    for (let i = 0; i < 20; i++) await store.snapshot(now + 1);
    expect(store.reads()).toBe(1);
  });
});

describe("revocations and delegated exchanges (actor_token)", () => {
  /** A broker whose policy lets a fresh agent carry the service's token from its endpoint on to the inventory. */
  function delegating() {
    const agentApp = guid();
    const agentOrigin = `https://agent-${guid().slice(0, 8)}.example.com`;
    const service = guid();
    const resource = `https://inventory-${guid().slice(0, 8)}.example.com`;
    const policy = {
      rules: [
        {
          name: `service-calls-agent-${agentApp.slice(0, 8)}`,
          match: { clients: [service], roles: ["Inventory.Read"] },
          grant: { origins: [agentOrigin], scopes: ["inventory.read"], maxTtlSeconds: 300 },
        },
      ],
      owners: { [agentOrigin]: [agentApp] },
      delegations: [
        {
          name: `agent-reads-${agentApp.slice(0, 8)}`,
          match: { subjects: [service], actors: { clients: [agentApp] }, via: agentOrigin },
          grant: { origins: [resource], scopes: ["inventory.read"], maxTtlSeconds: 60 },
        },
      ],
    };
    const b = broker({ POLICY: JSON.stringify(policy) });
    return {
      b,
      agentApp,
      async t1(): Promise<string> {
        const response = await b.exchange(await b.serviceToken(service), agentOrigin);
        expect(response.status).toBe(200);
        return ((await response.json()) as { access_token: string }).access_token;
      },
      async delegate(t1: string): Promise<Response> {
        const body = new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: t1,
          subject_token_type: ACCESS_TOKEN_TYPE,
          actor_token: await b.s.token({ claims: { azp: agentApp, roles: ["Agent.Act"] } }),
          actor_token_type: ACCESS_TOKEN_TYPE,
          resource,
        });
        return b.fetch(
          new Request("https://broker.test/token", {
            method: "POST",
            body,
            headers: { "content-type": "application/x-www-form-urlencoded" },
          }),
        );
      },
    };
  }

  it("refuses the exchange once the actor's client is revoked", async () => {
    const d = delegating();
    const t1 = await d.t1();
    expect((await d.delegate(t1)).status).toBe(200);
    const entry = await d.b.revoke("client", d.agentApp);
    expect(await oauth(await d.delegate(t1))).toMatchObject({ status: 400, error: "invalid_request" });
    expect(audit("token_exchange").at(-1)).toMatchObject({
      outcome: "denied",
      reason: "revoked",
      revocation: entry.id,
      client_id: d.agentApp,
    });
  });

  it("refuses the exchange once the subject token (T1) is revoked by its jti", async () => {
    const d = delegating();
    const t1 = await d.t1();
    expect((await d.delegate(t1)).status).toBe(200);
    const entry = await d.b.revoke("token", decodeJwt(t1).jti as string);
    expect((await oauth(await d.delegate(t1))).status).toBe(400);
    expect(audit("token_exchange").at(-1)).toMatchObject({
      outcome: "denied",
      reason: "revoked",
      revocation: entry.id,
      revocation_kind: "token",
    });
  });
});

describe("explain names the revocation that decides", () => {
  async function explainSelf(b: ReturnType<typeof broker>, token: string, resource = b.names.resource) {
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource,
    });
    const response = await b.fetch(
      new Request("https://broker.test/explain", {
        method: "POST",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }
  async function whatIf(b: ReturnType<typeof broker>, client: string, resource = b.names.resource) {
    const response = await b.admin("POST", "/admin/explain", {
      body: { client, roles: ["Inventory.Read"], resource },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  for (const kind of ["client", "tenant", "origin", "rule"] as const) {
    it(`POST /explain and POST /admin/explain deny a revoked ${kind} as revoked, with the revocation's id`, async () => {
      const b = broker();
      const token = await b.serviceToken();
      expect(await explainSelf(b, token)).toMatchObject({ decision: "granted", rule: b.names.rule });
      expect(await whatIf(b, b.names.service)).toMatchObject({ decision: "granted", rule: b.names.rule });
      const value = { client: b.names.service, tenant: b.s.tid, origin: b.names.resource, rule: b.names.rule }[kind];
      const entry = await b.revoke(kind, value);
      const denied = { decision: "denied", reason: "revoked", revocation: entry.id, revocationKind: kind };
      const own = await explainSelf(b, token);
      expect(own).toMatchObject(denied);
      expect(own).not.toHaveProperty("rule");
      expect(await whatIf(b, b.names.service)).toMatchObject({ ...denied, tenant: b.s.tid });
      expect(audit("explain").at(-1)).toMatchObject({ outcome: "denied", reason: "revoked", revocation: entry.id });
      expect(audit("admin").at(-1)).toMatchObject({ action: "explain", reason: "revoked", revocation: entry.id });
      // /token agrees.
      expect((await b.exchange(token)).status).not.toBe(200);
    });
  }

  it("leaves other clients granted", async () => {
    const b = broker();
    await b.revoke("client", b.names.service);
    const other = guid();
    expect(await explainSelf(b, await b.serviceToken(other))).toMatchObject({ decision: "granted" });
    expect(await whatIf(b, other)).toMatchObject({ decision: "granted" });
  });

  it("answers 503 temporarily_unavailable when no revocation list can be read", async () => {
    const b = broker();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = { ...b.env, REVOCATIONS: brokenKv("error") };
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.serviceToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: b.names.resource,
    });
    const own = await b.fetch(
      new Request("https://broker.test/explain", {
        method: "POST",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
      env,
    );
    expect(own.status).toBe(503);
    expect(own.headers.get("retry-after")).toMatch(/^\d+$/);
    const admin = await b.admin("POST", "/admin/explain", {
      env,
      body: { client: b.names.service, roles: ["Inventory.Read"], resource: b.names.resource },
    });
    expect(admin.status).toBe(503);
  });
});
