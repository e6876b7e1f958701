import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { calculateThumbprint, generateKeyPair as dpopKeyPair, generateProof, type KeyPair } from "dpop";
import { Hono } from "hono";
import { base64url, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BrokerAuthVariables,
  brokerAuth,
  type NodeRequestLike,
  requireBrokerToken,
  verifyBrokerToken,
} from "../../origin/src/index.ts";
import { createVerifier } from "../../origin/src/verifier.ts";
import { kitOptions, refusal, testClock, type TestClock } from "./support/kit-options.ts";
import { AUDIENCE, CLIENT_ID, type StandInBroker, standInBroker } from "./support/stand-in-broker.ts";

// Agent tokens at the origin: the delegation chain (RFC 8693 `act`) as token.actors with per-route
// limits, and DPoP-bound tokens (RFC 9449 §7): proof required, for this request, by the bound key,
// once. Proofs come from panva's `dpop` library, as a client would make them.

const AGENT = "55555555-5555-4555-8555-555555555555";
const TOOL = "66666666-6666-4666-8666-666666666666";
const URL_ = `${AUDIENCE}/items`;

let broker: StandInBroker;
let clock: TestClock;
let key: KeyPair;
let jkt: string;
beforeEach(async () => {
  broker = await standInBroker();
  clock = testClock();
  key = await dpopKeyPair("ES256");
  jkt = await calculateThumbprint(key.publicKey);
});

const delegated = (actors: string[]) => {
  let act: Record<string, unknown> | undefined;
  for (const sub of [...actors].reverse()) act = act ? { sub, act } : { sub };
  return broker.token({ claims: { client_id: actors[0], act }, now: clock.seconds() });
};
const bound = (claims: Record<string, unknown> = {}) =>
  broker.token({ claims: { cnf: { jkt }, ...claims }, now: clock.seconds() });

describe("delegated tokens", () => {
  it("expose the chain newest first, and on whose behalf", async () => {
    const verified = await verifyBrokerToken(await delegated([TOOL, AGENT]), kitOptions(broker, clock));
    expect(verified).toMatchObject({ clientId: TOOL, subject: CLIENT_ID, actors: [TOOL, AGENT], jkt: undefined });
    const direct = await verifyBrokerToken(await broker.token({ now: clock.seconds() }), kitOptions(broker, clock));
    expect(direct.actors).toEqual([]);
  });

  it("are refused past the route's maxDelegationDepth (403 delegation_too_deep)", async () => {
    const options = kitOptions(broker, clock, { maxDelegationDepth: 1 });
    await expect(verifyBrokerToken(await delegated([AGENT]), options)).resolves.toBeDefined();
    expect(await refusal(verifyBrokerToken(await delegated([TOOL, AGENT]), options))).toMatchObject({
      code: "delegation_too_deep",
      status: 403,
    });
    const none = kitOptions(broker, clock, { maxDelegationDepth: 0 });
    expect(await refusal(verifyBrokerToken(await delegated([AGENT]), none))).toMatchObject({
      code: "delegation_too_deep",
    });
  });

  it("are refused with an actor outside allowedActors (403 actor_not_allowed)", async () => {
    const options = kitOptions(broker, clock, { allowedActors: [AGENT] });
    await expect(verifyBrokerToken(await delegated([AGENT]), options)).resolves.toBeDefined();
    expect(await refusal(verifyBrokerToken(await delegated([TOOL, AGENT]), options))).toMatchObject({
      code: "actor_not_allowed",
      status: 403,
    });
  });

  it("are refused when act is not nested {sub} objects", async () => {
    for (const act of [[{ sub: AGENT }], { act: { sub: AGENT } }, "agent"]) {
      const token = await broker.token({ claims: { act }, now: clock.seconds() });
      expect(await refusal(verifyBrokerToken(token, kitOptions(broker, clock)))).toMatchObject({
        code: "claim_invalid",
        claim: "act",
      });
    }
  });

  it("refuses options that make no sense, at start-up", () => {
    expect(() => createVerifier(kitOptions(broker, clock, { maxDelegationDepth: -1 }))).toThrow(/maxDelegationDepth/);
    expect(() => createVerifier(kitOptions(broker, clock, { allowedActors: "x" as never }))).toThrow(/allowedActors/);
  });
});

describe("DPoP-bound tokens", () => {
  const verifier = () => createVerifier(kitOptions(broker, clock));
  const present = async (token: string, proof: string | undefined, method = "GET", path = "/items") =>
    verifier().verifyAuthorization(`DPoP ${token}`, { method, path, dpop: proof });

  it("are accepted with Authorization: DPoP and a proof for this request by the bound key", async () => {
    const token = await bound();
    const result = await present(token, await generateProof(key, URL_, "GET", undefined, token));
    expect(result).toMatchObject({ ok: true, value: { jkt, clientId: CLIENT_ID } });
    // Through verifyBrokerToken too, and with a query string the proof leaves out (§4.2).
    const proof = await generateProof(key, URL_, "GET", undefined, token);
    await expect(
      verifyBrokerToken(token, kitOptions(broker, clock), { method: "GET", url: `${URL_}?page=2`, proof }),
    ).resolves.toMatchObject({ jkt });
  });

  it("are refused as Bearer (401, DPoP challenge)", async () => {
    const token = await bound();
    const result = await verifier().verifyAuthorization(`Bearer ${token}`, {
      method: "GET",
      path: "/items",
      dpop: null,
    });
    expect(result).toMatchObject({ ok: false, error: { reason: "dpop_bound_token_as_bearer" } });
    const error = await refusal(verifyBrokerToken(token, kitOptions(broker, clock)));
    expect(error).toMatchObject({ code: "dpop_bound_token_as_bearer", status: 401, error: "invalid_token" });
    expect(error.wwwAuthenticate).toMatch(/^DPoP error="invalid_token", .*algs="ES256 EdDSA Ed25519"/);
  });

  it("are refused without a proof, with a proof for another method or URL, or for another token", async () => {
    const token = await bound();
    const cases: Array<[string | undefined, string]> = [
      [undefined, "dpop_proof_missing"],
      [await generateProof(key, URL_, "POST", undefined, token), "dpop_proof_invalid"],
      [await generateProof(key, `${AUDIENCE}/other`, "GET", undefined, token), "dpop_proof_invalid"],
      [await generateProof(key, `https://elsewhere.example.com/items`, "GET", undefined, token), "dpop_proof_invalid"],
      [await generateProof(key, URL_, "GET", undefined, await bound()), "dpop_proof_invalid"],
      [await generateProof(key, URL_, "GET"), "dpop_proof_invalid"],
    ];
    for (const [proof, reason] of cases)
      expect(await present(token, proof)).toMatchObject({ ok: false, error: { reason } });
    const error = verifier().toError({ reason: "dpop_proof_invalid" });
    expect(error.status).toBe(401);
    expect(error.wwwAuthenticate).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });

  it("are refused with a proof by another key (dpop_key_mismatch)", async () => {
    const token = await bound();
    const other = await dpopKeyPair("Ed25519");
    expect(await present(token, await generateProof(other, URL_, "GET", undefined, token))).toMatchObject({
      ok: false,
      error: { reason: "dpop_key_mismatch" },
    });
  });

  it("are refused with a replayed proof (dpop_proof_replayed), across routes of this origin", async () => {
    const token = await bound();
    const proof = await generateProof(key, URL_, "GET", undefined, token);
    expect((await present(token, proof)).ok).toBe(true);
    expect(await present(token, proof)).toMatchObject({ ok: false, error: { reason: "dpop_proof_replayed" } });
  });

  it("are refused with a stale proof", async () => {
    const token = await bound();
    const ath = base64url.encode(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))),
    );
    const publicJwk = await crypto.subtle.exportKey("jwk", key.publicKey);
    const stale = await new SignJWT({
      jti: crypto.randomUUID(),
      htm: "GET",
      htu: URL_,
      iat: clock.seconds() - 600,
      ath,
    })
      .setProtectedHeader({
        alg: "ES256",
        typ: "dpop+jwt",
        jwk: { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y },
      })
      .sign(key.privateKey);
    expect(await present(token, stale)).toMatchObject({ ok: false, error: { reason: "dpop_proof_invalid" } });
  });

  it("the DPoP scheme with an unbound token is refused (dpop_token_not_bound)", async () => {
    const token = await broker.token({ now: clock.seconds() });
    expect(await present(token, await generateProof(key, URL_, "GET", undefined, token))).toMatchObject({
      ok: false,
      error: { reason: "dpop_token_not_bound" },
    });
  });
});

describe("the middlewares with DPoP", () => {
  it("Hono: accepts a bound token with its proof, refuses it as Bearer with a DPoP challenge", async () => {
    const app = new Hono<{ Variables: BrokerAuthVariables }>();
    app.use("/items", brokerAuth(kitOptions(broker, clock)));
    app.get("/items", (c) => c.json({ actors: c.get("brokerToken").actors, jkt: c.get("brokerToken").jkt }));
    const token = await bound();
    const ok = await app.request(URL_, {
      headers: { authorization: `DPoP ${token}`, dpop: await generateProof(key, URL_, "GET", undefined, token) },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ actors: [], jkt });
    const asBearer = await app.request(URL_, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_token"/);
    const noProof = await app.request(URL_, { headers: { authorization: `DPoP ${token}` } });
    expect(noProof.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });

  describe("node:http", () => {
    let server: Server;
    let base: string;
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it("accepts a bound token with its proof for the method and path it serves", async () => {
      const guard = requireBrokerToken(kitOptions(broker, clock, { maxDelegationDepth: 1 }));
      server = createServer((req, res) =>
        guard(req as typeof req & NodeRequestLike, res, () => {
          const token = (req as typeof req & NodeRequestLike).brokerToken!;
          res.end(JSON.stringify({ actors: token.actors }));
        }),
      );
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const token = await broker.token({ claims: { cnf: { jkt }, act: { sub: AGENT } }, now: clock.seconds() });
      // The proof names the origin's own URL (its audience), whatever host the request reached.
      const proof = await generateProof(key, `${AUDIENCE}/items/7`, "DELETE", undefined, token);
      const ok = await fetch(`${base}/items/7?x=1`, {
        method: "DELETE",
        headers: { authorization: `DPoP ${token}`, dpop: proof },
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ actors: [AGENT] });
      const wrongMethod = await fetch(`${base}/items/7`, {
        method: "GET",
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await generateProof(key, `${AUDIENCE}/items/7`, "DELETE", undefined, token),
        },
      });
      expect(wrongMethod.status).toBe(401);
      expect(wrongMethod.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
    });
  });
});
