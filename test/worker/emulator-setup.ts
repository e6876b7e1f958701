import { createPrivateKey } from "node:crypto";
import type { TestProject } from "vitest/node";
import { createTestCertificate, startEmulator, type TenantFile } from "../../emulator/index.ts";

// Runs in Node before the workerd tests: the Entra ID emulator, so that the broker is also tested
// against tokens from a real token endpoint (not only tokens the tests shape themselves).
// Tests in workerd reach it over its loopback HTTP listener, as the broker does for keys.

export const EMULATOR_FIXTURE = {
  tenantId: "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c",
  apiV2: { appId: "a2a2a2a2-0000-4000-8000-000000000002", uri: "api://broker-v2" },
  apiV1: { appId: "a1a1a1a1-0000-4000-8000-000000000001", uri: "api://broker-v1" },
  /** An API that has not enabled the optional idtyp claim (the default for a new app registration). */
  apiNoIdtyp: { appId: "a3a3a3a3-0000-4000-8000-000000000003", uri: "api://broker-no-idtyp" },
  certClient: "c0c0c0c0-0000-4000-8000-00000000000c",
  secretClient: "5e5e5e5e-0000-4000-8000-000000000005",
  unassignedClient: "0e0e0e0e-0000-4000-8000-00000000000e",
  secret: "emulator-test-secret",
} as const;

export default async function setup(project: TestProject) {
  const f = EMULATOR_FIXTURE;
  const cert = await createTestCertificate("CN=broker-test-client");
  const roles = [{ value: "Inventory.Read" }];
  const assignments = [f.certClient, f.secretClient].map((clientAppId) => ({ clientAppId, roles: ["Inventory.Read"] }));
  const tenants: TenantFile = {
    tenants: [
      {
        tenantId: f.tenantId,
        apps: [
          { appId: f.certClient, displayName: "cert-client", certificates: [cert.certPem] },
          { appId: f.secretClient, displayName: "secret-client", secrets: [f.secret] },
          { appId: f.unassignedClient, displayName: "unassigned-client", secrets: [f.secret] },
          {
            appId: f.apiV2.appId,
            displayName: "broker-v2",
            identifierUris: [f.apiV2.uri],
            requestedAccessTokenVersion: 2,
            appRoles: roles,
            appRoleAssignments: assignments,
            // idtyp is an opt-in optional claim in Entra: these APIs enable it.
            optionalClaims: { idtyp: true },
          },
          {
            appId: f.apiNoIdtyp.appId,
            displayName: "broker-no-idtyp",
            identifierUris: [f.apiNoIdtyp.uri],
            requestedAccessTokenVersion: 2,
            appRoles: roles,
            appRoleAssignments: assignments,
            optionalClaims: { idtyp: false },
          },
          {
            appId: f.apiV1.appId,
            displayName: "broker-v1",
            identifierUris: [f.apiV1.uri],
            requestedAccessTokenVersion: 1,
            appRoles: roles,
            appRoleAssignments: assignments,
            optionalClaims: { idtyp: true },
          },
        ],
      },
    ],
  };
  const emulator = await startEmulator({ tenants, httpsPort: 0, httpPort: 0 });
  project.provide(
    "emulator",
    JSON.stringify({
      ...f,
      httpsOrigin: emulator.httpsOrigin,
      httpOrigin: emulator.httpOrigin,
      v1IssuerHost: emulator.v1IssuerHost,
      certKeyJwk: createPrivateKey(cert.keyPem).export({ format: "jwk" }),
      certX5tS256: cert.thumbprintSha256Base64url,
    }),
  );
  const faults = await startFaultEmulator();
  project.provide("faultEmulator", JSON.stringify(faults.info));
  return () => Promise.all([emulator.close(), faults.emulator.close()]);
}

/**
 * A second emulator for tests that switch faults on and roll keys (test/worker/emulator-faults.test.ts),
 * so nothing they do reaches the tests above. One tenant per test (each with keys of its own, so
 * each has its own key set URL and broker cache entry); tokens live 3 hours so that tests can move
 * the broker's clock past the key set's freshness without the token expiring.
 */
export const FAULT_TENANTS = [
  "fa000001-0000-4000-8000-000000000001",
  "fa000002-0000-4000-8000-000000000002",
  "fa000003-0000-4000-8000-000000000003",
] as const;

async function startFaultEmulator() {
  const f = EMULATOR_FIXTURE;
  const tenants: TenantFile = {
    tenants: FAULT_TENANTS.map((tenantId) => ({
      tenantId,
      signingKeys: "tenant" as const,
      apps: [
        { appId: f.secretClient, displayName: "secret-client", secrets: [f.secret] },
        {
          appId: f.apiV2.appId,
          displayName: "broker-v2",
          identifierUris: [f.apiV2.uri],
          requestedAccessTokenVersion: 2 as const,
          appRoles: [{ value: "Inventory.Read" }],
          appRoleAssignments: [{ clientAppId: f.secretClient, roles: ["Inventory.Read"] }],
          optionalClaims: { idtyp: true },
        },
      ],
    })),
  };
  const emulator = await startEmulator({ tenants, httpsPort: 0, httpPort: 0, tokenLifetimeSeconds: 3 * 3600 });
  const info = {
    tenants: FAULT_TENANTS,
    apiV2: f.apiV2,
    secretClient: f.secretClient,
    secret: f.secret,
    httpsOrigin: emulator.httpsOrigin,
    httpOrigin: emulator.httpOrigin,
    v1IssuerHost: emulator.v1IssuerHost,
  };
  return { emulator, info };
}
