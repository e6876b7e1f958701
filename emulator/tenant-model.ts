// The tenant file's format (what operators write, as JSON) and the parsed, validated model the
// emulator runs on. Parsing lives in tenant-file.ts and app-registration.ts.
import type { KeyObject } from "node:crypto";
import type { createLocalJWKSet, JSONWebKeySet } from "jose";

/** The audience Entra requires in federated (workload identity) assertions by default. */
export const FEDERATED_DEFAULT_AUDIENCE = "api://AzureADTokenExchange";

export interface TenantFile {
  tenants: TenantConfig[];
}

export interface TenantConfig {
  /** Directory (tenant) id, a GUID. */
  tenantId: string;
  displayName?: string;
  /** Other names the tenant answers to in paths, like "contoso.onmicrosoft.com". */
  domains?: string[];
  /** Refuse a client assertion whose jti was already used (default false: Entra accepts reuse). */
  rejectReplayedAssertions?: boolean;
  /** `tenant_region_scope` of the tenant's discovery documents (default "NA"). */
  tenantRegionScope?: string;
  /** "shared" (default): the keys every tenant uses; "tenant": keys of its own, with a fixed issuer. */
  signingKeys?: "shared" | "tenant";
  apps: AppRegistration[];
}

/** One app registration (and its service principal): a client, a resource (API), or both. */
export interface AppRegistration {
  /** Application (client) id, a GUID. */
  appId: string;
  displayName: string;
  /** Object id of the app's service principal: the `oid`/`sub` of its tokens. Default: derived from tenantId + appId. */
  servicePrincipalObjectId?: string;
  /** Client credentials: PEM X.509 certificates whose private keys sign client assertions. */
  certificates?: string[];
  /** Client credentials: client secret values. */
  secrets?: string[];
  /** Client credentials: trusted external OIDC issuers (workload identity federation). */
  federatedCredentials?: FederatedCredential[];
  /** Resource side: application ID URIs, like "api://broker". The appId always identifies it too. */
  identifierUris?: string[];
  /** Resource side: access token version for this API (manifest `requestedAccessTokenVersion`; null/absent = 1, like Entra). */
  requestedAccessTokenVersion?: 1 | 2 | null;
  /** Resource side: app roles the API defines. */
  appRoles?: AppRole[];
  /** Resource side: refuse tokens to clients without a role assignment (AADSTS501051). */
  appRoleAssignmentRequired?: boolean;
  /** Resource side: which client apps hold which of this API's roles. */
  appRoleAssignments?: AppRoleAssignment[];
  /** Resource side: optional claims; `idtyp: true` adds `idtyp: "app"` to app-only tokens (off by default, like Entra). */
  optionalClaims?: { idtyp?: boolean };
}

export interface AppRole {
  value: string;
  id?: string;
}

export interface AppRoleAssignment {
  clientAppId: string;
  roles: string[];
}

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  /** Default ["api://AzureADTokenExchange"]. */
  audiences?: string[];
  /** The issuer's signing keys, inline as a JWK set. */
  jwks: JSONWebKeySet;
}

// ---- the parsed, validated model --------------------------------------------------------------

export interface Directory {
  readonly tenants: readonly Tenant[];
  /** By tenant id (lower case) and by domain (lower case). */
  readonly byName: ReadonlyMap<string, Tenant>;
}

export interface Tenant {
  readonly tenantId: string;
  readonly displayName: string;
  readonly rejectReplayedAssertions: boolean;
  readonly tenantRegionScope: string;
  readonly ownSigningKeys: boolean;
  readonly apps: ReadonlyMap<string, App>;
  /** Resource identifiers (appId, identifier URIs; lower case) to the resource app. */
  readonly resources: ReadonlyMap<string, App>;
}

export interface App {
  readonly appId: string;
  readonly displayName: string;
  readonly servicePrincipalObjectId: string;
  readonly certificates: readonly RegisteredCertificate[];
  readonly secrets: readonly string[];
  readonly federatedCredentials: readonly ParsedFederatedCredential[];
  readonly identifierUris: readonly string[];
  readonly accessTokenVersion: 1 | 2;
  readonly appRoleAssignmentRequired: boolean;
  readonly idtypClaim: boolean;
  /** Client appId to the role values it holds on this app. */
  readonly roleAssignments: ReadonlyMap<string, readonly string[]>;
}

export interface RegisteredCertificate {
  readonly publicKey: KeyObject;
  readonly x5t: string;
  readonly x5tS256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ParsedFederatedCredential {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
  readonly keys: ReturnType<typeof createLocalJWKSet>;
}

export type TenantFileResult = { ok: true; directory: Directory } | { ok: false; issues: string[] };
