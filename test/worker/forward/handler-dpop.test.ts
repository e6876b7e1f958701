import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { calculateJwkThumbprint } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { inject } from "vitest";
import worker from "../../../worker/index.ts";
import { ORDERS_APP, scenario, type Scenario } from "../support/scenario.ts";
import { dpopKey, proof } from "../support/agent-tokens.ts";
import type { Echo } from "../support/origin-echo.ts";

// Forward mode with DPoP (RFC 9449 §7): the caller's proof is for the broker's URL and carries the
// hash of the caller's Entra token; it is checked when present (or when the rule requires it) and
// never crosses the gateway: the origin gets the broker's bearer token.

const ORIGIN = inject("testOrigin");
const URL_ = "https://inventory.gw.test/api/items";
const ROUTES = {
  routes: [{ name: "inventory", match: { pathPrefix: "/api/" }, origin: ORIGIN, scopes: { "*": ["inventory.read"] } }],
};
const policy = (requireDpop: boolean) => ({
  rules: [
    {
      name: "orders-use-inventory",
      match: { clients: [ORDERS_APP] },
      grant: { origins: [ORIGIN], scopes: ["inventory.read"], maxTtlSeconds: 300 },
      requireDpop,
    },
  ],
});

let logs: string[];
beforeEach(() => {
  logs = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => vi.restoreAllMocks());
// Audit lines are CloudEvents: the decision is in `data`.
const lastForward = () =>
  logs
    .map((l) => JSON.parse(l) as { type?: string; data?: Record<string, unknown> })
    .filter((e) => e.type?.endsWith(".forward"))
    .at(-1)?.data;

function gateway(s: Scenario, requireDpop = false) {
  const env = s.env({ ROUTES: JSON.stringify(ROUTES), POLICY: JSON.stringify(policy(requireDpop)) });
  return async (token: string, headers: Record<string, string> = {}, method = "GET") => {
    const ctx = createExecutionContext();
    const request = new Request(URL_, { method, headers: { authorization: `Bearer ${token}`, ...headers } });
    const response = await worker.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

describe("forward mode with a DPoP proof", () => {
  it("accepts a proof for this URL with the Entra token's ath, logs the key, and does not forward the proof", async () => {
    const s = scenario();
    const send = gateway(s);
    const token = await s.token();
    const key = await dpopKey();
    const response = await send(token, { dpop: await proof(key, { htm: "GET", htu: URL_, accessToken: token }) });
    expect(response.status).toBe(200);
    const echo = (await response.json()) as Echo;
    expect(echo.headers.dpop).toBeUndefined();
    expect(echo.headers.authorization).toMatch(/^Bearer /);
    expect(lastForward()).toMatchObject({ outcome: "granted", dpop_jkt: await calculateJwkThumbprint(key.publicJwk) });
  });

  it("refuses a proof for another URL, method or token with 401 and a DPoP challenge", async () => {
    const s = scenario();
    const send = gateway(s);
    const token = await s.token();
    const key = await dpopKey();
    const cases: Array<[string, Promise<string>]> = [
      ["dpop_htu_mismatch", proof(key, { htm: "GET", htu: "https://broker.test/token", accessToken: token })],
      ["dpop_htm_mismatch", proof(key, { htm: "POST", htu: URL_, accessToken: token })],
      ["dpop_ath_mismatch", proof(key, { htm: "GET", htu: URL_, accessToken: "another-token" })],
      ["dpop_ath_mismatch", proof(key, { htm: "GET", htu: URL_ })],
    ];
    for (const [reason, dpop] of cases) {
      const response = await send(token, { dpop: await dpop });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(
        /^DPoP realm="https:\/\/broker.test", error="invalid_dpop_proof"/,
      );
      expect(response.headers.get("www-authenticate")).toContain('algs="ES256 EdDSA Ed25519"');
      expect(lastForward()).toMatchObject({ outcome: "denied", reason });
    }
  });

  it("refuses a replayed proof", async () => {
    const s = scenario();
    const send = gateway(s);
    const token = await s.token();
    const dpop = await proof(await dpopKey(), { htm: "GET", htu: URL_, accessToken: token });
    expect((await send(token, { dpop })).status).toBe(200);
    expect((await send(token, { dpop })).status).toBe(401);
    expect(lastForward()).toMatchObject({ reason: "dpop_replayed" });
  });

  it("requires a proof where the rule says requireDpop", async () => {
    const s = scenario();
    const send = gateway(s, true);
    const token = await s.token();
    const refused = await send(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^DPoP /);
    expect(lastForward()).toMatchObject({ reason: "dpop_required" });
    const dpop = await proof(await dpopKey(), { htm: "GET", htu: URL_, accessToken: token });
    expect((await send(token, { dpop })).status).toBe(200);
  });
});
