import { beforeEach, describe, expect, it } from "vitest";
import { verifyBrokerToken } from "../../origin/src/index.ts";
import { kitOptions, refusal, testClock, type TestClock } from "./support/kit-options.ts";
import { CLIENT_ID, type StandInBroker, standInBroker } from "./support/stand-in-broker.ts";

// The kit polls the broker's GET /revocations (every 30 s by default) and refuses a token that a
// revocation matches and that was issued before it: an already-minted token stops working at the
// origin within one poll. Time is the test's clock; the stand-in broker serves the list.

let broker: StandInBroker;
let clock: TestClock;
beforeEach(async () => {
  broker = await standInBroker();
  clock = testClock();
});

const revoked = (kind: string, value: string, revokedAt: number, extra: Record<string, unknown> = {}) => ({
  id: crypto.randomUUID(),
  kind,
  value,
  revokedAt,
  ...extra,
});

describe("revocation polling", () => {
  it("refuses an already-minted token after the next poll once its client is revoked", async () => {
    const options = kitOptions(broker, clock);
    const token = await broker.token({ now: clock.seconds() });
    await expect(verifyBrokerToken(token, options)).resolves.toMatchObject({ clientId: CLIENT_ID });
    expect(broker.revocationFetches()).toBe(1);

    clock.advance(5_000);
    broker.revocations.push(revoked("client", CLIENT_ID, clock.seconds()));
    // Within the poll interval the list in memory is used: no read, still accepted.
    await expect(verifyBrokerToken(token, options)).resolves.toBeDefined();
    expect(broker.revocationFetches()).toBe(1);

    clock.advance(30_000);
    const refused = await refusal(verifyBrokerToken(token, options));
    expect(refused).toMatchObject({ code: "token_revoked", status: 401, error: "invalid_token" });
    expect(String(refused.wwwAuthenticate)).toContain('error="invalid_token"');
    expect(broker.revocationFetches()).toBe(2);
  });

  it("matches tenant and token (jti) revocations, and ignores rule and unknown kinds", async () => {
    const options = kitOptions(broker, clock);
    const byTenant = await broker.token({ now: clock.seconds() - 10 });
    const byJti = await broker.token({ now: clock.seconds() - 10, claims: { tid: undefined } });
    const untouched = await broker.token({ now: clock.seconds() - 10, claims: { tid: undefined } });
    const jti = JSON.parse(atob(byJti.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))).jti as string;
    broker.revocations.push(
      revoked("tenant", "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c", clock.seconds()),
      revoked("token", jti, clock.seconds()),
      revoked("rule", "orders-reads-inventory", clock.seconds()),
      revoked("something-new", CLIENT_ID, clock.seconds()),
    );
    expect((await refusal(verifyBrokerToken(byTenant, options))).code).toBe("token_revoked");
    expect((await refusal(verifyBrokerToken(byJti, options))).code).toBe("token_revoked");
    await expect(verifyBrokerToken(untouched, options)).resolves.toBeDefined();
  });

  it("accepts tokens issued after the revocation, and tokens once a temporary block has expired", async () => {
    const options = kitOptions(broker, clock);
    broker.revocations.push(revoked("client", CLIENT_ID, clock.seconds() - 100, { expiresAt: clock.seconds() + 60 }));
    const before = await broker.token({ now: clock.seconds() - 200 });
    const after = await broker.token({ now: clock.seconds() - 50 });
    expect((await refusal(verifyBrokerToken(before, options))).code).toBe("token_revoked");
    await expect(verifyBrokerToken(after, options)).resolves.toBeDefined();
    clock.advance(61_000);
    await expect(verifyBrokerToken(before, options)).resolves.toBeDefined();
  });

  it("keeps the last list when the broker's list cannot be read, and checks none before the first read", async () => {
    const options = kitOptions(broker, clock);
    broker.revocationsMode = "down";
    const token = await broker.token({ now: clock.seconds() - 10 });
    // Fail open before any list: the broker itself refuses revoked clients new tokens.
    await expect(verifyBrokerToken(token, options)).resolves.toBeDefined();

    broker.revocationsMode = "up";
    broker.revocations.push(revoked("client", CLIENT_ID, clock.seconds()));
    clock.advance(31_000);
    expect((await refusal(verifyBrokerToken(token, options))).code).toBe("token_revoked");
    broker.revocationsMode = "down";
    broker.revocations.length = 0;
    clock.advance(31_000);
    expect((await refusal(verifyBrokerToken(token, options))).code).toBe("token_revoked");
  });

  it("can be turned off with revocationPollSeconds: 0, and refuses a poll interval below 5 s", async () => {
    broker.revocations.push(revoked("client", CLIENT_ID, clock.seconds()));
    const token = await broker.token({ now: clock.seconds() - 10 });
    await expect(
      verifyBrokerToken(token, kitOptions(broker, clock, { revocationPollSeconds: 0 })),
    ).resolves.toBeDefined();
    expect(broker.revocationFetches()).toBe(0);
    await expect(verifyBrokerToken(token, kitOptions(broker, clock, { revocationPollSeconds: 1 }))).rejects.toThrow(
      /revocationPollSeconds/,
    );
  });
});
