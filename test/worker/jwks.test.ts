import { afterEach, describe, expect, it, vi } from "vitest";
import { createJwksCache, FETCH_TIMEOUT_MS } from "../../worker/jwks.ts";
import { hostileKeysScenario, privateJwk, publicJwk } from "../adversarial/support/adversary.ts";
import { captureLog } from "./support/audit-log.ts";
import { oauthError, scenario } from "./support/scenario.ts";

// worker/jwks.ts, Entra's signing keys: cached, refetched once on an unknown kid (with a cooldown
// and one fetch at a time), kept through an outage for a bounded time, revoked when a fresh set
// drops them, and never taken from anywhere but the configured URL. Each test counts the fetches.

const log = captureLog();
afterEach(() => vi.useRealTimers());

function freezeClock(): (seconds: number) => void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
  return (seconds) => vi.setSystemTime(Date.now() + seconds * 1000);
}

describe("Entra signing keys", () => {
  it("fetches the key set once and reuses it across requests", async () => {
    const s = scenario();
    for (let i = 0; i < 5; i++) expect((await s.exchange()).status).toBe(200);
    expect(await s.keyFetches()).toBe(1);
  });

  it("shares one fetch among concurrent first requests", async () => {
    const s = scenario();
    const token = await s.token();
    const responses = await Promise.all(Array.from({ length: 20 }, () => s.exchange({ subject_token: token })));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(await s.keyFetches()).toBe(1);
  });

  it("answers a flood of unknown kids with at most one fetch per cooldown", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    const forged = await Promise.all(Array.from({ length: 50 }, (_, i) => s.token({ header: { kid: `bogus-${i}` } })));
    const first = await Promise.all(forged.map((t) => s.exchange({ subject_token: t })));
    expect(first.every((r) => r.status === 400)).toBe(true);
    expect(await s.keyFetches()).toBe(1); // the initial fetch happened less than a cooldown ago
    advance(61);
    const second = await Promise.all(forged.map((t) => s.exchange({ subject_token: t })));
    expect(second.every((r) => r.status === 400)).toBe(true);
    expect(await s.keyFetches()).toBe(2); // one refetch for fifty unknown kids
    expect(log.lastReason()).toBe("key_not_found");
  });

  it("picks up a rotated key on first sight once the cooldown has passed", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    await s.setKeys({ published: ["key-a", "key-b"] });
    const rotated = await s.token({ kid: "key-b" });
    expect((await s.exchange({ subject_token: rotated })).status).toBe(400); // within the cooldown
    advance(61);
    expect((await s.exchange({ subject_token: rotated })).status).toBe(200);
    expect((await s.exchange()).status).toBe(200); // the old key keeps working during the overlap
    expect(await s.keyFetches()).toBe(2);
  });

  it("stops accepting a retired key after the next refresh", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    await s.setKeys({ published: ["key-b"] });
    advance(3601);
    const body = await oauthError(await s.exchange());
    expect(body.error).toBe("invalid_request");
    expect(log.lastReason()).toBe("key_not_found");
  });

  it("answers 503 temporarily_unavailable with Retry-After when no keys can be had", async () => {
    const s = scenario();
    await s.setKeys({ mode: "down" });
    const response = await s.exchange();
    expect(await oauthError(response)).toMatchObject({ status: 503, error: "temporarily_unavailable" });
    expect(response.headers.get("retry-after")).toBe("30");
    expect(log.lastReason()).toBe("jwks_unavailable");
  });

  it("does not hammer an endpoint that is down", async () => {
    const s = scenario();
    await s.setKeys({ mode: "down" });
    for (let i = 0; i < 5; i++) expect((await s.exchange()).status).toBe(503);
    expect(await s.keyFetches()).toBe(1);
  });

  it("keeps serving with the cached keys through an outage, for a bounded time", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    await s.setKeys({ mode: "down" });
    advance(3601); // keys are stale: a refresh is attempted and fails
    expect((await s.exchange()).status).toBe(200);
    expect(await s.keyFetches()).toBe(2);
    advance(24 * 3600); // past stale-if-error
    expect((await s.exchange()).status).toBe(503);
  });

  for (const mode of ["garbage", "not_json_object", "huge", "redirect"]) {
    it(`treats a ${mode} key endpoint as unavailable and follows nothing`, async () => {
      const s = scenario();
      await s.setKeys({ mode });
      expect((await s.exchange()).status).toBe(503);
      expect(await s.keyFetches()).toBe(1);
    });
  }

  it("gives up on a slow key endpoint within the fetch timeout", async () => {
    const s = scenario();
    await s.setKeys({ mode: "slow" });
    const started = Date.now();
    expect((await s.exchange()).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(7_000);
  }, 10_000);

  it("skips unusable keys in a published set and uses the good ones", async () => {
    const s = scenario();
    await s.setKeys({ published: ["ec-key", "weak-1024", "key-a"] });
    expect((await s.exchange()).status).toBe(200);
  });

  it("never fetches keys for a tenant outside the allow-list", async () => {
    const s = scenario();
    const other = scenario();
    const token = await other.token(); // signed for another tenant id
    expect((await s.exchange({ subject_token: token })).status).toBe(400);
    expect(await other.keyFetches()).toBe(0);
    expect(await s.keyFetches()).toBe(0);
  });
});

describe("Entra signing keys: outages and revocation", () => {
  it("answers an unknown kid with 503 and Retry-After while the key endpoint is down (a rotation it cannot see yet)", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    await s.setKeys({ mode: "down", published: ["key-a", "key-b"] });
    advance(61);
    const response = await s.exchange({ subject_token: await s.token({ kid: "key-b" }) });
    expect(await oauthError(response)).toMatchObject({ status: 503, error: "temporarily_unavailable" });
    expect(response.headers.get("retry-after")).toBe("30");
    expect(log.lastReason()).toBe("jwks_unavailable");
    expect((await s.exchange()).status).toBe(200); // the known key keeps working through the outage
  });

  it("fetches again on the first unknown kid after the failure backoff: the cooldown counts successful fetches only", async () => {
    const advance = freezeClock();
    const s = scenario();
    expect((await s.exchange()).status).toBe(200);
    await s.setKeys({ mode: "down", published: ["key-a", "key-b"] });
    advance(61);
    const rotated = await s.token({ kid: "key-b" });
    expect((await s.exchange({ subject_token: rotated })).status).toBe(503);
    await s.setKeys({ mode: "ok" });
    advance(5);
    expect((await s.exchange({ subject_token: rotated })).status).toBe(503); // within the 10 s backoff
    expect(await s.keyFetches()).toBe(2);
    advance(6);
    expect((await s.exchange({ subject_token: rotated })).status).toBe(200); // not 60 s after the failure
    expect(await s.keyFetches()).toBe(3);
  });

  it("stops accepting a key at once when a fresh key set no longer publishes it, cached verifications included", async () => {
    const advance = freezeClock();
    const s = scenario();
    const deployed = s.deployment(); // one config: the verification cache persists between requests
    await s.setKeys({ published: ["key-a", "key-b"] });
    const signedByB = await s.token({ kid: "key-b" });
    expect((await s.exchange({ subject_token: signedByB }, deployed)).status).toBe(200);
    const verify = vi.spyOn(crypto.subtle, "verify");
    expect((await s.exchange({ subject_token: signedByB }, deployed)).status).toBe(200);
    expect(verify).not.toHaveBeenCalled(); // a verification cache hit
    await s.setKeys({ published: ["key-a"] }); // Entra revokes key-b
    advance(61);
    const unseen = await s.token({ header: { kid: "unseen" } });
    expect((await s.exchange({ subject_token: unseen }, deployed)).status).toBe(400); // refetch: key-b is gone
    expect(await s.keyFetches()).toBe(2);
    expect((await s.exchange({ subject_token: signedByB }, deployed)).status).toBe(400);
    expect(log.lastReason()).toBe("key_not_found");
    expect((await s.exchange({}, deployed)).status).toBe(200);
  });

  it("refuses a published key that carries private members, and says so loudly once", async () => {
    const advance = freezeClock();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const leaked = { ...privateJwk("key-a"), kid: "key-a", use: "sig" };
    const { s, keyHits } = await hostileKeysScenario({ body: JSON.stringify({ keys: [leaked, publicJwk("key-b")] }) });
    expect((await s.exchange()).status).toBe(400);
    expect(log.lastReason()).toBe("key_not_found");
    advance(3601); // a refresh sees the same leaked key again
    expect((await s.exchange()).status).toBe(400);
    expect(await keyHits()).toBe(2);
    expect((await s.exchange({ subject_token: await s.token({ kid: "key-b" }) })).status).toBe(200);
    const alarms = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(alarms).toEqual([
      expect.objectContaining({ event: "jwks_key_refused", reason: "jwks_private_key_published", kid: "key-a" }),
    ]);
    expect(JSON.stringify(alarms)).not.toContain(String(leaked.d));
  });

  it("refuses every kind of private or symmetric member", async () => {
    for (const member of ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]) {
      const { s } = await hostileKeysScenario({
        body: JSON.stringify({ keys: [{ ...publicJwk(), [member]: "AQAB" }] }),
      });
      vi.spyOn(console, "error").mockImplementation(() => {});
      expect((await s.exchange()).status, member).toBe(400);
      expect(log.lastReason()).toBe("key_not_found");
    }
  });
});

describe("Entra signing keys: one fetch at a time, never awaited across requests", () => {
  const KEYS_URL = "https://login.test/tid/discovery/v2.0/keys";
  const keySet = () => new Response(JSON.stringify({ keys: [publicJwk()] }));

  it("does not let a fetch whose request never finishes (its client went away) fail, stall or back off the others", async () => {
    let calls = 0;
    // The first fetch never settles: to the other requests, that is what a cancelled request looks like
    // on Workers (its I/O and continuations are dropped).
    const jwks = createJwksCache(() => (++calls === 1 ? new Promise<Response>(() => {}) : Promise.resolve(keySet())));
    const now = Date.now();
    void jwks.getKey(KEYS_URL, "key-a", now);
    const started = Date.now();
    const others = await Promise.all([jwks.getKey(KEYS_URL, "key-a", now), jwks.getKey(KEYS_URL, "key-a", now)]);
    expect(others.map((r) => r.ok)).toEqual([true, true]);
    expect(Date.now() - started).toBeLessThan(FETCH_TIMEOUT_MS + 3_000); // bounded by the fetch lease
    expect(jwks.fetchCount(KEYS_URL)).toBe(2); // one takes over, not one per waiter
    expect((await jwks.getKey(KEYS_URL, "key-a", now + 1)).ok).toBe(true); // no backoff started
    expect(jwks.fetchCount(KEYS_URL)).toBe(2);
  }, 15_000);

  it("hands the fetching request's result to the waiting ones as soon as it lands", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const kept: Array<Promise<unknown>> = [];
    const jwks = createJwksCache(async () => {
      await gate;
      return keySet();
    });
    const now = Date.now();
    const first = jwks.getKey(KEYS_URL, "key-a", now, (work) => kept.push(work));
    const waiters = [jwks.getKey(KEYS_URL, "key-a", now), jwks.getKey(KEYS_URL, "key-a", now)];
    expect(kept).toHaveLength(1); // the fetch is handed to ctx.waitUntil: it outlives its request's client
    const started = Date.now();
    release();
    expect((await Promise.all([first, ...waiters])).map((r) => r.ok)).toEqual([true, true, true]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(jwks.fetchCount(KEYS_URL)).toBe(1);
  });
});
