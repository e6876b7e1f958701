import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as baseEnv } from "cloudflare:workers";
import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { Env } from "../../worker/config.ts";
import worker from "../../worker/index.ts";
import { b64url } from "./support/scenario.ts";
import { captureLog } from "./support/audit-log.ts";

// The broker against tokens from the Entra ID emulator's real token endpoint (client credentials
// with a certificate assertion or a secret), v1.0 and v2.0: the same verification code that
// production runs accepts what it must and refuses what it must.

const emu = JSON.parse(inject("emulator")) as {
  tenantId: string;
  apiV2: { appId: string; uri: string };
  apiV1: { appId: string; uri: string };
  apiNoIdtyp: { appId: string; uri: string };
  certClient: string;
  secretClient: string;
  unassignedClient: string;
  secret: string;
  httpsOrigin: string;
  httpOrigin: string;
  v1IssuerHost: string;
  certKeyJwk: JsonWebKey;
  certX5tS256: string;
};
const INVENTORY = "https://inventory.example.com";

const log = captureLog();

function brokerEnv(overrides: Partial<Env> = {}): Env {
  return {
    ...(baseEnv as unknown as Env),
    ENTRA_AUTHORITY_HOST: emu.httpsOrigin,
    ENTRA_V1_ISSUER_HOST: emu.v1IssuerHost,
    ENTRA_JWKS_ORIGIN: emu.httpOrigin,
    ENTRA_TENANT_IDS: emu.tenantId,
    // v2.0 tokens name the API by client id, v1.0 tokens by app id URI.
    ENTRA_AUDIENCES: `${emu.apiV2.appId},${emu.apiV1.uri}`,
    POLICY: JSON.stringify({
      rules: [
        {
          name: "inventory-readers",
          match: { roles: ["Inventory.Read"] },
          grant: { origins: [INVENTORY], scopes: ["inventory.read"], maxTtlSeconds: 300 },
        },
      ],
    }),
    ...overrides,
  };
}

/** A client-credentials request to the emulator, as msal-node would send it. */
async function entraToken(client: string, resourceUri: string, credential: "certificate" | "secret"): Promise<string> {
  const tokenEndpoint = `${emu.httpOrigin}/${emu.tenantId}/oauth2/v2.0/token`;
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: client,
    scope: `${resourceUri}/.default`,
  });
  if (credential === "secret") form.set("client_secret", emu.secret);
  else {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "PS256", typ: "JWT", "x5t#S256": emu.certX5tS256 };
    const claims = {
      aud: tokenEndpoint,
      iss: client,
      sub: client,
      jti: crypto.randomUUID(),
      nbf: now,
      iat: now,
      exp: now + 300,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const key = await crypto.subtle.importKey("jwk", emu.certKeyJwk, { name: "RSA-PSS", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 32 }, key, new TextEncoder().encode(input)),
    );
    form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    form.set("client_assertion", `${input}.${b64url(signature)}`);
  }
  const response = await fetch(tokenEndpoint, { method: "POST", body: form });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`emulator refused: ${body.error_description}`);
  return body.access_token;
}

async function exchange(subjectToken: string, env: Env = brokerEnv()): Promise<Response> {
  const body = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: subjectToken,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    resource: INVENTORY,
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request("https://broker.test/token", {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("tokens from the Entra ID emulator", () => {
  it("accepts a v2.0 token of a certificate-authenticated client", async () => {
    const response = await exchange(await entraToken(emu.certClient, emu.apiV2.uri, "certificate"));
    expect(response.status).toBe(200);
    expect(log.lastExchange()).toMatchObject({
      outcome: "granted",
      client_id: emu.certClient,
      token_version: "2.0",
      rule: "inventory-readers",
    });
  });

  it("accepts a v1.0 token of a certificate-authenticated client", async () => {
    const response = await exchange(await entraToken(emu.certClient, emu.apiV1.uri, "certificate"));
    expect(response.status).toBe(200);
    expect(log.lastExchange()).toMatchObject({ outcome: "granted", client_id: emu.certClient, token_version: "1.0" });
  });

  it("accepts an app-only token without idtyp (an API that has not enabled it): no scp and oid == sub", async () => {
    const token = await entraToken(emu.certClient, emu.apiNoIdtyp.uri, "certificate");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1]!))) as Record<
      string,
      unknown
    >;
    expect(claims.idtyp).toBeUndefined();
    expect(claims.oid).toBe(claims.sub);
    const response = await exchange(token, brokerEnv({ ENTRA_AUDIENCES: emu.apiNoIdtyp.appId }));
    expect(response.status).toBe(200);
    expect(log.lastExchange()).toMatchObject({ outcome: "granted", client_id: emu.certClient });
  });

  it("refuses a secret-authenticated client while certificates are required", async () => {
    const response = await exchange(await entraToken(emu.secretClient, emu.apiV2.uri, "secret"));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
    expect(log.lastExchange()?.reason).toBe("client_not_certificate_authenticated");
  });

  it("accepts the secret-authenticated client when REQUIRE_CERTIFICATE_CLIENTS is false", async () => {
    const response = await exchange(
      await entraToken(emu.secretClient, emu.apiV1.uri, "secret"),
      brokerEnv({ REQUIRE_CERTIFICATE_CLIENTS: "false" }),
    );
    expect(response.status).toBe(200);
  });

  it("denies a client the API never assigned a role (the token has no roles)", async () => {
    const token = await entraToken(emu.unassignedClient, emu.apiV2.uri, "secret");
    const response = await exchange(token, brokerEnv({ REQUIRE_CERTIFICATE_CLIENTS: "false" }));
    expect(((await response.json()) as { error: string }).error).toBe("invalid_target");
    expect(log.lastExchange()?.reason).toBe("no_roles");
  });

  it("refuses a token for another API of the same tenant", async () => {
    const response = await exchange(
      await entraToken(emu.certClient, emu.apiV2.uri, "certificate"),
      brokerEnv({ ENTRA_AUDIENCES: "api://some-other-api" }),
    );
    expect(response.status).toBe(400);
    expect(log.lastExchange()?.reason).toBe("audience_mismatch");
  });

  it("refuses the emulator's tokens when the tenant is not allow-listed", async () => {
    const response = await exchange(
      await entraToken(emu.certClient, emu.apiV2.uri, "certificate"),
      brokerEnv({ ENTRA_TENANT_IDS: crypto.randomUUID() }),
    );
    expect(log.lastExchange()?.reason).toBe("tenant_not_allowed");
    expect(response.status).toBe(400);
  });
});
