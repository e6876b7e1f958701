import { calculateThumbprint, generateKeyPair as dpopKeyPair, generateProof } from "dpop";
import * as oauth from "oauth4webapi";
import { calculateJwkThumbprint, decodeJwt } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { INVENTORY, nowSeconds, oauthError, POLICY, scenario, type Scenario } from "../support/scenario.ts";
import {
  actorToken,
  AGENT_APP,
  brokerTokenFor,
  DELEGATION_POLICY,
  delegateWith,
  dpopKey,
  proof,
  TOKEN_ENDPOINT,
} from "../support/agent-tokens.ts";
import { DEPLOY } from "../support/scenario.ts";
import { captureLog } from "../support/audit-log.ts";

// DPoP at POST /token (RFC 9449 §5): a valid proof binds the issued token to the proof's key
// (cnf.jkt, token_type DPoP); a bad proof is 400 invalid_dpop_proof whatever else the request holds.

const log = captureLog();
let s: Scenario;

beforeEach(() => {
  s = scenario();
  s.configure({ POLICY: JSON.stringify(DELEGATION_POLICY) });
});

async function refusal(response: Response) {
  return { ...(await oauthError(response)), reason: log.lastReason() };
}

describe("POST /token with a DPoP proof", () => {
  it("accepts a proof made by panva's dpop library and binds the token to its key", async () => {
    for (const alg of ["ES256", "Ed25519"] as const) {
      const keyPair = await dpopKeyPair(alg);
      const response = await s.exchange({}, {}, { dpop: await generateProof(keyPair, TOKEN_ENDPOINT, "POST") });
      const body = (await response.json()) as { access_token: string; token_type: string };
      expect(response.status).toBe(200);
      expect(body.token_type).toBe("DPoP");
      expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: await calculateThumbprint(keyPair.publicKey) });
      expect(log.lastExchange()).toMatchObject({ dpop_jkt: await calculateThumbprint(keyPair.publicKey) });
    }
  });

  it("binds for a standard OAuth client with DPoP (oauth4webapi) and tells it the token type", async () => {
    const worker = (input: RequestInfo | URL, init?: RequestInit) => s.fetch(new Request(input, init));
    const issuer = new URL("https://broker.test");
    const as = await oauth
      .discoveryRequest(issuer, { algorithm: "oauth2", [oauth.customFetch]: worker })
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    expect(as.dpop_signing_alg_values_supported).toEqual(["ES256", "EdDSA", "Ed25519"]);
    const client: oauth.Client = { client_id: "orders" };
    const keyPair = await oauth.generateKeyPair("ES256");
    const DPoP = oauth.DPoP(client, keyPair);
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      "urn:ietf:params:oauth:grant-type:token-exchange",
      new URLSearchParams({
        subject_token: await s.token(),
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: INVENTORY,
      }),
      { [oauth.customFetch]: worker, DPoP },
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.token_type).toBe("dpop");
    const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
    expect(decodeJwt(result.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk as never) });
  });

  it("stays a Bearer token, unbound, without a proof", async () => {
    const body = (await (await s.exchange()).json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("Bearer");
    expect(decodeJwt(body.access_token).cnf).toBeUndefined();
  });

  it("refuses a replayed proof (dpop_replayed)", async () => {
    const key = await dpopKey();
    const once = await proof(key);
    expect((await s.exchange({}, {}, { dpop: once })).status).toBe(200);
    expect(await refusal(await s.exchange({}, {}, { dpop: once }))).toMatchObject({
      status: 400,
      error: "invalid_dpop_proof",
      error_description: "the DPoP proof was already used: make a fresh proof for each request",
      reason: "dpop_replayed",
    });
  });

  it("refuses a proof addressed to another URL or method (dpop_htu_mismatch, dpop_htm_mismatch)", async () => {
    const key = await dpopKey();
    for (const htu of ["https://other.test/token", "https://broker.test/tokens", "http://broker.test/token"]) {
      expect(await refusal(await s.exchange({}, {}, { dpop: await proof(key, { htu }) }))).toMatchObject({
        error: "invalid_dpop_proof",
        reason: "dpop_htu_mismatch",
      });
    }
    expect(await refusal(await s.exchange({}, {}, { dpop: await proof(key, { htm: "GET" }) }))).toMatchObject({
      reason: "dpop_htm_mismatch",
    });
    // §4.3: query and fragment are ignored; default port and host case are normalised.
    const same = await proof(key, { htu: "https://BROKER.test:443/token?x=1#f" });
    expect((await s.exchange({}, {}, { dpop: same })).status).toBe(200);
  });

  it("refuses a proof signed by another key than the one it embeds (dpop_signature_invalid)", async () => {
    const key = await dpopKey();
    const dpop = await proof(key, { signWith: await dpopKey() });
    expect(await refusal(await s.exchange({}, {}, { dpop }))).toMatchObject({ reason: "dpop_signature_invalid" });
  });

  it("refuses a stale or future-dated proof (dpop_iat_out_of_window)", async () => {
    const key = await dpopKey();
    for (const iat of [nowSeconds() - 300, nowSeconds() + 300]) {
      expect(await refusal(await s.exchange({}, {}, { dpop: await proof(key, { iat }) }))).toMatchObject({
        reason: "dpop_iat_out_of_window",
      });
    }
  });

  it("refuses a proof with a private key, the wrong typ, a missing jti, or an HMAC alg", async () => {
    const key = await dpopKey();
    const privateJwk = await crypto.subtle.exportKey("jwk", key.privateKey);
    const cases: Array<[string, string]> = [
      ["private jwk", await proof(key, { header: { jwk: privateJwk } })],
      ["typ JWT", await proof(key, { header: { typ: "JWT" } })],
      ["no jti", await proof(key, { claims: { jti: undefined } })],
      ["not a JWT", "not-a-jwt"],
    ];
    for (const [, dpop] of cases)
      expect(await refusal(await s.exchange({}, {}, { dpop }))).toMatchObject({
        error: "invalid_dpop_proof",
        reason: "dpop_proof_malformed",
      });
    const hs = `${btoa(JSON.stringify({ alg: "HS256", typ: "dpop+jwt", jwk: key.publicJwk })).replaceAll("=", "")}.e30.AAAA`;
    expect(await refusal(await s.exchange({}, {}, { dpop: hs }))).toMatchObject({ reason: "dpop_alg_unsupported" });
  });

  it("refuses two DPoP headers (dpop_proof_multiple)", async () => {
    const key = await dpopKey();
    const response = await s.exchange({}, {}, [
      ["dpop", await proof(key)],
      ["dpop", await proof(key)],
    ]);
    expect(await refusal(response)).toMatchObject({ error: "invalid_dpop_proof", reason: "dpop_proof_multiple" });
  });

  it("refuses a bad proof even where the rule does not need one", async () => {
    const key = await dpopKey();
    const response = await s.exchange({}, {}, { dpop: await proof(key, { htm: "PUT" }) });
    expect(response.status).toBe(400);
  });
});

describe("requireDpop", () => {
  const requiring = {
    ...POLICY,
    rules: POLICY.rules.map((rule) => (rule.name === "orders-reads-inventory" ? { ...rule, requireDpop: true } : rule)),
  };

  it("refuses a rule's grant without a proof (dpop_required) and grants it with one", async () => {
    s.configure({ POLICY: JSON.stringify(requiring) });
    expect(await refusal(await s.exchange())).toMatchObject({
      status: 400,
      error: "invalid_dpop_proof",
      error_description: "this grant requires a DPoP proof (RFC 9449)",
      reason: "dpop_required",
    });
    const response = await s.exchange({}, {}, { dpop: await proof(await dpopKey("EdDSA")) });
    expect(((await response.json()) as { token_type: string }).token_type).toBe("DPoP");
  });

  it("is refused at load when it is not a boolean", async () => {
    const bad = { rules: [{ ...POLICY.rules[0], requireDpop: "yes" }] };
    const response = await s.exchange({}, { POLICY: JSON.stringify(bad) });
    expect(response.status).toBe(500);
    expect(log.configProblems()).toContain('POLICY rule "orders-reads-inventory": requireDpop: must be true or false');
  });
});

describe("delegation and binding", () => {
  it("accepts a bound T1 from the actor without T1's key, but binds T2 to the actor's own key", async () => {
    const ordersKey = await dpopKey();
    const t1 = await brokerTokenFor(s, {}, { dpop: await proof(ordersKey) });
    expect(decodeJwt(t1).cnf).toBeDefined();
    const agentKey = await dpopKey();
    const response = await delegateWith(s, t1, {}, { dpop: await proof(agentKey) });
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("DPoP");
    const t2 = decodeJwt(body.access_token);
    expect(t2.cnf).toEqual({ jkt: await calculateJwkThumbprint(agentKey.publicJwk) });
    expect(t2.cnf).not.toEqual(decodeJwt(t1).cnf);
    expect(t2.act).toEqual({ sub: AGENT_APP });
  });

  it("refuses to carry a bound T1 on as an unbound token (dpop_required)", async () => {
    const t1 = await brokerTokenFor(s, {}, { dpop: await proof(await dpopKey()) });
    expect(await refusal(await delegateWith(s, t1))).toMatchObject({
      error: "invalid_dpop_proof",
      error_description: "the subject_token is DPoP-bound, so the issued token must be bound too: send a DPoP proof",
      reason: "dpop_required",
    });
  });

  it("binds an unbound T1's successor when the actor sends a proof, and requires it where the rule says", async () => {
    const t1 = await brokerTokenFor(s);
    const agentKey = await dpopKey();
    const bound = await delegateWith(s, t1, { resource: DEPLOY }, { dpop: await proof(agentKey) });
    expect(bound.status).toBe(200);
    expect(decodeJwt(((await bound.json()) as { access_token: string }).access_token).cnf).toEqual({
      jkt: await calculateJwkThumbprint(agentKey.publicJwk),
    });
    expect(await refusal(await delegateWith(s, t1, { resource: DEPLOY }))).toMatchObject({ reason: "dpop_required" });
  });

  it("checks the actor's proof like any other (a replayed one is refused)", async () => {
    const t1 = await brokerTokenFor(s);
    const used = await proof(await dpopKey());
    expect((await delegateWith(s, t1, {}, { dpop: used })).status).toBe(200);
    const again = await delegateWith(s, t1, { actor_token: await actorToken(s) }, { dpop: used });
    expect(await refusal(again)).toMatchObject({ reason: "dpop_replayed" });
  });
});
