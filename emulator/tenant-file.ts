// The tenant file: app registrations of one or more emulated tenants, as JSON. Parsed once into a
// frozen Directory; every problem is reported with the path of the field at fault.
import { createHash, X509Certificate, type KeyObject } from "node:crypto";
import { createLocalJWKSet, type JSONWebKeySet } from "jose";

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
  /** Reject a client assertion whose jti was already used (default true). See README. */
  rejectReplayedAssertions?: boolean;
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
  /** Resource side: optional claims; `idtyp` (default true) adds `idtyp: "app"` to app-only tokens. */
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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a parsed JSON value as a tenant file. Issues name the field: `tenants[0].apps[2].certificates[0]: ...`. */
export function parseTenantFile(input: unknown): TenantFileResult {
  const issues: string[] = [];
  const fail: Fail = Object.assign((path: string, msg: string) => void issues.push(`${path}: ${msg}`), { issues });
  if (!isObject(input) || !Array.isArray(input.tenants) || input.tenants.length === 0) {
    return { ok: false, issues: ["tenants: must be a non-empty array"] };
  }
  const tenants: Tenant[] = [];
  const byName = new Map<string, Tenant>();
  input.tenants.forEach((raw: unknown, ti: number) => {
    const tp = `tenants[${ti}]`;
    const tenant = parseTenant(raw, tp, fail);
    if (!tenant) return;
    for (const name of [tenant.tenant.tenantId, ...tenant.domains]) {
      const key = name.toLowerCase();
      if (byName.has(key)) fail(tp, `tenant name '${name}' is used twice`);
      byName.set(key, tenant.tenant);
    }
    tenants.push(tenant.tenant);
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, directory: Object.freeze({ tenants: Object.freeze(tenants), byName }) };
}

interface Fail {
  (path: string, msg: string): void;
  readonly issues: readonly string[];
}

function parseTenant(raw: unknown, tp: string, fail: Fail): { tenant: Tenant; domains: string[] } | undefined {
  if (!isObject(raw)) return void fail(tp, "must be an object");
  const tenantId = raw.tenantId;
  if (typeof tenantId !== "string" || !GUID.test(tenantId)) fail(`${tp}.tenantId`, "must be a GUID");
  const domains = optionalStringArray(raw.domains, `${tp}.domains`, fail) ?? [];
  if (raw.rejectReplayedAssertions !== undefined && typeof raw.rejectReplayedAssertions !== "boolean") {
    fail(`${tp}.rejectReplayedAssertions`, "must be a boolean");
  }
  if (!Array.isArray(raw.apps)) return void fail(`${tp}.apps`, "must be an array");
  const apps = new Map<string, App>();
  const rawApps: unknown[] = raw.apps;
  const appIds = new Set(rawApps.map((a) => (isObject(a) && typeof a.appId === "string" ? a.appId.toLowerCase() : "")));
  rawApps.forEach((rawApp, ai) => {
    const app = parseApp(rawApp, `${tp}.apps[${ai}]`, String(tenantId), appIds, fail);
    if (!app) return;
    if (apps.has(app.appId)) fail(`${tp}.apps[${ai}].appId`, `'${app.appId}' is registered twice`);
    apps.set(app.appId, app);
  });
  const resources = new Map<string, App>();
  for (const app of apps.values()) {
    for (const id of [app.appId, ...app.identifierUris]) {
      const key = id.toLowerCase();
      const other = resources.get(key);
      if (other && other !== app) fail(`${tp}.apps`, `identifier '${id}' is used by two apps`);
      resources.set(key, app);
    }
  }
  if (typeof tenantId !== "string") return undefined;
  const tenant: Tenant = Object.freeze({
    tenantId: tenantId.toLowerCase(),
    displayName: typeof raw.displayName === "string" ? raw.displayName : tenantId,
    rejectReplayedAssertions: raw.rejectReplayedAssertions !== false,
    apps,
    resources,
  });
  return { tenant, domains };
}

function parseApp(raw: unknown, ap: string, tenantId: string, appIds: Set<string>, fail: Fail): App | undefined {
  if (!isObject(raw)) return void fail(ap, "must be an object");
  const before = issuesCount(fail);
  const appId = typeof raw.appId === "string" && GUID.test(raw.appId) ? raw.appId.toLowerCase() : undefined;
  if (!appId) fail(`${ap}.appId`, "must be a GUID");
  if (typeof raw.displayName !== "string" || raw.displayName === "")
    fail(`${ap}.displayName`, "must be a non-empty string");
  const spOid = raw.servicePrincipalObjectId;
  if (spOid !== undefined && (typeof spOid !== "string" || !GUID.test(spOid)))
    fail(`${ap}.servicePrincipalObjectId`, "must be a GUID");
  const certificates = (optionalArray(raw.certificates, `${ap}.certificates`, fail) ?? []).flatMap((pem, i) => {
    const cert = parseCertificate(pem);
    if (!cert) fail(`${ap}.certificates[${i}]`, "not a PEM certificate");
    return cert ? [cert] : [];
  });
  const secrets = optionalStringArray(raw.secrets, `${ap}.secrets`, fail) ?? [];
  secrets.forEach((s, i) => s === "" && fail(`${ap}.secrets[${i}]`, "must not be empty"));
  const federatedCredentials = (
    optionalArray(raw.federatedCredentials, `${ap}.federatedCredentials`, fail) ?? []
  ).flatMap((fc, i) => parseFederatedCredential(fc, `${ap}.federatedCredentials[${i}]`, fail) ?? []);
  const identifierUris = optionalStringArray(raw.identifierUris, `${ap}.identifierUris`, fail) ?? [];
  identifierUris.forEach((u, i) => {
    if (!URL.canParse(u) || u.endsWith("/"))
      fail(`${ap}.identifierUris[${i}]`, "must be an absolute URI without a trailing slash");
  });
  const version = raw.requestedAccessTokenVersion ?? 1;
  if (version !== 1 && version !== 2) fail(`${ap}.requestedAccessTokenVersion`, "must be 1, 2 or null");
  const roleValues = new Set<string>();
  (optionalArray(raw.appRoles, `${ap}.appRoles`, fail) ?? []).forEach((r, i) => {
    if (!isObject(r) || typeof r.value !== "string" || r.value === "")
      return fail(`${ap}.appRoles[${i}].value`, "must be a non-empty string");
    roleValues.add(r.value);
  });
  const roleAssignments = new Map<string, string[]>();
  (optionalArray(raw.appRoleAssignments, `${ap}.appRoleAssignments`, fail) ?? []).forEach((a, i) => {
    const p = `${ap}.appRoleAssignments[${i}]`;
    if (!isObject(a) || typeof a.clientAppId !== "string" || !appIds.has(a.clientAppId.toLowerCase())) {
      return fail(`${p}.clientAppId`, "must be the appId of an app in this tenant");
    }
    const roles = optionalStringArray(a.roles, `${p}.roles`, fail) ?? [];
    roles.forEach((r, j) => !roleValues.has(r) && fail(`${p}.roles[${j}]`, `'${r}' is not one of this app's appRoles`));
    const key = a.clientAppId.toLowerCase();
    roleAssignments.set(key, [...new Set([...(roleAssignments.get(key) ?? []), ...roles])]);
  });
  for (const flag of ["appRoleAssignmentRequired"] as const) {
    if (raw[flag] !== undefined && typeof raw[flag] !== "boolean") fail(`${ap}.${flag}`, "must be a boolean");
  }
  const optional = raw.optionalClaims;
  if (
    optional !== undefined &&
    (!isObject(optional) || (optional.idtyp !== undefined && typeof optional.idtyp !== "boolean"))
  ) {
    fail(`${ap}.optionalClaims`, 'must be an object like { "idtyp": true }');
  }
  if (issuesCount(fail) !== before || !appId) return undefined;
  return Object.freeze({
    appId,
    displayName: String(raw.displayName),
    servicePrincipalObjectId:
      typeof spOid === "string" ? spOid.toLowerCase() : derivedGuid(`sp:${tenantId.toLowerCase()}:${appId}`),
    certificates,
    secrets,
    federatedCredentials,
    identifierUris,
    accessTokenVersion: version === 2 ? 2 : 1,
    appRoleAssignmentRequired: raw.appRoleAssignmentRequired === true,
    idtypClaim: !(isObject(optional) && optional.idtyp === false),
    roleAssignments,
  });
}

function parseFederatedCredential(raw: unknown, p: string, fail: Fail): ParsedFederatedCredential | undefined {
  if (!isObject(raw)) return void fail(p, "must be an object");
  let ok = true;
  const need = (field: string, valid: boolean, msg: string) => {
    if (!valid) {
      ok = false;
      fail(`${p}.${field}`, msg);
    }
  };
  need("name", typeof raw.name === "string" && raw.name !== "", "must be a non-empty string");
  need("issuer", typeof raw.issuer === "string" && URL.canParse(raw.issuer), "must be an absolute URL");
  need("subject", typeof raw.subject === "string" && raw.subject !== "", "must be a non-empty string");
  const audiences = optionalStringArray(raw.audiences, `${p}.audiences`, fail) ?? [FEDERATED_DEFAULT_AUDIENCE];
  need("audiences", audiences.length > 0, "must not be empty");
  const jwks = raw.jwks;
  const validJwks =
    isObject(jwks) &&
    Array.isArray(jwks.keys) &&
    jwks.keys.length > 0 &&
    jwks.keys.every((k: unknown) => isObject(k) && typeof k.kty === "string" && !("d" in k));
  need("jwks", validJwks, 'must be a JWK set { "keys": [...] } of public keys');
  if (!ok) return undefined;
  return Object.freeze({
    name: String(raw.name),
    issuer: String(raw.issuer),
    subject: String(raw.subject),
    audiences,
    keys: createLocalJWKSet(jwks as unknown as JSONWebKeySet),
  });
}

function parseCertificate(pem: unknown): RegisteredCertificate | undefined {
  if (typeof pem !== "string" || !pem.includes("-----BEGIN CERTIFICATE-----")) return undefined;
  try {
    const cert = new X509Certificate(pem);
    return Object.freeze({
      publicKey: cert.publicKey,
      x5t: createHash("sha1").update(cert.raw).digest("base64url"),
      x5tS256: createHash("sha256").update(cert.raw).digest("base64url"),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
    });
  } catch {
    return undefined;
  }
}

/** A stable GUID-shaped id from a seed, so the same tenant file always yields the same object ids. */
export function derivedGuid(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalArray(v: unknown, path: string, fail: Fail): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return void fail(path, "must be an array");
  return v;
}

function optionalStringArray(v: unknown, path: string, fail: Fail): string[] | undefined {
  const arr = optionalArray(v, path, fail);
  if (!arr) return undefined;
  arr.forEach((s, i) => typeof s !== "string" && fail(`${path}[${i}]`, "must be a string"));
  return arr.filter((s): s is string => typeof s === "string");
}

function issuesCount(fail: Fail): number {
  return fail.issues.length;
}
