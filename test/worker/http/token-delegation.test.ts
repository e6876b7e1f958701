import * as oauth from "oauth4webapi";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import {
  ACCESS_TOKEN_TYPE,
  DEPLOY,
  INVENTORY,
  ORDERS_APP,
  nowSeconds,
  oauthError,
  scenario,
  type Scenario,
} from "../support/scenario.ts";
import {
  actorToken,
  AGENT,
  AGENT_APP,
  brokerTokenFor,
  craftBrokerToken,
  DELEGATION_POLICY,
  delegateWith,
  ORDERS,
  TOOL,
  TOOL_APP,
} from "../support/agent-tokens.ts";
import { captureLog } from "../support/audit-log.ts";

// Delegation at POST /token (RFC 8693 §2.1 actor_token, §4.1 act): orders (A) calls the agent (B)
// with T1; the agent exchanges T1 plus its own Entra token for T2 to the inventory, on orders' behalf.

const log = captureLog();
let s: Scenario;

beforeEach(() => {
  s = scenario();
  s.configure({ POLICY: JSON.stringify(DELEGATION_POLICY) });
});

async function accessToken(response: Response): Promise<{ token: string; body: Record<string, unknown> }> {
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`expected a token, got ${response.status} ${JSON.stringify(body)}`);
  return { token: body.access_token as string, body };
}

async function refusal(response: Response) {
  const error = await oauthError(response);
  return { ...error, reason: log.lastReason() };
}

describe("POST /token with an actor_token", () => {
  it("issues T2 on the subject's behalf to the actor: sub kept, client_id the actor, act per RFC 8693 §4.1", async () => {
    const t1 = await brokerTokenFor(s, { scope: "agent.invoke inventory.read" });
    const { token, body } = await accessToken(await delegateWith(s, t1, { scope: "inventory.read" }));
    expect(body).toMatchObject({ token_type: "Bearer", scope: "inventory.read", expires_in: 60 });
    const jwks = (await (await s.fetch(new Request("https://broker.test/.well-known/jwks.json"))).json()) as never;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: "https://broker.test",
      audience: INVENTORY,
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({
      sub: ORDERS_APP,
      client_id: AGENT_APP,
      act: { sub: AGENT_APP },
      scope: "inventory.read",
      roles: ["Agent.Act"],
      tid: s.tid,
    });
    expect(payload.exp!).toBeLessThanOrEqual(decodeJwt(t1).exp!);
  });

  it("writes the chain into the audit line: on whose behalf, via which origin, actors newest first", async () => {
    const t1 = await brokerTokenFor(s);
    await accessToken(await delegateWith(s, t1));
    expect(log.lastExchange()).toMatchObject({
      outcome: "granted",
      rule: "orders-agent-reads-inventory",
      client_id: AGENT_APP,
      sub: ORDERS_APP,
      via: AGENT,
      actors: [AGENT_APP],
      subject_jti: decodeJwt(t1).jti,
      resource: INVENTORY,
    });
  });

  it("nests the whole chain newest first on a second hop, and narrows again", async () => {
    const t1 = await brokerTokenFor(s);
    const t2 = (await accessToken(await delegateWith(s, t1, { resource: TOOL }))).token;
    expect(decodeJwt(t2).scope).toBe("inventory.read inventory.list");
    const hop2 = await delegateWith(s, t2, { actor_token: await actorToken(s, TOOL_APP, []) });
    const t3 = decodeJwt((await accessToken(hop2)).token);
    expect(t3).toMatchObject({
      sub: ORDERS_APP,
      client_id: TOOL_APP,
      aud: INVENTORY,
      scope: "inventory.read",
      act: { sub: TOOL_APP, act: { sub: AGENT_APP } },
    });
    expect(log.lastExchange()).toMatchObject({ actors: [TOOL_APP, AGENT_APP], via: TOOL });
  });

  it("issues, with no scope asked for, what both T1 and the rule hold", async () => {
    const t1 = await brokerTokenFor(s, { scope: "agent.invoke inventory.list" });
    const { body } = await accessToken(await delegateWith(s, t1));
    expect(body.scope).toBe("inventory.list");
  });

  it("works with a standard RFC 8693 client (oauth4webapi) sending actor_token and actor_token_type", async () => {
    const worker = (input: RequestInfo | URL, init?: RequestInit) => s.fetch(new Request(input, init));
    const issuer = new URL("https://broker.test");
    const as = await oauth
      .discoveryRequest(issuer, { algorithm: "oauth2", [oauth.customFetch]: worker })
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    const client: oauth.Client = { client_id: AGENT_APP };
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      "urn:ietf:params:oauth:grant-type:token-exchange",
      new URLSearchParams({
        subject_token: await brokerTokenFor(s),
        subject_token_type: ACCESS_TOKEN_TYPE,
        actor_token: await actorToken(s),
        actor_token_type: ACCESS_TOKEN_TYPE,
        resource: INVENTORY,
        scope: "inventory.read",
      }),
      { [oauth.customFetch]: worker },
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(decodeJwt(result.access_token)).toMatchObject({ sub: ORDERS_APP, act: { sub: AGENT_APP } });
  });
});

describe("POST /token with an actor_token refuses", () => {
  it("an actor that does not own the origin T1 was issued for (actor_not_owner)", async () => {
    const t1 = await brokerTokenFor(s);
    const response = await delegateWith(s, t1, { actor_token: await actorToken(s, TOOL_APP, ["Agent.Act"]) });
    expect(await refusal(response)).toMatchObject({
      status: 400,
      error: "invalid_request",
      error_description: "the actor does not own the origin the subject_token was issued for",
      reason: "actor_not_owner",
    });
  });

  it("a T1 issued for another origin than the actor's (actor_not_owner)", async () => {
    const t1 = await brokerTokenFor(s, { resource: INVENTORY });
    expect(await refusal(await delegateWith(s, t1))).toMatchObject({
      error: "invalid_request",
      reason: "actor_not_owner",
    });
    expect(log.lastExchange()).toMatchObject({ via: INVENTORY, client_id: AGENT_APP });
  });

  it("an actor that no delegation rule matches (delegation_not_allowed, invalid_target)", async () => {
    const t1 = await brokerTokenFor(s);
    const withoutRole = await delegateWith(s, t1, { actor_token: await actorToken(s, AGENT_APP, ["Other"]) });
    expect(await refusal(withoutRole)).toMatchObject({ error: "invalid_target", reason: "delegation_not_allowed" });
    const otherOrigin = await delegateWith(s, t1, { resource: "https://elsewhere.example.com" });
    expect(await refusal(otherOrigin)).toMatchObject({ error: "invalid_target", reason: "delegation_not_allowed" });
  });

  it("a subject the rule does not list (delegation_not_allowed)", async () => {
    const t1 = await craftBrokerToken(s, { sub: TOOL_APP, client_id: TOOL_APP });
    expect(await refusal(await delegateWith(s, t1))).toMatchObject({ reason: "delegation_not_allowed" });
  });

  it("a delegated (user) actor token with invalid_request (actor_not_app_only)", async () => {
    const t1 = await brokerTokenFor(s);
    const actor = await actorToken(s, AGENT_APP, ["Agent.Act"], { scp: "user_impersonation", idtyp: "user" });
    expect(await refusal(await delegateWith(s, t1, { actor_token: actor }))).toMatchObject({
      status: 400,
      error: "invalid_request",
      error_description: "actor_token is not a valid Entra ID app-only access token for this broker",
      reason: "actor_not_app_only",
    });
  });

  it("a secret-authenticated actor (actor_client_not_certificate_authenticated)", async () => {
    const t1 = await brokerTokenFor(s);
    const actor = await actorToken(s, AGENT_APP, ["Agent.Act"], { azpacr: "1" });
    expect(await refusal(await delegateWith(s, t1, { actor_token: actor }))).toMatchObject({
      error: "invalid_request",
      reason: "actor_client_not_certificate_authenticated",
    });
  });

  it("an expired actor token (actor_token_expired)", async () => {
    const t1 = await brokerTokenFor(s);
    const actor = await actorToken(s, AGENT_APP, ["Agent.Act"], { exp: nowSeconds() - 3600, iat: nowSeconds() - 7200 });
    expect(await refusal(await delegateWith(s, t1, { actor_token: actor }))).toMatchObject({
      reason: "actor_token_expired",
    });
  });

  it("an Entra token as the subject: with an actor_token it must be the broker's (subject_token_not_from_broker)", async () => {
    expect(await refusal(await delegateWith(s, await s.token()))).toMatchObject({
      status: 400,
      error: "invalid_request",
      error_description: "with an actor_token, subject_token must be a valid, unexpired token issued by this broker",
      reason: "subject_token_not_from_broker",
    });
  });

  it("a broker token with a forged signature, an expired one, and one with typ JWT", async () => {
    const t1 = await brokerTokenFor(s);
    const [h, p] = t1.split(".");
    const forged = `${h}.${p}.${(await craftBrokerToken(s)).split(".")[2]}`;
    expect(await refusal(await delegateWith(s, forged))).toMatchObject({ reason: "subject_token_signature_invalid" });
    const expired = await craftBrokerToken(s, { iat: nowSeconds() - 1000, exp: nowSeconds() - 500 });
    expect(await refusal(await delegateWith(s, expired))).toMatchObject({ reason: "subject_token_expired" });
    const retyped = await craftBrokerToken(s, {}, { typ: "JWT" });
    expect(await refusal(await delegateWith(s, retyped))).toMatchObject({
      error: "invalid_request",
      reason: "subject_token_malformed",
    });
  });

  it("a scope that T1 does not carry (scope_widened, invalid_scope)", async () => {
    const t1 = await brokerTokenFor(s, { scope: "agent.invoke inventory.read" });
    expect(await refusal(await delegateWith(s, t1, { scope: "inventory.read inventory.list" }))).toMatchObject({
      status: 400,
      error: "invalid_scope",
      error_description: "scope wider than the subject_token's: inventory.list",
      reason: "scope_widened",
    });
  });

  it("a scope that T1 carries but the delegation rule does not grant (scope_not_granted)", async () => {
    const t1 = await brokerTokenFor(s);
    expect(await refusal(await delegateWith(s, t1, { scope: "agent.invoke" }))).toMatchObject({
      error: "invalid_scope",
      reason: "scope_not_granted",
    });
  });

  it("nothing in common between T1 and the rule (scope_empty)", async () => {
    const t1 = await brokerTokenFor(s, { scope: "agent.invoke" });
    expect(await refusal(await delegateWith(s, t1))).toMatchObject({ error: "invalid_scope", reason: "scope_empty" });
  });

  it("to stretch the lifetime: T2 never outlives T1 or the rule, and a T1 about to expire gets nothing", async () => {
    const shortT1 = await craftBrokerToken(s, { exp: nowSeconds() + 30 });
    const { body } = await accessToken(await delegateWith(s, shortT1));
    expect(body.expires_in).toBeLessThanOrEqual(30);
    expect(decodeJwt(body.access_token as string).exp).toBeLessThanOrEqual(decodeJwt(shortT1).exp!);
    const longT1 = await craftBrokerToken(s, { exp: nowSeconds() + 3000 });
    expect((await accessToken(await delegateWith(s, longT1))).body.expires_in).toBe(60);
    const dying = await craftBrokerToken(s, { exp: nowSeconds() + 5 });
    expect(await refusal(await delegateWith(s, dying))).toMatchObject({
      error: "invalid_request",
      reason: "subject_token_expiring",
    });
  });

  it("a chain longer than maxDelegationDepth (chain_too_deep)", async () => {
    s.configure({ POLICY: JSON.stringify({ ...DELEGATION_POLICY, maxDelegationDepth: 1 }) });
    const t1 = await brokerTokenFor(s);
    const t2 = (await accessToken(await delegateWith(s, t1, { resource: TOOL }))).token;
    const hop2 = await delegateWith(s, t2, { actor_token: await actorToken(s, TOOL_APP, []) });
    expect(await refusal(hop2)).toMatchObject({
      error: "invalid_request",
      error_description: "the delegation chain would be longer than 1 actors",
      reason: "chain_too_deep",
    });
  });

  it("a fourth actor under the default depth of 3 (chain_too_deep)", async () => {
    const deep = await craftBrokerToken(s, {
      aud: TOOL,
      client_id: "77777777-7777-4777-8777-777777777777",
      act: {
        sub: "77777777-7777-4777-8777-777777777777",
        act: { sub: "88888888-8888-4888-8888-888888888888", act: { sub: "99999999-9999-4999-8999-999999999999" } },
      },
    });
    const response = await delegateWith(s, deep, { actor_token: await actorToken(s, TOOL_APP, []) });
    expect(await refusal(response)).toMatchObject({ reason: "chain_too_deep" });
  });

  it("a loop A → B → A: the subject acting for itself again (chain_loop)", async () => {
    const t1 = await brokerTokenFor(s);
    const t2 = (await accessToken(await delegateWith(s, t1, { resource: ORDERS, scope: "inventory.read" }))).token;
    const back = await delegateWith(s, t2, { actor_token: await actorToken(s, ORDERS_APP) });
    expect(await refusal(back)).toMatchObject({ error: "invalid_request", reason: "chain_loop" });
  });

  it("a loop B → C → B: an earlier actor acting again (chain_loop)", async () => {
    const t1 = await brokerTokenFor(s);
    const t2 = (await accessToken(await delegateWith(s, t1, { resource: TOOL }))).token;
    const t3 = (
      await accessToken(await delegateWith(s, t2, { actor_token: await actorToken(s, TOOL_APP, []), resource: AGENT }))
    ).token;
    expect(decodeJwt(t3).act).toEqual({ sub: TOOL_APP, act: { sub: AGENT_APP } });
    expect(await refusal(await delegateWith(s, t3))).toMatchObject({ reason: "chain_loop" });
  });

  it("an actor from another tenant than T1's (actor_tenant_mismatch)", async () => {
    const t1 = await craftBrokerToken(s, { tid: crypto.randomUUID() });
    expect(await refusal(await delegateWith(s, t1))).toMatchObject({ reason: "actor_tenant_mismatch" });
  });

  it("a request for a resource the rule does not grant, even for a token the actor owns (deploy)", async () => {
    const t1 = await brokerTokenFor(s);
    // agent-deploys-bound grants DEPLOY only with a DPoP proof: without one the request is refused.
    const response = await delegateWith(s, t1, { resource: DEPLOY });
    expect(await refusal(response)).toMatchObject({ error: "invalid_dpop_proof", reason: "dpop_required" });
  });
});

describe("POLICY delegations and owners", () => {
  it("are validated at load, every problem named by rule and field", async () => {
    const [first] = DELEGATION_POLICY.delegations;
    const bad = {
      rules: DELEGATION_POLICY.rules,
      owners: { "https://Agent.example.com/": ["not-a-guid"] },
      maxDelegationDepth: 11,
      delegations: [
        { ...first, match: { ...first!.match, via: "https://unowned.example.com" } },
        { ...first, name: "anyone", match: { actors: {}, via: AGENT }, surprise: true },
      ],
    };
    const response = await s.exchange({}, { POLICY: JSON.stringify(bad) });
    expect(response.status).toBe(500);
    expect(log.configProblems()).toEqual(
      expect.arrayContaining([
        'POLICY owners: "https://Agent.example.com/": is not a canonical origin',
        'POLICY owners: "https://Agent.example.com/"[0]: "not-a-guid" is not a client app id',
        "POLICY maxDelegationDepth: must be a whole number from 1 to 10",
        'POLICY delegation "orders-agent-reads-inventory": match.via: https://unowned.example.com has no owners: list its clients under owners',
        'POLICY delegation "anyone": surprise: unknown field',
        'POLICY delegation "anyone": match.actors: needs "clients" and/or "roles": a rule that lets anyone act is not allowed',
      ]),
    );
  });
});

describe("POST /explain with an actor_token", () => {
  it("explains the delegation /token would make, and refuses bad tokens exactly as /token does", async () => {
    const t1 = await brokerTokenFor(s, { scope: "agent.invoke inventory.read" });
    const form = {
      subject_token: t1,
      actor_token: await actorToken(s),
      actor_token_type: ACCESS_TOKEN_TYPE,
      resource: INVENTORY,
    };
    const granted = await s.explain(form);
    expect(await granted.json()).toMatchObject({
      decision: "granted",
      reason: "granted",
      rule: "orders-agent-reads-inventory",
      scope: "inventory.read",
      expiresIn: 60,
    });
    const widened = await s.explain({ ...form, scope: "inventory.list" });
    expect(await widened.json()).toMatchObject({ decision: "denied", reason: "scope_widened" });
    const entraSubject = { ...form, subject_token: await s.token() };
    const [explained, exchanged] = [await s.explain(entraSubject), await s.exchange(entraSubject)];
    expect(explained.status).toBe(400);
    expect(await explained.text()).toBe(await exchanged.text());
  });
});
