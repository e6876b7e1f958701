import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as baseEnv } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { Env } from "../../worker/config.ts";
import worker from "../../worker/index.ts";
import { captureLog } from "./support/audit-log.ts";

// The broker's Entra key service against the emulator's faults and rollovers, switched through the
// emulator's control API: a key set kept through a JWKS outage once stale, a planned rollover that
// needs no refetch (the next key was published before it signed), and an emergency rollover during
// an outage that succeeds once the key set is reachable again. One emulator tenant per test.

const emu = JSON.parse(inject("faultEmulator")) as {
  tenants: [string, string, string];
  apiV2: { appId: string; uri: string };
  secretClient: string;
  secret: string;
  httpsOrigin: string;
  httpOrigin: string;
  v1IssuerHost: string;
};
const INVENTORY = "https://inventory.example.com";
const log = captureLog();

afterEach(async () => {
  vi.useRealTimers();
  await control("DELETE", "/faults");
});

/** The emulator's control API, over its loopback HTTP listener. */
async function control(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${emu.httpOrigin}/_emulator${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  if (!response.ok) throw new Error(`control API ${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function brokerEnv(tenantId: string): Env {
  return {
    ...(baseEnv as unknown as Env),
    ENTRA_AUTHORITY_HOST: emu.httpsOrigin,
    ENTRA_V1_ISSUER_HOST: emu.v1IssuerHost,
    ENTRA_JWKS_ORIGIN: emu.httpOrigin,
    ENTRA_TENANT_IDS: tenantId,
    ENTRA_AUDIENCES: emu.apiV2.appId,
    // Secret clients keep these tests about keys (certificate clients are covered elsewhere).
    REQUIRE_CERTIFICATE_CLIENTS: "false",
    POLICY: JSON.stringify({
      rules: [
        {
          name: "inventory-readers",
          match: { roles: ["Inventory.Read"] },
          grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 300 },
        },
      ],
    }),
  };
}

async function entraToken(tenantId: string): Promise<string> {
  const response = await fetch(`${emu.httpOrigin}/${tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: emu.secretClient,
      client_secret: emu.secret,
      scope: `${emu.apiV2.uri}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`emulator refused: ${body.error_description}`);
  return body.access_token;
}

async function exchange(tenantId: string, subjectToken: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request("https://broker.test/token", {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: subjectToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: INVENTORY,
      }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
    brokerEnv(tenantId),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

function freezeClock(): (seconds: number) => void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
  return (seconds) => vi.setSystemTime(Date.now() + seconds * 1000);
}

const outage = (tenant: string) => control("POST", "/faults", { kind: "unavailable", endpoint: "keys", tenant });

describe("the broker's Entra keys against emulator faults", () => {
  it("keeps verifying with its key set through a JWKS outage after the set went stale", async () => {
    const tenant = emu.tenants[0];
    const advance = freezeClock();
    expect((await exchange(tenant, await entraToken(tenant))).status).toBe(200);
    const { fault } = await outage(tenant);
    advance(61 * 60); // past the key set's freshness: the broker tries to refetch, and fails
    expect((await exchange(tenant, await entraToken(tenant))).status).toBe(200);
    const [seen] = (await control("GET", "/faults")).faults;
    expect(seen.id).toBe(fault.id);
    expect(seen.hits).toBeGreaterThanOrEqual(1);
  });

  it("verifies after a planned rollover without fetching: the new signing key was already published", async () => {
    const tenant = emu.tenants[1];
    expect((await exchange(tenant, await entraToken(tenant))).status).toBe(200);
    await outage(tenant); // any fetch from here on would fail
    const rotation = await control("POST", "/keys/rotate", { tenant, mode: "planned" });
    const token = await entraToken(tenant);
    expect(JSON.parse(atob(token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))).kid).toBe(rotation.active);
    expect((await exchange(tenant, token)).status).toBe(200);
    expect((await control("GET", "/faults")).faults[0].hits).toBe(0);
  });

  it("after an emergency rollover during an outage, refuses the unknown kid, then accepts it once keys are reachable", async () => {
    const tenant = emu.tenants[2];
    const advance = freezeClock();
    expect((await exchange(tenant, await entraToken(tenant))).status).toBe(200);
    await outage(tenant);
    await control("POST", "/keys/rotate", { tenant, mode: "emergency" });
    const token = await entraToken(tenant);
    advance(61); // past the unknown-kid cooldown
    expect((await exchange(tenant, token)).status).not.toBe(200);
    expect(log.lastExchange()?.outcome).toBe("denied");
    await control("DELETE", "/faults");
    advance(61); // past the failure backoff and the cooldown
    expect((await exchange(tenant, token)).status).toBe(200);
  });
});
