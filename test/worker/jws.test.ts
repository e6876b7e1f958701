import { compactVerify, importJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { craft, publicJwk } from "../adversarial/support/adversary.ts";
import { captureLog } from "./support/audit-log.ts";
import { b64url, BROKER_CLIENT_ID, scenario } from "./support/scenario.ts";

// worker/jws.ts, the pre-crypto gate, and the Entra claim rules of worker/entra-token.ts: the code
// kept beside jose. Each case is a token whose signature is valid, that jose alone accepts, and
// that the broker refuses: that difference is why the gate and the rules are our own code.

const log = captureLog();

async function joseAccepts(token: string): Promise<void> {
  const key = await importJWK(publicJwk(), "RS256");
  await expect(compactVerify(token, key, { algorithms: ["RS256"] })).resolves.toBeDefined();
}

describe("what jose accepts and the broker refuses", () => {
  it("a second spelling of the signature (non-zero trailing bits): one token, one cache key", async () => {
    const s = scenario();
    const [h, p, sig] = (await s.token()).split(".") as [string, string, string];
    // 256 bytes encode to 342 characters: the last one carries 4 unused bits.
    const respelled = `${h}.${p}.${sig.slice(0, -1)}${String.fromCharCode(sig.charCodeAt(sig.length - 1) + 1)}`;
    await joseAccepts(respelled);
    expect((await s.exchange({ subject_token: respelled })).status).toBe(400);
    expect(log.lastReason()).toBe("token_malformed");
  });

  it("whitespace inside the signature segment", async () => {
    const s = scenario();
    const [h, p, sig] = (await s.token()).split(".") as [string, string, string];
    const spaced = `${h}.${p}.${sig.slice(0, 100)}\n${sig.slice(100)}`;
    await joseAccepts(spaced);
    expect((await s.exchange({ subject_token: spaced })).status).toBe(400);
    expect(log.lastReason()).toBe("token_malformed");
  });

  for (const header of ["jku", "jwk", "x5u", "x5c"]) {
    it(`a ${header} header (jose ignores it; the broker refuses any token that names a key or a key URL)`, async () => {
      const s = scenario();
      const token = await craft({
        header: {
          alg: "RS256",
          typ: "JWT",
          kid: "key-a",
          [header]: header === "x5c" ? ["MIIB"] : "https://evil.test/k",
        },
        payload: s.claims(),
      });
      await joseAccepts(token);
      expect((await s.exchange({ subject_token: token })).status).toBe(400);
      expect(log.lastReason()).toBe("header_param_forbidden");
    });
  }

  it("duplicate claim names (jose takes the last; parsers disagree on which)", async () => {
    const s = scenario();
    const claims = JSON.stringify(s.claims());
    const token = await craft({ payload: `${claims.slice(0, -1)},"tid":"${crypto.randomUUID()}"}` });
    await joseAccepts(token);
    expect((await s.exchange({ subject_token: token })).status).toBe(400);
    expect(log.lastReason()).toBe("claims_malformed");
  });

  it("a byte-order mark before the claims (a second byte spelling of one claims set)", async () => {
    const s = scenario();
    const token = await craft({ payload: `\uFEFF${JSON.stringify(s.claims())}` });
    await joseAccepts(token);
    expect((await s.exchange({ subject_token: token })).status).toBe(400);
    expect(log.lastReason()).toBe("claims_malformed");
  });

  it("an aud array that contains ours (jwtVerify's audience check accepts it; a token for several APIs is replayable)", async () => {
    const s = scenario();
    const token = await s.token({ claims: { aud: [BROKER_CLIENT_ID, "api://another-api"] } });
    const key = await importJWK(publicJwk(), "RS256");
    await expect(jwtVerify(token, key, { algorithms: ["RS256"], audience: BROKER_CLIENT_ID })).resolves.toBeDefined();
    expect((await s.exchange({ subject_token: token })).status).toBe(400);
    expect(log.lastReason()).toBe("audience_mismatch");
  });

  it("a token past the maximum age by less than the skew: the broker's age bound is exact, jwtVerify's maxTokenAge adds the skew", async () => {
    const s = scenario();
    const now = Math.floor(Date.now() / 1000);
    const maxAge = 3600;
    const token = await s.token({ claims: { iat: now - maxAge - 30, nbf: now - maxAge - 30, exp: now + 600 } });
    const key = await importJWK(publicJwk(), "RS256");
    const options = { algorithms: ["RS256"], maxTokenAge: maxAge, clockTolerance: 60 };
    await expect(jwtVerify(token, key, options)).resolves.toBeDefined();
    const response = await s.exchange({ subject_token: token }, { MAX_SUBJECT_TOKEN_AGE_SECONDS: String(maxAge) });
    expect(response.status).toBe(400);
    expect(log.lastReason()).toBe("token_too_old");
  });
});

describe("the gate keeps garbage cheap: refused before any key fetch", () => {
  const garbage: Array<[string, string]> = [
    ["two segments", "a.b"],
    ["four segments", "a.b.c.d"],
    ["padding", `${b64url('{"alg":"RS256","kid":"key-a"}')}==.e30.AAAA`],
    ["a header that is not JSON", `${b64url("not json")}.e30.AAAA`],
    ["a 16 KiB + 1 token", "a".repeat(16 * 1024 + 1)],
  ];
  for (const [name, token] of garbage) {
    it(`${name}`, async () => {
      const s = scenario();
      expect((await s.exchange({ subject_token: token })).status).toBe(400);
      expect(await s.keyFetches()).toBe(0);
    });
  }
});
