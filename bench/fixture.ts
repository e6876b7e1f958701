import {
  createTestCertificate,
  startEmulator,
  type Emulator,
  type TenantFile,
  type TestCertificate,
} from "../emulator/index.ts";
import { CLIENT_APP_ID, CLIENT_ROLE, SCOPE } from "./policy-shape.ts";

export { CLIENT_APP_ID, SCOPE };

// The identities every benchmark uses: one tenant, the broker's API registration (v2 tokens,
// idtyp on) and one calling service with a certificate, the way a real deployment looks.

export const TENANT_ID = "6d1f0e2c-3b4a-4c5d-8e6f-7a8b9c0d1e2f";
export const BROKER_API_APP_ID = "c8f1d2e3-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
export const BROKER_APP_ID_URI = "api://identity-broker-bench";

export interface Fixture {
  readonly emulator: Emulator;
  readonly clientCertificate: TestCertificate;
  /** A fresh Entra-shaped app-only token, signed by the emulator (RS256, ~1 ms each). */
  issueToken(): Promise<string>;
  close(): Promise<void>;
}

export async function startFixture(stateDir: string): Promise<Fixture> {
  const clientCertificate = await createTestCertificate("CN=bench-client");
  const tenants: TenantFile = {
    tenants: [
      {
        tenantId: TENANT_ID,
        displayName: "Bench",
        apps: [
          { appId: CLIENT_APP_ID, displayName: "bench-client", certificates: [clientCertificate.certPem] },
          {
            appId: BROKER_API_APP_ID,
            displayName: "identity-broker",
            identifierUris: [BROKER_APP_ID_URI],
            requestedAccessTokenVersion: 2,
            appRoles: [{ value: CLIENT_ROLE }],
            appRoleAssignments: [{ clientAppId: CLIENT_APP_ID, roles: [CLIENT_ROLE] }],
            optionalClaims: { idtyp: true },
          },
        ],
      },
    ],
  } as TenantFile;
  const emulator = await startEmulator({ tenants, httpPort: 0, stateDir });
  return {
    emulator,
    clientCertificate,
    issueToken: async () =>
      (await emulator.issueToken({ tenantId: TENANT_ID, clientId: CLIENT_APP_ID, resource: BROKER_APP_ID_URI }))
        .access_token,
    close: () => emulator.close(),
  };
}

/** The broker's Entra settings for the fixture's tenant (JWKS from the emulator's loopback http listener). */
export function entraVars(emulator: Emulator): Record<string, string> {
  return {
    ENTRA_AUTHORITY_HOST: emulator.httpsOrigin,
    ENTRA_V1_ISSUER_HOST: emulator.v1IssuerHost,
    ENTRA_JWKS_ORIGIN: emulator.httpOrigin!,
    ENTRA_TENANT_IDS: TENANT_ID,
    ENTRA_AUDIENCES: `${BROKER_APP_ID_URI},${BROKER_API_APP_ID}`,
  };
}

/** The RFC 8693 form the benchmarks post. */
export function exchangeForm(subjectToken: string, resource: string): string {
  return new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    subject_token: subjectToken,
    resource,
    scope: SCOPE,
  }).toString();
}
