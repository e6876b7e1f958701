import { exports } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { INVENTORY, ORDERS_APP, scenario } from "../support/scenario.ts";

describe("GET /.well-known/jwks.json", () => {
  it("publishes every key's public half, and nothing private", async () => {
    const s = scenario();
    const response = await s.fetch(new Request("https://broker.test/.well-known/jwks.json"));
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    const jwks = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((k) => [k.kid, k.alg, k.use])).toEqual([
      ["broker-es256-1", "ES256", "sig"],
      ["broker-ed25519-next", "EdDSA", "sig"],
    ]);
    for (const key of jwks.keys)
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key).not.toHaveProperty(member);
  });
});

describe("GET /.well-known/oauth-authorization-server", () => {
  it("serves RFC 8414 metadata whose issuer is exactly the configured URL", async () => {
    const s = scenario();
    const metadata = (await (
      await s.fetch(new Request("https://broker.test/.well-known/oauth-authorization-server"))
    ).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: "https://broker.test",
      token_endpoint: "https://broker.test/token",
      jwks_uri: "https://broker.test/.well-known/jwks.json",
      grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
      access_token_signing_alg_values_supported: ["ES256", "EdDSA"],
    });
  });

  it("is served by the deployed Worker entry point as configured in wrangler", async () => {
    const response = await exports.default.fetch("https://broker.test/.well-known/oauth-authorization-server");
    expect(response.status).toBe(200);
    expect(((await response.json()) as { issuer: string }).issuer).toBe("https://broker.test");
  });

  it("lets a standards-based OAuth client (oauth4webapi) discover the broker and perform the exchange", async () => {
    const s = scenario();
    const worker = (input: RequestInfo | URL, init?: RequestInit) => s.fetch(new Request(input, init));
    const issuer = new URL("https://broker.test");
    const as = await oauth
      .discoveryRequest(issuer, { algorithm: "oauth2", [oauth.customFetch]: worker })
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    const client: oauth.Client = { client_id: ORDERS_APP };
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      "urn:ietf:params:oauth:grant-type:token-exchange",
      new URLSearchParams({
        subject_token: await s.token(),
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: INVENTORY,
        scope: "inventory.read",
      }),
      { [oauth.customFetch]: worker },
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.token_type).toBe("bearer");
    expect(result.scope).toBe("inventory.read");
    const jwks = (await (await worker(as.jwks_uri!)).json()) as never;
    const { payload } = await jwtVerify(result.access_token, createLocalJWKSet(jwks), {
      issuer: as.issuer,
      audience: INVENTORY,
      typ: "at+jwt",
    });
    expect(payload.client_id).toBe(ORDERS_APP);
  });
});

describe("other routes", () => {
  it("answers unknown paths with a JSON 404", async () => {
    const response = await exports.default.fetch("https://broker.test/nope");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: "not_found" });
  });
});
