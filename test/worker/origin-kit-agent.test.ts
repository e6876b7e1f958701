import { calculateThumbprint, generateKeyPair as dpopKeyPair, generateProof } from "dpop";
import { describe, expect, it } from "vitest";
import { verifyBrokerToken } from "../../origin/src/index.ts";
import {
  actorToken,
  AGENT_APP,
  brokerTokenFor,
  DELEGATION_POLICY,
  delegateWith,
  TOKEN_ENDPOINT,
} from "./support/agent-tokens.ts";
import { INVENTORY, ORDERS_APP, scenario, type Scenario } from "./support/scenario.ts";

// The origin kit inside workerd with delegated and DPoP-bound tokens minted by the real broker:
// the chain as token.actors, the route's depth limit, and the sender constraint end to end.

const ISSUER = "https://broker.test";
const brokerFetch = (s: Scenario) => (input: string, init: RequestInit) => s.fetch(new Request(input, init));

function delegationScenario() {
  const s = scenario();
  s.configure({ POLICY: JSON.stringify(DELEGATION_POLICY) });
  return s;
}

describe("the origin kit with agent tokens from the broker (workerd)", () => {
  it("exposes a delegated token's chain and enforces the route's maxDelegationDepth", async () => {
    const s = delegationScenario();
    const response = await delegateWith(s, await brokerTokenFor(s), { scope: "inventory.read" });
    const { access_token } = (await response.json()) as { access_token: string };
    const options = { issuer: ISSUER, audience: INVENTORY, scopes: ["inventory.read"], fetch: brokerFetch(s) };
    const verified = await verifyBrokerToken(access_token, options);
    expect(verified).toMatchObject({ clientId: AGENT_APP, subject: ORDERS_APP, actors: [AGENT_APP] });
    await expect(verifyBrokerToken(access_token, { ...options, maxDelegationDepth: 0 })).rejects.toMatchObject({
      code: "delegation_too_deep",
      status: 403,
    });
  });

  it("accepts a bound token only with a proof by its key, for this request", async () => {
    const s = delegationScenario();
    const key = await dpopKeyPair("ES256");
    const response = await s.exchange(
      { resource: INVENTORY },
      {},
      { dpop: await generateProof(key, TOKEN_ENDPOINT, "POST") },
    );
    const { access_token, token_type } = (await response.json()) as { access_token: string; token_type: string };
    expect(token_type).toBe("DPoP");
    const options = { issuer: ISSUER, audience: INVENTORY, fetch: brokerFetch(s) };
    const url = `${INVENTORY}/items`;
    const proof = await generateProof(key, url, "GET", undefined, access_token);
    await expect(verifyBrokerToken(access_token, options, { method: "GET", url, proof })).resolves.toMatchObject({
      jkt: await calculateThumbprint(key.publicKey),
    });
    await expect(verifyBrokerToken(access_token, options)).rejects.toMatchObject({
      code: "dpop_bound_token_as_bearer",
    });
    const other = await dpopKeyPair("ES256");
    const stolen = await generateProof(other, url, "GET", undefined, access_token);
    await expect(verifyBrokerToken(access_token, options, { method: "GET", url, proof: stolen })).rejects.toMatchObject(
      {
        code: "dpop_key_mismatch",
      },
    );
  });

  it("carries a bound T1 on: T2 is bound to the actor's key and the kit demands the actor's proof", async () => {
    const s = delegationScenario();
    const ordersKey = await dpopKeyPair("ES256");
    const t1 = await brokerTokenFor(s, {}, { dpop: await generateProof(ordersKey, TOKEN_ENDPOINT, "POST") });
    const agentKey = await dpopKeyPair("Ed25519");
    const response = await delegateWith(
      s,
      t1,
      { actor_token: await actorToken(s) },
      { dpop: await generateProof(agentKey, TOKEN_ENDPOINT, "POST") },
    );
    const { access_token } = (await response.json()) as { access_token: string };
    const options = { issuer: ISSUER, audience: INVENTORY, fetch: brokerFetch(s) };
    const url = `${INVENTORY}/items`;
    const byOrders = await generateProof(ordersKey, url, "GET", undefined, access_token);
    await expect(
      verifyBrokerToken(access_token, options, { method: "GET", url, proof: byOrders }),
    ).rejects.toMatchObject({
      code: "dpop_key_mismatch",
    });
    const byAgent = await generateProof(agentKey, url, "GET", undefined, access_token);
    await expect(
      verifyBrokerToken(access_token, options, { method: "GET", url, proof: byAgent }),
    ).resolves.toMatchObject({
      actors: [AGENT_APP],
    });
  });
});
