// Every failure of the token endpoint, on the wire: HTTP status, OAuth error, AADSTS code first in
// the description, and Entra's body shape. Raw HTTP for requests msal would never send.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "jose";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import { createMsalNetworkClient } from "../../emulator/msal-network.ts";
import {
  CLIENT,
  CLIENT_NO_ROLES,
  SECRET,
  TENANT,
  certAssertion,
  certForm,
  createFixture,
  expectEntraError,
  secretForm,
  federatedToken,
  postToken,
  type Fixture,
} from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants });
});
afterAll(() => em?.close());

const nowSec = () => Math.floor(Date.now() / 1000);

describe("POST /{tenant}/oauth2/v2.0/token: request errors", () => {
  it("rejects an unknown tenant with AADSTS90002", async () => {
    const r = await postToken(em, secretForm(), "0badc0de-0000-4000-8000-000000000000");
    expectEntraError(r, 400, "invalid_request", 90002, "Tenant '0badc0de-0000-4000-8000-000000000000' not found");
  });

  it("rejects an unknown client with AADSTS700016 naming the app and the directory", async () => {
    const r = await postToken(em, secretForm({ client_id: "99999999-9999-4999-8999-999999999999" }));
    expectEntraError(
      r,
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '99999999-9999-4999-8999-999999999999' was not found in the directory '${TENANT}'`,
    );
  });

  it("rejects an unknown resource with AADSTS500011", async () => {
    const r = await postToken(em, secretForm({ scope: "api://nope/.default" }));
    expectEntraError(
      r,
      400,
      "invalid_resource",
      500011,
      "The resource principal named api://nope was not found in the tenant",
    );
  });

  it("rejects a scope without /.default with AADSTS1002012", async () => {
    const r = await postToken(em, secretForm({ scope: "api://broker/Tokens.Exchange" }));
    expectEntraError(
      r,
      400,
      "invalid_scope",
      1002012,
      "Client credential flows must have a scope value with /.default",
    );
  });

  it("rejects several scopes with AADSTS70011", async () => {
    const r = await postToken(em, secretForm({ scope: "api://broker/.default api://legacy/.default" }));
    expectEntraError(r, 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid");
  });

  it("rejects a missing scope with AADSTS900144", async () => {
    const r = await postToken(em, { grant_type: "client_credentials", client_id: CLIENT, client_secret: SECRET });
    expectEntraError(r, 400, "invalid_request", 900144, "'scope'");
  });

  it("rejects another grant type with AADSTS70003 unsupported_grant_type", async () => {
    const r = await postToken(em, secretForm({ grant_type: "password" }));
    expectEntraError(r, 400, "unsupported_grant_type", 70003, "'password'");
  });

  it("rejects a request with no credential", async () => {
    const r = await postToken(em, {
      grant_type: "client_credentials",
      client_id: CLIENT,
      scope: "api://broker/.default",
    });
    expectEntraError(r, 401, "invalid_client", 7000218);
  });

  it("rejects a body that is not a form, and one that is too large", async () => {
    const net = createMsalNetworkClient({ ca: em.caCertPem });
    const json = await net.sendPostRequestAsync<Record<string, any>>(em.tokenEndpoint(TENANT), {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(secretForm()),
    });
    expect(json.status).toBe(400);
    const big = await postToken(em, secretForm({ padding: "x".repeat(70 * 1024) }));
    expect(big.status).toBe(413);
  });

  it("echoes msal's client-request-id as the correlation id", async () => {
    const net = createMsalNetworkClient({ ca: em.caCertPem });
    const r = await net.sendPostRequestAsync<Record<string, any>>(em.tokenEndpoint(TENANT), {
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "client-request-id": "0f0f0f0f-1111-4222-8333-444444444444",
      },
      body: new URLSearchParams(secretForm({ client_secret: "bad" })).toString(),
    });
    expect(r.body.correlation_id).toBe("0f0f0f0f-1111-4222-8333-444444444444");
    expect(r.body.error_description).toContain("Correlation ID: 0f0f0f0f-1111-4222-8333-444444444444");
  });
});

describe("POST /{tenant}/oauth2/v2.0/token: client secret", () => {
  it("rejects a wrong secret with 401 AADSTS7000215", async () => {
    const r = await postToken(em, secretForm({ client_secret: "not-it" }));
    expectEntraError(r, 401, "invalid_client", 7000215, "Invalid client secret provided");
  });

  it("issues to a client that has no role on the resource, without roles", async () => {
    const r = await postToken(em, secretForm({ client_id: CLIENT_NO_ROLES }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599 });
  });

  it("refuses a client without a role assignment when the resource requires one (AADSTS501051)", async () => {
    const r = await postToken(em, secretForm({ scope: "api://locked/.default" }));
    expectEntraError(
      r,
      400,
      "invalid_grant",
      501051,
      `Application '${CLIENT}'(orders-service) is not assigned to a role for the application`,
    );
  });
});

describe("POST /{tenant}/oauth2/v2.0/token: certificate assertions", () => {
  it("accepts a good PS256 assertion (baseline for the cases below)", async () => {
    const r = await postToken(em, certForm(await certAssertion(em, f.cert)));
    expect(r.status).toBe(200);
    expect(r.headers["cache-control"]).toContain("no-store");
  });

  it("accepts RS256 with an x5t (SHA-1) header", async () => {
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { alg: "RS256" })));
    expect(r.status).toBe(200);
  });

  it("rejects an assertion from an unregistered certificate with AADSTS700027 (key not found)", async () => {
    const r = await postToken(em, certForm(await certAssertion(em, f.otherCert)));
    expectEntraError(
      r,
      401,
      "invalid_client",
      700027,
      `Thumbprint of key used by client: '${f.otherCert.thumbprintSha256Hex}'`,
    );
  });

  it("rejects a registered thumbprint signed by another key with AADSTS700027 (signature)", async () => {
    const forged = await certAssertion(em, f.otherCert, { header: { "x5t#S256": f.cert.thumbprintSha256Base64url } });
    const r = await postToken(em, certForm(forged));
    expectEntraError(r, 401, "invalid_client", 700027, "invalid signature");
  });

  it("rejects an expired assertion with AADSTS700024", async () => {
    const past = nowSec() - 3600;
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { nowSec: past })));
    expectEntraError(r, 401, "invalid_client", 700024, "Client assertion is not within its valid time range");
  });

  it("rejects an assertion not yet valid (nbf in the future) with AADSTS700024", async () => {
    const future = nowSec() + 3600;
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { nowSec: future })));
    expectEntraError(r, 401, "invalid_client", 700024);
  });

  it("rejects an assertion without exp with AADSTS700024", async () => {
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { claims: { exp: undefined } })));
    expectEntraError(r, 401, "invalid_client", 700024);
  });

  it("rejects an audience other than the token endpoint with AADSTS700023", async () => {
    const r = await postToken(
      em,
      certForm(await certAssertion(em, f.cert, { claims: { aud: `${em.httpsOrigin}/${TENANT}/v2.0` } })),
    );
    expectEntraError(r, 401, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer");
  });

  it("rejects an assertion for another tenant's token endpoint with AADSTS700023", async () => {
    const r = await postToken(
      em,
      certForm(
        await certAssertion(em, f.cert, { claims: { aud: em.tokenEndpoint("f8cdef31-a31e-4b4a-93e4-5f571e91255a") } }),
      ),
    );
    expectEntraError(r, 401, "invalid_client", 700023);
  });

  it("rejects sub different from the client id with AADSTS700021", async () => {
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { claims: { sub: CLIENT_NO_ROLES } })));
    expectEntraError(r, 401, "invalid_client", 700021, "doesn't match 'client_id' parameter");
  });

  it("accepts a reused assertion by default, as Entra does", async () => {
    const assertion = await certAssertion(em, f.cert);
    expect((await postToken(em, certForm(assertion))).status).toBe(200);
    expect((await postToken(em, certForm(assertion, "api://legacy/.default"))).status).toBe(200);
  });

  it("with rejectReplayedAssertions, rejects a reused jti (replay) the second time only", async () => {
    const tenants = structuredClone(f.tenants);
    tenants.tenants[0]!.rejectReplayedAssertions = true;
    const strict = await startEmulator({ tenants });
    try {
      const assertion = await certAssertion(strict, f.cert);
      expect((await postToken(strict, certForm(assertion))).status).toBe(200);
      const again = await postToken(strict, certForm(assertion, "api://legacy/.default"));
      expectEntraError(again, 401, "invalid_client", 50013, "jti has already been used");
    } finally {
      await strict.close();
    }
  });

  it("rejects a client_assertion that is not a JWT with AADSTS50027", async () => {
    const r = await postToken(em, certForm("not.a.jwt"));
    expectEntraError(r, 400, "invalid_request", 50027, "JWT token is invalid or malformed");
  });

  it("rejects a wrong client_assertion_type", async () => {
    const r = await postToken(em, {
      ...certForm(await certAssertion(em, f.cert)),
      client_assertion_type: "urn:example:other",
    });
    expectEntraError(r, 400, "invalid_request", 900144, "client_assertion_type");
  });
});

describe("POST /{tenant}/oauth2/v2.0/token: federated assertions", () => {
  const fedForm = (assertion: string) => certForm(assertion);

  it("accepts a token from the trusted issuer for the configured subject (baseline)", async () => {
    const r = await postToken(em, fedForm(await federatedToken(f)));
    expect(r.status).toBe(200);
  });

  it("accepts the same federated token more than once, like Entra (no jti check for external tokens)", async () => {
    const token = await federatedToken(f, { jti: "fixed" });
    expect((await postToken(em, fedForm(token))).status).toBe(200);
    expect((await postToken(em, fedForm(token))).status).toBe(200);
  });

  it.each([
    ["another issuer", { iss: "https://evil.example" }, 700211, "assertion issuer 'https://evil.example'"],
    ["another audience", { aud: "api://something-else" }, 700212, "assertion audience 'api://something-else'"],
    [
      "another subject",
      { sub: "repo:acme/orders:pull_request" },
      700213,
      "assertion subject 'repo:acme/orders:pull_request'",
    ],
  ])("rejects %s as invalid_client/401 with today's code naming that field", async (_name, claims, code, text) => {
    const r = await postToken(em, fedForm(await federatedToken(f, claims)));
    expectEntraError(
      r,
      401,
      "invalid_client",
      code,
      `No matching federated identity record found for presented ${text}`,
    );
  });

  it("rejects a token signed by a key the issuer's JWKS does not hold with AADSTS700027", async () => {
    const other = await generateKeyPair("ES256");
    const r = await postToken(em, fedForm(await federatedToken(f, {}, other.privateKey)));
    expectEntraError(r, 401, "invalid_client", 700027);
  });

  it("rejects an expired federated token with AADSTS700024", async () => {
    const r = await postToken(
      em,
      fedForm(await federatedToken(f, { iat: nowSec() - 7200, nbf: nowSec() - 7200, exp: nowSec() - 3600 })),
    );
    expectEntraError(r, 401, "invalid_client", 700024);
  });
});
