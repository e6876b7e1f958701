import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../../worker/config.ts";
import type { Caller } from "../../../worker/entra-token.ts";
import { createMintedTokens, REUSE_MARGIN_SECONDS } from "../../../worker/forward/minted-tokens.ts";
import { ORDERS_APP, scenario } from "../support/scenario.ts";

// worker/forward/minted-tokens.ts: reuse of minted tokens, time as an argument.

afterEach(() => vi.restoreAllMocks());

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
