import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../worker/config.ts";
import { createJwksCache } from "../../worker/jwks.ts";
import { createVerifiedCallers } from "../../worker/verified-callers.ts";
import { nowSeconds, scenario } from "./support/scenario.ts";

// worker/verified-callers.ts: the bounded verification cache, time as an argument (revocation of
// cached verifications by a fresh key set is in jwks.test.ts).

afterEach(() => vi.restoreAllMocks());

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
