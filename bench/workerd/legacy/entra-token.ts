import type { EntraConfig } from "../../../worker/config.ts";
import type { JwksCache, JwksProblem } from "./jwks.ts";
import { parseCompactJws, type JwsProblem } from "./jws.ts";
import { err, ok, type Result } from "../../../worker/result.ts";

// Verifies an Entra ID app-only access token and turns it into a Caller. Raw claims stop here:
// every later stage sees only the normalised Caller.

export interface Caller {
  readonly tenantId: string;
  /** The client application's id: `azp` (v2.0) or `appid` (v1.0). */
  readonly appId: string;
  /** The client's service principal object id. */
  readonly objectId: string;
  readonly roles: readonly string[];
  readonly tokenVersion: "1.0" | "2.0";
  readonly clientAuth: "secret" | "certificate" | "public";
  /** Unix seconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export type VerificationProblem =
  | JwsProblem
  | JwksProblem
  | "graph_token"
  | "signature_invalid"
  | "version_unsupported"
  | "tenant_not_allowed"
  | "issuer_mismatch"
  | "audience_mismatch"
  | "time_claims_invalid"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_issued_in_future"
  | "token_too_old"
  | "token_lifetime_too_long"
  | "not_app_only"
  | "idtyp_missing"
  | "client_id_missing"
  | "client_not_certificate_authenticated"
  | "roles_malformed"
  | "object_id_missing";

/** Entra access tokens live 60-90 minutes by default and at most ~28 h (CAE); longer is forged or not Entra's. */
const MAX_TOKEN_LIFETIME_SECONDS = 28 * 60 * 60;
/** Bounds work and audit size for a token that lists absurdly many roles. */
const MAX_ROLES = 256;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALLOWED_ALGS = ["RS256"] as const;
const CLIENT_AUTH = { "0": "public", "1": "secret", "2": "certificate" } as const;

/** Where Entra publishes the signing keys for a tenant. */
export function jwksUrl(entra: EntraConfig, tenantId: string): string {
  return `${entra.jwksOrigin}/${tenantId}/discovery/v2.0/keys`;
}

export async function verifyEntraToken(
  token: string,
  entra: EntraConfig,
  jwks: JwksCache,
  now: number,
): Promise<Result<Caller, VerificationProblem>> {
  const parsed = parseCompactJws(token, ALLOWED_ALGS);
  if (!parsed.ok) return parsed;
  const { header, kid, claims, signingInput, signature } = parsed.value;
  // Microsoft Graph tokens carry a header nonce and are not verifiable by design; never ours.
  if (Object.hasOwn(header, "nonce")) return err("graph_token");

  // The tenant decides which key URL is fetched, so it is checked before any fetch: a token
  // naming some other tenant must not make us talk to the network at all.
  const tid = claims.tid;
  if (typeof tid !== "string" || !entra.tenants.has(tid)) return err("tenant_not_allowed");

  const key = await jwks.getKey(jwksUrl(entra, tid), kid, now * 1000);
  if (!key.ok) return key;
  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key.value, signature, signingInput);
  if (!valid) return err("signature_invalid");

  const version = claims.ver;
  if (version !== "1.0" && version !== "2.0") return err("version_unsupported");
  const expectedIssuer = version === "2.0" ? `${entra.authorityHost}/${tid}/v2.0` : `${entra.v1IssuerHost}/${tid}/`;
  if (claims.iss !== expectedIssuer) return err("issuer_mismatch");
  // A single string only: an array would let a token meant for several APIs be replayed here.
  if (typeof claims.aud !== "string" || !entra.audiences.has(claims.aud)) return err("audience_mismatch");

  const { exp, iat, nbf } = claims;
  if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf))) return err("time_claims_invalid");
  const skew = entra.clockSkewSeconds;
  if (now >= exp + skew) return err("token_expired");
  if (nbf !== undefined && nbf > now + skew) return err("token_not_yet_valid");
  if (iat > now + skew) return err("token_issued_in_future");
  if (now - iat > entra.maxTokenAgeSeconds) return err("token_too_old");
  if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) return err("token_lifetime_too_long");

  // App-only: delegated tokens carry scp (a user is present); Microsoft's guidance is to check
  // idtyp == "app" before authorising by the client id.
  if (claims.scp !== undefined) return err("not_app_only");
  if (claims.idtyp === undefined) return err("idtyp_missing");
  if (claims.idtyp !== "app") return err("not_app_only");

  const appId = version === "2.0" ? claims.azp : claims.appid;
  const acr = version === "2.0" ? claims.azpacr : claims.appidacr;
  if (typeof appId !== "string" || !GUID.test(appId)) return err("client_id_missing");
  // Own properties only: "constructor" or "__proto__" must not resolve through Object.prototype.
  const clientAuth =
    typeof acr === "string" && Object.hasOwn(CLIENT_AUTH, acr)
      ? CLIENT_AUTH[acr as keyof typeof CLIENT_AUTH]
      : undefined;
  if (!clientAuth) return err("client_id_missing");
  if (entra.requireCertificateClients && clientAuth !== "certificate")
    return err("client_not_certificate_authenticated");
  if (typeof claims.oid !== "string" || claims.oid.length === 0) return err("object_id_missing");

  const roles = claims.roles ?? [];
  if (
    !Array.isArray(roles) ||
    roles.length > MAX_ROLES ||
    !roles.every((r) => typeof r === "string" && r.length > 0 && r.length <= 256)
  ) {
    return err("roles_malformed");
  }

  return ok({
    tenantId: tid,
    appId,
    objectId: claims.oid,
    roles: roles as string[],
    tokenVersion: version,
    clientAuth,
    issuedAt: iat,
    expiresAt: exp,
  });
}

/** NumericDate (RFC 7519 §2): a finite number of seconds, within a sane range. */
function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 && value < 1e11;
}
