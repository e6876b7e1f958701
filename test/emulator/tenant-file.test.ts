// The tenant file is validated up front; each problem names the field at fault.
import { describe, expect, it } from "vitest";
import { parseTenantFile } from "../../emulator/tenant-file.ts";
import { startEmulator } from "../../emulator/index.ts";

const T = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const A = "11111111-1111-4111-8111-111111111111";
const B = "33333333-3333-4333-8333-333333333333";

function issues(input: unknown): string[] {
  const r = parseTenantFile(input);
  return r.ok ? [] : r.issues;
}

describe("parseTenantFile", () => {
  it("accepts a minimal tenant and defaults like Entra: v1 tokens, idtyp off, assertion reuse allowed, shared keys, derived SP object id", () => {
    const r = parseTenantFile({ tenants: [{ tenantId: T, apps: [{ appId: A, displayName: "a" }] }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const app = r.directory.byName.get(T)!.apps.get(A)!;
    expect(app).toMatchObject({ accessTokenVersion: 1, idtypClaim: false, appRoleAssignmentRequired: false });
    expect(app.servicePrincipalObjectId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.directory.byName.get(T)).toMatchObject({
      rejectReplayedAssertions: false,
      ownSigningKeys: false,
      tenantRegionScope: "NA",
    });
  });

  it.each([
    ["no tenants", {}, "tenants: must be a non-empty array"],
    ["a bad tenant id", { tenants: [{ tenantId: "contoso", apps: [] }] }, "tenants[0].tenantId: must be a GUID"],
    [
      "a bad app id",
      { tenants: [{ tenantId: T, apps: [{ appId: "x", displayName: "a" }] }] },
      "tenants[0].apps[0].appId: must be a GUID",
    ],
    [
      "a certificate that is not PEM",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              { appId: A, displayName: "a" },
              { appId: B, displayName: "b" },
              { appId: "44444444-4444-4444-8444-444444444444", displayName: "c", certificates: ["MIIB..."] },
            ],
          },
        ],
      },
      "tenants[0].apps[2].certificates[0]: not a PEM certificate",
    ],
    [
      "an unknown token version",
      { tenants: [{ tenantId: T, apps: [{ appId: A, displayName: "a", requestedAccessTokenVersion: 3 }] }] },
      "tenants[0].apps[0].requestedAccessTokenVersion: must be 1, 2 or null",
    ],
    [
      "a role assignment to an unknown role",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              { appId: A, displayName: "a" },
              {
                appId: B,
                displayName: "b",
                appRoles: [{ value: "R" }],
                appRoleAssignments: [{ clientAppId: A, roles: ["Nope"] }],
              },
            ],
          },
        ],
      },
      "tenants[0].apps[1].appRoleAssignments[0].roles[0]: 'Nope' is not one of this app's appRoles",
    ],
    [
      "a role assignment to an unknown client",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              {
                appId: B,
                displayName: "b",
                appRoles: [{ value: "R" }],
                appRoleAssignments: [{ clientAppId: A, roles: ["R"] }],
              },
            ],
          },
        ],
      },
      "tenants[0].apps[0].appRoleAssignments[0].clientAppId: must be the appId of an app in this tenant",
    ],
    [
      "a federated credential without keys",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              {
                appId: A,
                displayName: "a",
                federatedCredentials: [{ name: "ci", issuer: "https://ci.example", subject: "s", jwks: { keys: [] } }],
              },
            ],
          },
        ],
      },
      "tenants[0].apps[0].federatedCredentials[0].jwks: must be a JWK set",
    ],
    [
      "a private key in a federated JWKS",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              {
                appId: A,
                displayName: "a",
                federatedCredentials: [
                  {
                    name: "ci",
                    issuer: "https://ci.example",
                    subject: "s",
                    jwks: { keys: [{ kty: "EC", d: "secret" }] },
                  },
                ],
              },
            ],
          },
        ],
      },
      "tenants[0].apps[0].federatedCredentials[0].jwks: must be a JWK set",
    ],
    [
      "the same identifier URI on two apps",
      {
        tenants: [
          {
            tenantId: T,
            apps: [
              { appId: A, displayName: "a", identifierUris: ["api://x"] },
              { appId: B, displayName: "b", identifierUris: ["api://x"] },
            ],
          },
        ],
      },
      "tenants[0].apps: identifier 'api://x' is used by two apps",
    ],
    [
      "the same tenant twice",
      {
        tenants: [
          { tenantId: T, apps: [] },
          { tenantId: T, apps: [] },
        ],
      },
      `tenants[1]: tenant name '${T}' is used twice`,
    ],
  ])("reports %s", (_name, input, expected) => {
    expect(issues(input).some((i) => i.startsWith(expected))).toBe(true);
  });

  it("makes startEmulator fail with every issue listed", async () => {
    await expect(
      startEmulator({ tenants: { tenants: [{ tenantId: "bad", apps: [{ appId: "x", displayName: "" }] }] } as never }),
    ).rejects.toThrow(/tenants\[0\]\.tenantId: must be a GUID[\s\S]*tenants\[0\]\.apps\[0\]\.appId[\s\S]*displayName/);
  });
});
