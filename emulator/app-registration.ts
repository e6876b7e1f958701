// One app registration of the tenant file: credentials (certificates, secrets, federated), and the
// resource side (identifier URIs, token version, roles, optional claims).
import { createHash, X509Certificate } from "node:crypto";
import { createLocalJWKSet, type JSONWebKeySet } from "jose";
import {
  FEDERATED_DEFAULT_AUDIENCE,
  type App,
  type ParsedFederatedCredential,
  type RegisteredCertificate,
} from "./tenant-model.ts";
import {
  derivedGuid,
  GUID,
  isObject,
  issuesCount,
  optionalArray,
  optionalStringArray,
  type Fail,
} from "./json-fields.ts";

export function parseApp(raw: unknown, ap: string, tenantId: string, appIds: Set<string>, fail: Fail): App | undefined {
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
    // Off unless the API's registration opts in, as in Entra (an optional claim of the resource app).
    idtypClaim: isObject(optional) && optional.idtyp === true,
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
