import { afterEach, describe, expect, it, vi } from "vitest";
import { oauthError, scenario } from "./support/scenario.ts";
import { captureLog } from "./support/audit-log.ts";

// Entra's signing keys: cached, refetched once on an unknown kid (with a cooldown and a single
// flight), kept through an outage for a bounded time, and never taken from anywhere but the
// configured URL. Each test counts the fetches the stand-in key endpoint saw.

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
