import { beforeEach, describe, expect, it } from "vitest";
import { BrokerTokenError, verifyBrokerToken } from "../../origin/src/index.ts";
import { JWKS_FRESH_MS } from "../../origin/src/broker-keys.ts";
import { kitOptions, refusal, testClock, type TestClock } from "./support/kit-options.ts";
import { AUDIENCE, CLIENT_ID, OTHER_AUDIENCE, type StandInBroker, standInBroker } from "./support/stand-in-broker.ts";

let broker: StandInBroker;
let clock: TestClock;
beforeEach(async () => {
  broker = await standInBroker();
  clock = testClock();
});

describe("verifyBrokerToken accepts", () => {
  it("an ES256 broker token and returns what it says", async () => {
    const token = await broker.token({ now: clock.seconds() });
    const verified = await verifyBrokerToken(token, kitOptions(broker, clock));
    expect(verified).toMatchObject({
      clientId: CLIENT_ID,
      scopes: ["inventory.read", "inventory.list"],
      roles: ["Inventory.Read"],
      tenantId: "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c",
      expiresAt: clock.seconds() + 300,
    });
    expect(verified.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(verified.claims).toMatchObject({ aud: AUDIENCE, iss: broker.issuer, sub: CLIENT_ID });
    expect(Object.isFrozen(verified)).toBe(true);
  });

  it("an EdDSA broker token (the broker's other algorithm)", async () => {
    const kid = await broker.addKey("EdDSA");
    const token = await broker.token({ kid, now: clock.seconds() });
    expect((await verifyBrokerToken(token, kitOptions(broker, clock))).clientId).toBe(CLIENT_ID);
  });

  it("typ application/at+jwt, the long form RFC 9068 §4 allows", async () => {
    const token = await broker.token({ header: { typ: "application/at+jwt" }, now: clock.seconds() });
    await expect(verifyBrokerToken(token, kitOptions(broker, clock))).resolves.toMatchObject({ clientId: CLIENT_ID });
  });

  it("nbf and iat within the configured skew, but no skew on exp", async () => {
    const now = clock.seconds();
    const early = await broker.token({ claims: { nbf: now + 20, iat: now + 20 } });
    await expect(verifyBrokerToken(early, kitOptions(broker, clock, { clockSkewSeconds: 30 }))).resolves.toBeDefined();
    const tooEarly = await broker.token({ claims: { nbf: now + 40, iat: now } });
    expect(
      await refusal(verifyBrokerToken(tooEarly, kitOptions(broker, clock, { clockSkewSeconds: 30 }))),
    ).toMatchObject({
      code: "token_not_yet_valid",
    });
  });

  it("a token without required scopes when the route requires none", async () => {
    const token = await broker.token({ claims: { scope: "inventory.list" }, now: clock.seconds() });
    await expect(verifyBrokerToken(token, kitOptions(broker, clock, { scopes: [] }))).resolves.toBeDefined();
  });
});

describe("the verified-token cache", () => {
  it("serves a repeated token without its key: a hash, not a signature check", async () => {
    const token = await broker.token({ claims: { exp: clock.seconds() + 3600 } });
    await verifyBrokerToken(token, kitOptions(broker, clock));
    // The key is withdrawn and the key cache refreshed: only a cache hit can still accept the token.
    const kid = await broker.addKey();
    broker.published = [kid];
    clock.advance(JWKS_FRESH_MS);
    const fresh = await broker.token({ kid: broker.keys[0]!.kid, now: clock.seconds() });
    expect(await refusal(verifyBrokerToken(fresh, kitOptions(broker, clock)))).toMatchObject({ code: "key_not_found" });
    await expect(verifyBrokerToken(token, kitOptions(broker, clock))).resolves.toMatchObject({ clientId: CLIENT_ID });
  });

  it("re-checks exp on every hit", async () => {
    const token = await broker.token({ now: clock.seconds() });
    await verifyBrokerToken(token, kitOptions(broker, clock));
    clock.advance(300_000);
    expect(await refusal(verifyBrokerToken(token, kitOptions(broker, clock)))).toMatchObject({
      code: "token_expired",
      status: 401,
    });
  });

  it("re-checks the route's scopes on every hit", async () => {
    const token = await broker.token({ now: clock.seconds() });
    await verifyBrokerToken(token, kitOptions(broker, clock, { scopes: [] }));
    const error = await refusal(verifyBrokerToken(token, kitOptions(broker, clock, { scopes: ["inventory.write"] })));
    expect(error).toMatchObject({ code: "scope_insufficient", status: 403 });
    expect(error.wwwAuthenticate).toContain('scope="inventory.write"');
  });

  it("is per audience: a token verified here is not accepted by an origin it was not minted for", async () => {
    const token = await broker.token({ now: clock.seconds() });
    await verifyBrokerToken(token, kitOptions(broker, clock));
    expect(
      await refusal(verifyBrokerToken(token, kitOptions(broker, clock, { audience: OTHER_AUDIENCE }))),
    ).toMatchObject({
      code: "audience_mismatch",
    });
  });
});

describe("BrokerTokenError", () => {
  it("has no error code when no token was sent (RFC 6750 §3.1)", async () => {
    const error = await refusal(verifyBrokerToken("", kitOptions(broker, clock)));
    expect(error).toBeInstanceOf(BrokerTokenError);
    expect(error).toMatchObject({ code: "token_missing", status: 401, error: undefined });
    expect(error.wwwAuthenticate).toBe(
      'Bearer scope="inventory.read", resource_metadata="https://inventory.example.com/.well-known/oauth-protected-resource"',
    );
  });

  it("says what is wrong in the message for the operator, never on the wire", async () => {
    const token = await broker.token({ claims: { aud: OTHER_AUDIENCE }, now: clock.seconds() });
    const error = (await refusal(verifyBrokerToken(token, kitOptions(broker, clock)))) as unknown as BrokerTokenError;
    expect(error.message).toContain(OTHER_AUDIENCE);
    expect(error.detail).toBe(`aud "${OTHER_AUDIENCE}", this origin is ${AUDIENCE}`);
    expect(error.wwwAuthenticate).not.toContain(OTHER_AUDIENCE);
    expect(error.toJSON()).toEqual({ error: "invalid_token", error_description: "The token is for another audience" });
  });
});

describe("options", () => {
  const base = { issuer: "https://broker.example.com", audience: AUDIENCE };
  it.each([
    [{ ...base, issuer: "http://broker.example.com" }, /issuer must use https/],
    [{ ...base, issuer: "https://broker.example.com?x=1" }, /issuer must not carry a query/],
    [{ ...base, audience: "https://inventory.example.com/items" }, /audience must be a canonical origin/],
    [{ ...base, audience: "https://Inventory.example.com" }, /audience must be a canonical origin/],
    [{ ...base, scopes: ["inventory read"] }, /scopes holds "inventory read"/],
    [{ ...base, clockSkewSeconds: 3600 }, /clockSkewSeconds must be a whole number of seconds from 0 to 300/],
  ])("refuses %j at once, naming the setting", async (options, message) => {
    await expect(verifyBrokerToken("x.y.z", options)).rejects.toThrow(message);
    await expect(verifyBrokerToken("x.y.z", options)).rejects.toBeInstanceOf(TypeError);
  });

  it("allows http for a loopback broker and origin (local development)", async () => {
    const local = await standInBroker("http://127.0.0.1:8787");
    const token = await local.token({ claims: { aud: "http://127.0.0.1:9000" }, now: clock.seconds() });
    const verified = await verifyBrokerToken(token, {
      ...kitOptions(local, clock),
      audience: "http://127.0.0.1:9000",
    });
    expect(verified.clientId).toBe(CLIENT_ID);
  });
});
