// Test fixtures: a tenant file with clients and resources covering every path, plus helpers to
// sign assertions and to call the emulator without msal. Not a test file itself.
import { createPrivateKey, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { ConfidentialClientApplication, type Configuration } from "@azure/msal-node";
import { expect } from "vitest";
import {
  createMsalNetworkClient,
  createTestCertificate,
  type Emulator,
  type TenantFile,
  type TestCertificate,
} from "../../../emulator/index.ts";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const TENANT_DOMAIN = "contoso.example";
export const OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
export const CLIENT = "11111111-1111-4111-8111-111111111111"; // orders-service: cert, secret, federated
export const CLIENT_NO_ROLES = "22222222-2222-4222-8222-222222222222";
export const BROKER_V2 = "33333333-3333-4333-8333-333333333333"; // api://broker, v2 tokens
export const LEGACY_V1 = "44444444-4444-4444-8444-444444444444"; // api://legacy, v1 tokens
export const LOCKED = "55555555-5555-4555-8555-555555555555"; // assignment required
export const NO_IDTYP = "66666666-6666-4666-8666-666666666666"; // idtyp optional claim not enabled (the default)
export const EXPIRED_CLIENT = "77777777-7777-4777-8777-777777777777"; // only an expired and a not-yet-valid certificate
export const SECRET = "s3cr3t~value-not-the-id";
export const FED_ISSUER = "https://token.actions.example";
export const FED_SUBJECT = "repo:acme/orders:ref:refs/heads/main";

export interface Fixture {
  tenants: TenantFile;
  cert: TestCertificate;
  otherCert: TestCertificate;
  expiredCert: TestCertificate;
  futureCert: TestCertificate;
  fedKey: CryptoKeyLike;
  fedKid: string;
}
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export async function createFixture(): Promise<Fixture> {
  const day = 86_400_000;
  const [cert, otherCert, expiredCert, futureCert, fed] = await Promise.all([
    createTestCertificate("CN=orders-service"),
    createTestCertificate("CN=not-registered"),
    createTestCertificate("CN=expired", {
      notBefore: new Date(Date.now() - 400 * day),
      notAfter: new Date(Date.now() - day),
    }),
    createTestCertificate("CN=future", {
      notBefore: new Date(Date.now() + day),
      notAfter: new Date(Date.now() + 400 * day),
    }),
    generateKeyPair("ES256"),
  ]);
  const fedKid = "ci-key-1";
  const fedJwk: JWK = { ...(await exportJWK(fed.publicKey)), kid: fedKid, alg: "ES256", use: "sig" };
  const tenants: TenantFile = {
    tenants: [
      {
        tenantId: TENANT,
        displayName: "Contoso",
        domains: [TENANT_DOMAIN],
        apps: [
          {
            appId: CLIENT,
            displayName: "orders-service",
            certificates: [cert.certPem],
            secrets: [SECRET],
            federatedCredentials: [
              { name: "ci-main", issuer: FED_ISSUER, subject: FED_SUBJECT, jwks: { keys: [fedJwk] } },
            ],
          },
          { appId: CLIENT_NO_ROLES, displayName: "reporting", secrets: [SECRET] },
          {
            appId: EXPIRED_CLIENT,
            displayName: "stale-service",
            certificates: [expiredCert.certPem, futureCert.certPem],
          },
          {
            appId: BROKER_V2,
            displayName: "identity-broker",
            identifierUris: ["api://broker"],
            requestedAccessTokenVersion: 2,
            appRoles: [{ value: "Tokens.Exchange" }, { value: "Tokens.Admin" }],
            optionalClaims: { idtyp: true },
            appRoleAssignments: [{ clientAppId: CLIENT, roles: ["Tokens.Exchange"] }],
          },
          {
            appId: LEGACY_V1,
            displayName: "legacy-api",
            identifierUris: ["api://legacy"],
            requestedAccessTokenVersion: null,
            appRoles: [{ value: "Legacy.Read" }],
            optionalClaims: { idtyp: true },
            appRoleAssignments: [{ clientAppId: CLIENT, roles: ["Legacy.Read"] }],
          },
          {
            appId: LOCKED,
            displayName: "locked-api",
            identifierUris: ["api://locked"],
            appRoleAssignmentRequired: true,
            appRoles: [{ value: "X" }],
          },
          {
            appId: NO_IDTYP,
            displayName: "plain-api",
            identifierUris: ["api://plain"],
            requestedAccessTokenVersion: 2,
          },
        ],
      },
      {
        tenantId: OTHER_TENANT,
        signingKeys: "tenant",
        tenantRegionScope: "EU",
        apps: [
          { appId: CLIENT_NO_ROLES, displayName: "elsewhere", secrets: ["x"] },
          {
            appId: BROKER_V2,
            displayName: "broker-elsewhere",
            identifierUris: ["api://broker"],
            requestedAccessTokenVersion: 2,
          },
        ],
      },
    ],
  };
  return { tenants, cert, otherCert, expiredCert, futureCert, fedKey: fed.privateKey, fedKid };
}

/** An msal confidential client pointed at the emulator: authority, knownAuthorities, CA-trusting network client. */
export function msalClient(
  em: Emulator,
  auth: Omit<Configuration["auth"], "authority" | "knownAuthorities">,
  tenant = TENANT,
): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: { ...auth, authority: em.authority(tenant), knownAuthorities: [new URL(em.httpsOrigin).host] },
    system: { networkClient: createMsalNetworkClient({ ca: em.caCertPem }) },
  });
}

/** Signs a certificate client assertion; every claim and header can be overridden. */
export async function certAssertion(
  em: Emulator,
  cert: TestCertificate,
  o: {
    claims?: Record<string, unknown>;
    header?: Record<string, unknown>;
    alg?: "PS256" | "RS256" | "RS384" | "RS512";
    nowSec?: number;
  } = {},
): Promise<string> {
  const now = o.nowSec ?? Math.floor(Date.now() / 1000);
  const alg = o.alg ?? "PS256";
  return new SignJWT({
    aud: em.tokenEndpoint(TENANT),
    iss: CLIENT,
    sub: CLIENT,
    jti: randomUUID(),
    nbf: now,
    exp: now + 600,
    ...o.claims,
  })
    .setProtectedHeader({
      alg,
      typ: "JWT",
      ...(alg === "PS256" ? { "x5t#S256": cert.thumbprintSha256Base64url } : { x5t: cert.thumbprintSha1Base64url }),
      ...o.header,
    })
    .sign(createPrivateKey(cert.keyPem));
}

/** A form for POST /{tenant}/oauth2/v2.0/token with a client secret; fields can be overridden. */
export const secretForm = (o: Record<string, string> = {}): Record<string, string> => ({
  grant_type: "client_credentials",
  client_id: CLIENT,
  client_secret: SECRET,
  scope: "api://broker/.default",
  ...o,
});

/** POSTs any body with any headers to a URL of the emulator. */
export async function postRaw(
  em: Emulator,
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const net = createMsalNetworkClient({ ca: em.caCertPem });
  return net.sendPostRequestAsync<Record<string, any>>(url, {
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
}

/** Signs an external OIDC token as the test CI issuer would. */
export async function federatedToken(
  f: Fixture,
  claims: Record<string, unknown> = {},
  key = f.fedKey,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: FED_ISSUER,
    sub: FED_SUBJECT,
    aud: "api://AzureADTokenExchange",
    iat: now,
    nbf: now,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg: "ES256", kid: f.fedKid, typ: "JWT" })
    .sign(key);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, any>;
}

/** POSTs a token request form straight to the emulator (for requests msal would never send). */
export async function postToken(em: Emulator, form: Record<string, string>, tenant = TENANT): Promise<RawResponse> {
  const net = createMsalNetworkClient({ ca: em.caCertPem });
  return net.sendPostRequestAsync<Record<string, any>>(em.tokenEndpoint(tenant), {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}

export async function get(em: Emulator, url: string): Promise<RawResponse> {
  return createMsalNetworkClient({ ca: em.caCertPem }).sendGetRequestAsync<Record<string, any>>(url);
}

export function certForm(
  assertion: string,
  scope = "api://broker/.default",
  clientId = CLIENT,
): Record<string, string> {
  return {
    grant_type: "client_credentials",
    client_id: clientId,
    scope,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  };
}

/** Asserts Entra's error shape: status, OAuth error, AADSTS code first in the description, trace ids. */
export function expectEntraError(
  r: RawResponse,
  status: number,
  error: string,
  code: number,
  text?: string | RegExp,
): void {
  expect({ status: r.status, error: r.body.error, codes: r.body.error_codes }).toEqual({
    status,
    error,
    codes: [code],
  });
  expect(r.body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
  if (typeof text === "string") expect(r.body.error_description).toContain(text);
  else if (text) expect(r.body.error_description).toMatch(text);
  expect(r.body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  expect(r.body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.body).not.toHaveProperty("access_token");
}
