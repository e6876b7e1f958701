import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { verifyBrokerToken } from "../../origin/src/index.ts";
import {
  FAILURE_BACKOFF_MS,
  JWKS_FRESH_MS,
  SHARED_FETCH_WAIT_MS,
  STALE_IF_ERROR_MS,
  UNKNOWN_KID_COOLDOWN_MS,
} from "../../origin/src/broker-keys.ts";
import { kitOptions, refusal, testClock, type TestClock } from "./support/kit-options.ts";
import { CLIENT_ID, type StandInBroker, standInBroker, unsignedToken } from "./support/stand-in-broker.ts";

// The key cache's policy, the same as the broker's own Entra key cache: discovery from the issuer,
// refresh on an unknown kid at most once per cooldown, single flight, stale-if-error, caps.

let broker: StandInBroker;
let clock: TestClock;
beforeEach(async () => {
  broker = await standInBroker();
  clock = testClock();
});

const verify = (token: string) => verifyBrokerToken(token, kitOptions(broker, clock));
const fresh = () => broker.token({ now: clock.seconds() });

describe("discovery (RFC 8414)", () => {
  it("finds the JWKS from the issuer alone and fetches each document once for concurrent first requests", async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, fresh));
    const verified = await Promise.all(tokens.map(verify));
    expect(verified.every((t) => t.clientId === CLIENT_ID)).toBe(true);
    expect([broker.metadataFetches(), broker.jwksFetches()]).toEqual([1, 1]);
  });

  it("refuses metadata that names another issuer, with a 503 that says so to the operator", async () => {
    broker.metadata = { issuer: "https://evil.example.com" };
    const error = await refusal(verify(await fresh()));
    expect(error).toMatchObject({ code: "broker_metadata_invalid", status: 503, retryAfter: 10 });
    expect(error.message).toContain("https://evil.example.com");
  });

  it("refuses a jwks_uri over plain http to a non-loopback host", async () => {
    broker.metadata = { jwks_uri: "http://keys.example.com/jwks.json" };
    expect(await refusal(verify(await fresh()))).toMatchObject({ code: "broker_metadata_invalid" });
  });

  it("accepts only the algorithms the broker's metadata lists", async () => {
    broker.metadata = { access_token_signing_alg_values_supported: ["ES256"] };
    const kid = await broker.addKey("EdDSA");
    await verify(await fresh());
    expect(await refusal(verify(await broker.token({ kid, now: clock.seconds() })))).toMatchObject({
      code: "key_not_found", // the EdDSA key is not even kept from the JWKS
    });
  });

  it.each([
    ["is down", "down"],
    ["redirects", "redirect"],
    ["answers a 200 KiB document", "huge"],
  ] as const)("answers 503 keys_unavailable when the broker %s and no key is cached", async (_, mode) => {
    broker.mode = mode;
    expect(await refusal(verify(await fresh()))).toMatchObject({
      code: "keys_unavailable",
      status: 503,
      retryAfter: 10,
    });
  });

  it("answers 503 when the broker does not answer within the fetch timeout", async () => {
    broker.mode = "slow";
    expect(await refusal(verify(await fresh()))).toMatchObject({ code: "keys_unavailable" });
  }, 15_000);
});

describe("refresh policy", () => {
  it("follows a JWKS rotated between requests once the cooldown allows a refetch", async () => {
    const before = await fresh();
    await verify(before);
    const oldKid = broker.keys[0]!.kid;
    const newKid = await broker.addKey();
    broker.published = [newKid];
    // Within the cooldown the new kid is not fetched for: one fetch per cooldown, whatever the kid.
    expect(await refusal(verify(await broker.token({ kid: newKid, now: clock.seconds() })))).toMatchObject({
      code: "key_not_found",
    });
    clock.advance(UNKNOWN_KID_COOLDOWN_MS);
    await expect(verify(await broker.token({ kid: newKid, now: clock.seconds() }))).resolves.toBeDefined();
    // The withdrawn key no longer verifies new tokens.
    expect(await refusal(verify(await broker.token({ kid: oldKid, now: clock.seconds() })))).toMatchObject({
      code: "key_not_found",
    });
    expect(broker.jwksFetches()).toBe(2);
  });

  it("re-reads the key set when it is no longer fresh", async () => {
    await verify(await fresh());
    clock.advance(JWKS_FRESH_MS);
    await verify(await fresh());
    expect(broker.jwksFetches()).toBe(2);
  });

  it("keeps using a cached key while the broker is down (stale-if-error), without hammering it", async () => {
    await verify(await fresh());
    broker.mode = "down";
    clock.advance(JWKS_FRESH_MS);
    await expect(verify(await fresh())).resolves.toMatchObject({ clientId: CLIENT_ID });
    const attempts = broker.jwksFetches() + broker.metadataFetches();
    await Promise.all(Array.from({ length: 50 }, async () => verify(await fresh())));
    expect(broker.jwksFetches() + broker.metadataFetches()).toBe(attempts); // backing off
    clock.advance(FAILURE_BACKOFF_MS);
    await verify(await fresh());
    expect(broker.jwksFetches() + broker.metadataFetches()).toBe(attempts + 1);
  });

  it("stops trusting cached keys after the stale-if-error cap", async () => {
    await verify(await fresh());
    broker.mode = "down";
    clock.advance(STALE_IF_ERROR_MS);
    expect(await refusal(verify(await fresh()))).toMatchObject({ code: "keys_unavailable", status: 503 });
  });

  it("fetches at most once per cooldown for a flood of 10,000 unknown kids", async () => {
    await verify(await fresh());
    const payload = { iss: broker.issuer, exp: clock.seconds() + 300 };
    const flood = () =>
      Promise.all(
        Array.from({ length: 10_000 }, (_, i) =>
          refusal(verify(unsignedToken({ alg: "ES256", typ: "at+jwt", kid: `kid-${clock()}-${i}` }, payload))),
        ),
      );
    const firstWave = await flood();
    expect(firstWave.every((e) => e.code === "key_not_found")).toBe(true);
    expect(broker.jwksFetches()).toBe(1); // the first verification's fetch is still within the cooldown
    clock.advance(UNKNOWN_KID_COOLDOWN_MS);
    await flood();
    expect(broker.jwksFetches()).toBe(2);
    clock.advance(UNKNOWN_KID_COOLDOWN_MS / 2);
    await flood();
    expect(broker.jwksFetches()).toBe(2);
  }, 30_000);
});

describe("single flight", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("does not wait without bound for a fetch another request started (it may never settle on Workers)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    broker.mode = "hang";
    const first = verify(await fresh());
    void first.catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    broker.mode = "up";
    const second = verify(await fresh());
    await vi.advanceTimersByTimeAsync(SHARED_FETCH_WAIT_MS);
    await expect(second).resolves.toMatchObject({ clientId: CLIENT_ID });
  });
});
