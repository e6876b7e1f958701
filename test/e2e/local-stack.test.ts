import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignerError } from "../../signer/errors.ts";
import { BROKER_SCOPE, IDENTITIES } from "../../dev/sample.ts";
import { groupAlive } from "../../dev/processes.ts";
import { startStack, type Stack } from "../../dev/stack.ts";
import { pythonExampleFile } from "../origin/support/docs-example.ts";

// The real flow, end to end, with every part a separate process on loopback: the Entra ID emulator
// over HTTPS, the broker under wrangler dev (workerd), a signer daemon per sample identity, the
// sample origins. Each sample identity gets exactly what the policy grants it, and is refused at
// the right stage otherwise.

const REPO = resolve(import.meta.dirname, "../..");
let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "broker-e2e-"));
  stack = await startStack({ stateDir, ports: {} });
}, 180_000);

afterAll(async () => {
  const children = [stack?.broker.child, ...Object.values(stack?.signers ?? {}).map((s) => s.child)].filter(Boolean);
  await stack?.stop();
  for (const child of children) expect(groupAlive(child!.process), `${child!.name} still running`).toBe(false);
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

async function call(url: string, token: string, method = "GET") {
  const response = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, string>,
    challenge: response.headers.get("www-authenticate"),
  };
}

function brokerEvents(clientId: string) {
  return stack.broker.events().filter((e) => e.event === "token_exchange" && e.client_id === clientId);
}

async function refusal(promise: Promise<unknown>): Promise<SignerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignerError);
  return error as SignerError;
}

describe("the orders service (certificate credential)", () => {
  it("gets a v2.0 app-only Entra token from its signer, authenticated by certificate", async () => {
    const { access_token } = await stack.signers.orders.client.getToken(BROKER_SCOPE);
    const claims = decodeJwt(access_token);
    expect(claims).toMatchObject({
      ver: "2.0",
      azp: IDENTITIES.orders.appId,
      azpacr: "2",
      idtyp: "app",
      roles: ["Inventory.Read"],
    });
  });

  it("exchanges it for an inventory token and reads the inventory", async () => {
    const { inventory } = stack.origins;
    const exchanged = await stack.signers.orders.client.exchange(inventory.origin, "inventory.read");
    expect(exchanged).toMatchObject({ token_type: "Bearer", scope: "inventory.read" });
    expect(exchanged.expires_in).toBeLessThanOrEqual(300);
    const result = await call(`${inventory.origin}/items`, exchanged.access_token);
    expect(result).toMatchObject({
      status: 200,
      body: { client_id: IDENTITIES.orders.appId, scope: "inventory.read" },
    });
    expect(brokerEvents(IDENTITIES.orders.appId).at(-1)).toMatchObject({
      outcome: "granted",
      rule: "orders-reads-inventory",
    });
  });

  it("does the same through the CLI, as a CI script would", async () => {
    // Asynchronously: the emulator answers from this very process.
    const cli = await promisify(execFile)(
      process.execPath,
      [
        join(REPO, "signer/bin/broker-signer.ts"),
        "exchange",
        "--resource",
        stack.origins.inventory.origin,
        "--config",
        stack.signers.orders.configFile,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    const token = cli.stdout.trim();
    expect(decodeJwt(token).aud).toBe(stack.origins.inventory.origin);
    expect(cli.stderr).not.toContain(token);
  });

  it("cannot use its inventory token at another origin", async () => {
    const { access_token } = await stack.signers.orders.client.exchange(stack.origins.inventory.origin);
    const result = await call(`${stack.origins.deploy.origin}/deployments`, access_token, "POST");
    expect(result.status).toBe(401);
    expect(result.challenge).toMatch(/^Bearer error="invalid_token"/);
    expect(result.body.error_description).toBe("The token is for another audience");
  });

  it("is refused a token for an origin it has no grant for (invalid_target)", async () => {
    const error = await refusal(stack.signers.orders.client.exchange(stack.origins.deploy.origin));
    expect(error.oauthError).toBe("invalid_target");
    expect(brokerEvents(IDENTITIES.orders.appId).at(-1)).toMatchObject({
      outcome: "denied",
      reason: "resource_not_granted",
    });
  });

  it("is refused a scope beyond its grant (invalid_scope)", async () => {
    const error = await refusal(
      stack.signers.orders.client.exchange(stack.origins.inventory.origin, "inventory.read inventory.search"),
    );
    expect(error.oauthError).toBe("invalid_scope");
  });

  it("presents a token verifiable by an independent JWT implementation (PyJWT)", async () => {
    const { access_token } = await stack.signers.orders.client.exchange(stack.origins.inventory.origin);
    const python = spawnSync(
      "/usr/bin/python3",
      [
        join(import.meta.dirname, "verify_with_pyjwt.py"),
        `${stack.broker.origin}/.well-known/jwks.json`,
        stack.broker.origin,
        stack.origins.inventory.origin,
      ],
      { input: access_token, encoding: "utf8", timeout: 30_000 },
    );
    expect(python.status, python.stderr).toBe(0);
    expect(JSON.parse(python.stdout)).toMatchObject({
      client_id: IDENTITIES.orders.appId,
      aud: stack.origins.inventory.origin,
    });
    const wrongAudience = spawnSync(
      "/usr/bin/python3",
      [
        join(import.meta.dirname, "verify_with_pyjwt.py"),
        `${stack.broker.origin}/.well-known/jwks.json`,
        stack.broker.origin,
        stack.origins.deploy.origin,
      ],
      { input: access_token, encoding: "utf8", timeout: 30_000 },
    );
    expect(wrongAudience.status).toBe(1);
    expect(wrongAudience.stderr).toMatch(/InvalidAudienceError/);
  });

  it("presents a token that the PyJWT example of docs/origin-kit.md accepts for its route", async () => {
    const { inventory } = stack.origins;
    const { access_token } = await stack.signers.orders.client.exchange(inventory.origin, "inventory.read");
    const run = (audience: string, scope: string) =>
      spawnSync("/usr/bin/python3", [pythonExampleFile(), stack.broker.origin, audience, scope], {
        input: access_token,
        encoding: "utf8",
        timeout: 30_000,
      });
    const accepted = run(inventory.origin, "inventory.read");
    expect(accepted.status, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ client_id: IDENTITIES.orders.appId, aud: inventory.origin });
    const otherOrigin = run(stack.origins.deploy.origin, "inventory.read");
    expect(otherOrigin.stderr).toMatch(/^InvalidAudienceError/);
    const otherScope = run(inventory.origin, "inventory.search");
    expect(otherScope.stderr).toMatch(/^InsufficientScope: missing scope inventory.search/);
  });
});

describe("the AI agent (one narrow scope)", () => {
  it("may search the inventory and nothing else", async () => {
    const { inventory } = stack.origins;
    const { access_token, scope } = await stack.signers.agent.client.exchange(inventory.origin);
    expect(scope).toBe("inventory.search");
    expect((await call(`${inventory.origin}/search`, access_token)).status).toBe(200);
    const items = await call(`${inventory.origin}/items`, access_token);
    expect(items.status).toBe(403);
    expect(items.challenge).toMatch(/^Bearer error="insufficient_scope"/);
  });
});

describe("the CI pipeline (federated credential, no secret)", () => {
  it("signs in with its runner's OIDC token and may deploy", async () => {
    const { access_token: entra } = await stack.signers.ci.client.getToken(BROKER_SCOPE);
    expect(decodeJwt(entra)).toMatchObject({ azp: IDENTITIES.ci.appId, roles: ["Deploy.Production"] });
    const { deploy } = stack.origins;
    const { access_token } = await stack.signers.ci.client.exchange(deploy.origin);
    expect(await call(`${deploy.origin}/deployments`, access_token, "POST")).toMatchObject({
      status: 200,
      body: { client_id: IDENTITIES.ci.appId, scope: "deploy.write" },
    });
  });

  it("may not read the inventory", async () => {
    const error = await refusal(stack.signers.ci.client.exchange(stack.origins.inventory.origin));
    expect(error.oauthError).toBe("invalid_target");
  });
});

describe("an identity with no grant", () => {
  it("gets an Entra token without roles, and the broker denies it with no_roles in its log", async () => {
    const { access_token } = await stack.signers.intruder.client.getToken(BROKER_SCOPE);
    expect(decodeJwt(access_token).roles).toBeUndefined();
    const error = await refusal(stack.signers.intruder.client.exchange(stack.origins.inventory.origin));
    expect(error.oauthError).toBe("invalid_target");
    expect(brokerEvents(IDENTITIES.intruder.appId).at(-1)).toMatchObject({ outcome: "denied", reason: "no_roles" });
  });
});

describe("the sample origin", () => {
  it("refuses an expired broker token, even one signed with the broker's real key", async () => {
    const keys = JSON.parse(readFileSync(join(stateDir, "broker-signing-keys.json"), "utf8")) as {
      keys: Array<Record<string, unknown>>;
    };
    const active = keys.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ client_id: IDENTITIES.orders.appId, scope: "inventory.read", tid: "t" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: String(active.kid) })
      .setIssuer(stack.broker.origin)
      .setSubject(IDENTITIES.orders.appId)
      .setAudience(stack.origins.inventory.origin)
      .setIssuedAt(now - 600)
      .setNotBefore(now - 600)
      .setExpirationTime(now - 300)
      .setJti(crypto.randomUUID())
      .sign(await importJWK(active as never, "ES256"));
    const result = await call(`${stack.origins.inventory.origin}/items`, expired);
    expect(result).toMatchObject({
      status: 401,
      body: { error: "invalid_token", error_description: "The token expired" },
    });
  });

  it("refuses a request without a token, pointing at its RFC 9728 metadata (no error code, RFC 6750 §3.1)", async () => {
    const { origin } = stack.origins.inventory;
    const response = await fetch(`${origin}/items`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `Bearer scope="inventory.read", resource_metadata="${origin}/.well-known/oauth-protected-resource"`,
    );
  });

  it("names the broker in its protected resource metadata, and the signer exchanges for it from that alone", async () => {
    const { origin } = stack.origins.inventory;
    const metadata = (await (await fetch(`${origin}/.well-known/oauth-protected-resource`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata).toMatchObject({ resource: origin, authorization_servers: [stack.broker.origin] });
    const cli = await promisify(execFile)(
      process.execPath,
      [
        join(REPO, "signer/bin/broker-signer.ts"),
        "exchange",
        "--for-origin",
        origin,
        "--config",
        stack.signers.orders.configFile,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    const token = cli.stdout.trim();
    expect(decodeJwt(token).aud).toBe(origin);
    expect((await call(`${origin}/items`, token)).status).toBe(200);
  });
});

describe("forward mode through the broker", () => {
  it("verifies the caller's Entra token, mints the origin's token and forwards", async () => {
    const { access_token: entra } = await stack.signers.orders.client.getToken(BROKER_SCOPE);
    const first = await call(`${stack.broker.origin}/items`, entra);
    expect(first).toMatchObject({
      status: 200,
      body: { origin: "inventory", client_id: IDENTITIES.orders.appId, scope: "inventory.read" },
    });
    await call(`${stack.broker.origin}/items`, entra);
    const forwards = stack.broker
      .events()
      .filter((e) => e.event === "forward" && e.client_id === IDENTITIES.orders.appId);
    // The second call reuses the token the first one used (which may itself be the token an earlier
    // POST /token minted for the same Entra token and grant: the broker keeps one per caller and grant).
    const [firstForward, secondForward] = forwards.slice(-2);
    expect(secondForward).toMatchObject({ token_reused: true, jti: firstForward!.jti });
  });

  it("refuses a caller the policy does not grant, before the origin sees anything", async () => {
    const { access_token: entra } = await stack.signers.intruder.client.getToken(BROKER_SCOPE);
    const result = await call(`${stack.broker.origin}/items`, entra);
    expect(result.status).toBe(403);
    expect(result.challenge).toMatch(/error="insufficient_scope"/);
  });

  it("refuses a request without a token with 401", async () => {
    const response = await fetch(`${stack.broker.origin}/items`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
  });
});

describe("broker key rotation", () => {
  it("keeps tokens minted with the previous key valid while new tokens use the next key", async () => {
    const { inventory } = stack.origins;
    const before = await stack.signers.orders.client.exchange(inventory.origin);
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    await stack.rotateBrokerKeys();
    const after = await stack.signers.orders.client.exchange(inventory.origin);
    const newKid = decodeProtectedHeader(after.access_token).kid;
    expect(newKid).not.toBe(oldKid);
    const jwks = (await (await fetch(`${stack.broker.origin}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    expect((await call(`${inventory.origin}/items`, before.access_token)).status).toBe(200);
    expect((await call(`${inventory.origin}/items`, after.access_token)).status).toBe(200);
  }, 120_000);
});
