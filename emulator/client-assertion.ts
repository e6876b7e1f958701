// Certificate credentials: a client assertion (RFC 7523 §2.2) signed with the private key of a
// certificate registered on the app, found by its `x5t#S256` or `x5t` header.
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { entraErrors, type EntraError } from "./errors.ts";
import type { App } from "./tenant-file.ts";
import type { ReplayCache } from "./replay-cache.ts";

/** Largest client_assertion accepted: an x5c chain of a few certificates fits; megabyte JWTs do not. */
export const ASSERTION_MAX_CHARS = 16 * 1024;
/** Clock skew Entra tolerates on assertion nbf/exp (5 minutes). */
export const ASSERTION_CLOCK_SKEW_SECONDS = 300;
/** The algorithms Entra accepts for certificate assertions (anything else: AADSTS5002738). */
export const CERT_ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256"] as const;

export type Result<T> = { ok: true; value: T } | { ok: false; error: EntraError };

export interface DecodedAssertion {
  readonly raw: string;
  readonly header: ProtectedHeaderParameters;
  readonly payload: JWTPayload;
}

/** Reads header and claims without trusting them; a token that is not a JWS JWT is malformed (AADSTS50027). */
export function decodeAssertion(raw: string): Result<DecodedAssertion> {
  if (raw.length > ASSERTION_MAX_CHARS) return { ok: false, error: entraErrors.assertionMalformed() };
  try {
    return { ok: true, value: { raw, header: decodeProtectedHeader(raw), payload: decodeJwt(raw) } };
  } catch {
    return { ok: false, error: entraErrors.assertionMalformed() };
  }
}

export interface CertificateAssertionContext {
  readonly client: App;
  /** Token endpoint URLs the `aud` may name (the tenant by id or domain, over either listener). */
  readonly audiences: ReadonlySet<string>;
  readonly nowSec: number;
  /** Undefined when the tenant allows assertion reuse. */
  readonly replayCache: ReplayCache | undefined;
}

export async function verifyCertificateAssertion(
  a: DecodedAssertion,
  ctx: CertificateAssertionContext,
): Promise<Result<void>> {
  const { client, nowSec } = ctx;
  const alg = String(a.header.alg);
  if (!(CERT_ASSERTION_ALGS as readonly string[]).includes(alg))
    return { ok: false, error: entraErrors.assertionAlgorithmUnsupported(alg, CERT_ASSERTION_ALGS) };
  const s256 = a.header["x5t#S256"];
  const s1 = a.header.x5t;
  if (typeof s256 !== "string" && typeof s1 !== "string")
    return { ok: false, error: entraErrors.assertionThumbprintMissing() };
  for (const field of ["iss", "aud"] as const) {
    if (a.payload[field] === undefined) return { ok: false, error: entraErrors.assertionFieldMissing(field) };
  }
  const cert = client.certificates.find(
    (c) => (typeof s256 === "string" && c.x5tS256 === s256) || (typeof s1 === "string" && c.x5t === s1),
  );
  const thumbprint = thumbprintHex(s256 ?? s1);
  if (!cert) return { ok: false, error: entraErrors.assertionKeyNotFound(thumbprint, client.appId) };
  // Entra refuses a registered certificate outside its validity ("The key used is expired").
  const nowMs = nowSec * 1000;
  if (nowMs > cert.notAfter.getTime() || nowMs < cert.notBefore.getTime()) {
    const which = nowMs > cert.notAfter.getTime() ? "expired" : "not_yet_valid";
    return {
      ok: false,
      error: entraErrors.certificateOutOfValidity(which, thumbprint, cert.notBefore, cert.notAfter, client.appId),
    };
  }
  try {
    await compactVerify(a.raw, cert.publicKey, { algorithms: [...CERT_ASSERTION_ALGS] });
  } catch {
    return { ok: false, error: entraErrors.assertionSignatureInvalid(client.appId) };
  }
  const p = a.payload;
  if (p.iss !== client.appId || p.sub !== client.appId)
    return { ok: false, error: entraErrors.assertionClientMismatch() };
  const auds = Array.isArray(p.aud) ? p.aud : [p.aud];
  if (!auds.some((x) => typeof x === "string" && ctx.audiences.has(x)))
    return { ok: false, error: entraErrors.assertionAudienceInvalid() };
  const window = checkTimeWindow(p, nowSec);
  if (!window.ok) return window;
  if (typeof p.jti !== "string" || p.jti === "") return { ok: false, error: entraErrors.assertionMalformed() };
  if (
    ctx.replayCache &&
    !ctx.replayCache.firstUse(`${client.appId}:${p.jti}`, p.exp! + ASSERTION_CLOCK_SKEW_SECONDS, nowSec)
  ) {
    return { ok: false, error: entraErrors.assertionReplayed() };
  }
  return { ok: true, value: undefined };
}

/** exp is required; nbf optional; both with Entra's 5-minute skew (AADSTS700024). */
export function checkTimeWindow(p: JWTPayload, nowSec: number): Result<void> {
  const exp = typeof p.exp === "number" ? p.exp : undefined;
  const nbf = typeof p.nbf === "number" ? p.nbf : undefined;
  if (
    exp === undefined ||
    nowSec > exp + ASSERTION_CLOCK_SKEW_SECONDS ||
    (nbf !== undefined && nbf > nowSec + ASSERTION_CLOCK_SKEW_SECONDS)
  ) {
    return { ok: false, error: entraErrors.assertionExpired(nowSec, nbf, exp) };
  }
  return { ok: true, value: undefined };
}

function thumbprintHex(b64url: unknown): string {
  return typeof b64url === "string" ? Buffer.from(b64url, "base64url").toString("hex").toUpperCase() : "(none)";
}
