import type { EntraConfig } from "./config.ts";
import { compactVerify, errors } from "jose";
import type { EntraKey, JwksCache, JwksProblem, KeepAlive } from "./jwks.ts";
import { parseCompactJws, type JwsProblem } from "./jws.ts";
import { GUID } from "./lib/syntax.ts";
import { err, ok, type Result } from "./result.ts";

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

export interface VerificationProblem {
  readonly reason: VerificationReason;
}

export type VerificationReason =
  | JwsProblem["reason"]
  | JwksProblem["reason"]
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
const ALLOWED_ALGS = ["RS256"] as const;
const CLIENT_AUTH = { "0": "public", "1": "secret", "2": "certificate" } as const;

/** Where Entra publishes the signing keys for a tenant. */
export function jwksUrl(entra: EntraConfig, tenantId: string): string {
  return `${entra.jwksOrigin}/${tenantId}/discovery/v2.0/keys`;
}

/** A verified caller, and the Entra key that vouched for it (a cached verification lives only while that key is published). */
export interface VerifiedToken {
  readonly caller: Caller;
  readonly keysUrl: string;
  readonly signedBy: EntraKey;
}

// jose checks the signature; it is given RS256 only, so no other algorithm (none, HS256 with the
// RSA key as secret…) reaches the crypto.
const VERIFY_OPTIONS = { algorithms: [...ALLOWED_ALGS] };

/** What the key resolver throws to stop jose before the crypto, with our own reason. */
class KeyRefused extends Error {
  readonly failure: VerificationProblem;
  constructor(failure: VerificationProblem) {
    super(failure.reason);
    this.failure = failure;
  }
}

export async function verifyEntraToken(
  token: string,
  entra: EntraConfig,
  jwks: JwksCache,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<VerifiedToken, VerificationProblem>> {
  // Own pre-crypto gate: jose accepts more spellings (base64url whitespace and trailing bits,
  // duplicate JSON members, a BOM) and ignores jku/jwk/x5u/x5c; garbage must stay cheap.
  const parsed = parseCompactJws(token, ALLOWED_ALGS);
  if (!parsed.ok) return parsed;
  const { header, kid, claims } = parsed.value;
  // Microsoft Graph tokens carry a header nonce and are not verifiable by design; never ours.
  if (Object.hasOwn(header, "nonce")) return err({ reason: "graph_token" });

  let signedBy: EntraKey | undefined;
  let keysUrl = "";
  const tid = claims.tid;
  const resolveKey = async (): Promise<CryptoKey> => {
    // The tenant decides which key URL is fetched, so it is checked before any fetch: a token
    // naming some other tenant must not make us talk to the network at all.
    if (typeof tid !== "string" || !entra.tenants.has(tid)) throw new KeyRefused({ reason: "tenant_not_allowed" });
    keysUrl = jwksUrl(entra, tid);
    const key = await jwks.getKey(keysUrl, kid, now * 1000, keepAlive);
    if (!key.ok) throw new KeyRefused(key.error);
    signedBy = key.value.key;
    return key.value.cryptoKey;
  };
  try {
    await compactVerify(token, resolveKey, VERIFY_OPTIONS);
  } catch (error) {
    return err(verificationFailure(error));
  }
  // The claims the gate parsed are the signed ones: jose verified the literal segments they came from.
  const caller = appOnlyCaller(claims, tid as string, entra, now);
  return caller.ok ? ok({ caller: caller.value, keysUrl, signedBy: signedBy! }) : caller;
}

function verificationFailure(error: unknown): VerificationProblem {
  if (error instanceof KeyRefused) return error.failure;
  if (error instanceof errors.JWSSignatureVerificationFailed) return { reason: "signature_invalid" };
  if (error instanceof errors.JOSEAlgNotAllowed) return { reason: "alg_not_allowed" };
  if (error instanceof errors.JWSInvalid) return { reason: "token_malformed" };
  throw error; // anything else is a bug, answered as a 500 at the top
}

// The Entra rules are our own: jose's claim checks accept an `aud` array that contains ours, know
// nothing of Entra's per-version issuers or app-only claims, and would blur the audit reasons.
function appOnlyCaller(
  claims: Readonly<Record<string, unknown>>,
  tid: string,
  entra: EntraConfig,
  now: number,
): Result<Caller, VerificationProblem> {
  const version = claims.ver;
  if (version !== "1.0" && version !== "2.0") return err({ reason: "version_unsupported" });
  const expectedIssuer = version === "2.0" ? `${entra.authorityHost}/${tid}/v2.0` : `${entra.v1IssuerHost}/${tid}/`;
  if (claims.iss !== expectedIssuer) return err({ reason: "issuer_mismatch" });
  // A single string only: an array would let a token meant for several APIs be replayed here.
  if (typeof claims.aud !== "string" || !entra.audiences.has(claims.aud)) return err({ reason: "audience_mismatch" });

  const { exp, iat, nbf } = claims;
  if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf)))
    return err({ reason: "time_claims_invalid" });
  const skew = entra.clockSkewSeconds;
  if (now >= exp + skew) return err({ reason: "token_expired" });
  if (nbf !== undefined && nbf > now + skew) return err({ reason: "token_not_yet_valid" });
  if (iat > now + skew) return err({ reason: "token_issued_in_future" });
  if (now - iat > entra.maxTokenAgeSeconds) return err({ reason: "token_too_old" });
  if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) return err({ reason: "token_lifetime_too_long" });

  // App-only: delegated tokens carry scp (a user is present); Microsoft's guidance is to check
  // idtyp == "app" before authorising by the client id.
  if (claims.scp !== undefined) return err({ reason: "not_app_only" });
  if (claims.idtyp === undefined) {
    // idtyp is optional and off by default; without it Microsoft's rule for app-only tokens is
    // no scp and oid == sub (the service principal is the subject).
    if (typeof claims.oid !== "string" || claims.oid !== claims.sub) return err({ reason: "idtyp_missing" });
  } else if (claims.idtyp !== "app") return err({ reason: "not_app_only" });

  const appId = version === "2.0" ? claims.azp : claims.appid;
  const acr = version === "2.0" ? claims.azpacr : claims.appidacr;
  if (typeof appId !== "string" || !GUID.test(appId)) return err({ reason: "client_id_missing" });
  // Own properties only: "constructor" or "__proto__" must not resolve through Object.prototype.
  const clientAuth =
    typeof acr === "string" && Object.hasOwn(CLIENT_AUTH, acr)
      ? CLIENT_AUTH[acr as keyof typeof CLIENT_AUTH]
      : undefined;
  if (!clientAuth) return err({ reason: "client_id_missing" });
  if (entra.requireCertificateClients && clientAuth !== "certificate")
    return err({ reason: "client_not_certificate_authenticated" });
  if (typeof claims.oid !== "string" || claims.oid.length === 0) return err({ reason: "object_id_missing" });

  const roles = claims.roles ?? [];
  if (
    !Array.isArray(roles) ||
    roles.length > MAX_ROLES ||
    !roles.every((r) => typeof r === "string" && r.length > 0 && r.length <= 256)
  ) {
    return err({ reason: "roles_malformed" });
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
