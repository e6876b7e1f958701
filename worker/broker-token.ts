import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from "jose";
import { canonicalOrigin } from "./lib/origin.ts";
import { GUID } from "./lib/syntax.ts";
import { err, ok, type Result } from "./result.ts";
import type { SigningKeys } from "./signing-keys.ts";

// Verifies a token this broker minted, when it comes back as the subject of a delegation
// (RFC 8693 §2.1). Checked like an origin would (RFC 9068 §4: typ at+jwt, our issuer, one of our
// published keys, times) plus the shape our own minting guarantees; raw claims stop here.

export interface BrokerToken {
  /** On whose behalf: the original caller, unchanged along a delegation chain. */
  readonly subject: string;
  /** Who held it: the subject itself, or the newest actor. */
  readonly clientId: string;
  /** The one origin it was issued for. */
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly tenantId: string;
  readonly jti: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** Earlier actors (RFC 8693 §4.1 `act`), newest first; empty for a token nobody delegated. */
  readonly actors: readonly string[];
  /** RFC 9449 `cnf.jkt` when the token is bound to a DPoP key. */
  readonly jkt?: string;
}

export type BrokerTokenProblem =
  /** Not issued by this broker at all (e.g. an Entra token): with an actor_token the subject must be ours. */
  | { readonly reason: "subject_token_not_from_broker" }
  | { readonly reason: "subject_token_malformed"; readonly claim?: string }
  | { readonly reason: "subject_token_signature_invalid" }
  | { readonly reason: "subject_token_expired" };

const BROKER_ALGORITHMS = ["ES256", "EdDSA"];
/** Our own minting nests `act` no deeper than the policy's depth cap (at most 10); deeper is not ours. */
const MAX_ACT_NESTING = 16;

export async function verifyBrokerToken(
  token: string,
  issuer: string,
  keys: SigningKeys,
  clockSkewSeconds: number,
  now: number,
): Promise<Result<BrokerToken, BrokerTokenProblem>> {
  // An Entra token (or anything else) is told apart before any key work: it names another issuer.
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch {
    return err({ reason: "subject_token_malformed" });
  }
  if (unverified.iss !== issuer) return err({ reason: "subject_token_not_from_broker" });

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(keys.publicJwks as never), {
      issuer,
      typ: "at+jwt",
      algorithms: BROKER_ALGORITHMS,
      currentDate: new Date(now * 1000),
      clockTolerance: clockSkewSeconds,
      requiredClaims: ["sub", "client_id", "aud", "scope", "jti", "exp", "iat", "tid"],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) return err({ reason: "subject_token_expired" });
    if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey)
      return err({ reason: "subject_token_signature_invalid" });
    if (error instanceof errors.JWTClaimValidationFailed)
      return err({ reason: "subject_token_malformed", claim: error.claim });
    return err({ reason: "subject_token_malformed" });
  }

  const { sub, client_id: clientId, aud, scope, jti, exp, tid, act, cnf } = payload;
  if (typeof sub !== "string" || !GUID.test(sub)) return err({ reason: "subject_token_malformed", claim: "sub" });
  if (typeof clientId !== "string" || !GUID.test(clientId))
    return err({ reason: "subject_token_malformed", claim: "client_id" });
  if (typeof aud !== "string" || !canonicalOrigin(aud).ok)
    return err({ reason: "subject_token_malformed", claim: "aud" });
  if (typeof scope !== "string" || typeof jti !== "string" || typeof tid !== "string")
    return err({ reason: "subject_token_malformed" });
  const actors = actorsOf(act);
  if (!actors) return err({ reason: "subject_token_malformed", claim: "act" });
  const jkt = jktOf(cnf);
  if (jkt === null) return err({ reason: "subject_token_malformed", claim: "cnf" });
  return ok({
    subject: sub,
    clientId,
    audience: aud,
    scopes: scope === "" ? [] : scope.split(" "),
    tenantId: tid,
    jti,
    expiresAt: exp as number,
    actors,
    ...(jkt !== undefined && { jkt }),
  });
}

/** RFC 8693 §4.1 `act` → actors newest first; undefined when it is not the shape we mint. */
function actorsOf(act: unknown): string[] | undefined {
  const actors: string[] = [];
  let node = act;
  while (node !== undefined) {
    if (typeof node !== "object" || node === null || actors.length >= MAX_ACT_NESTING) return undefined;
    const { sub, act: earlier } = node as { sub?: unknown; act?: unknown };
    if (typeof sub !== "string" || !GUID.test(sub)) return undefined;
    actors.push(sub);
    node = earlier;
  }
  return actors;
}

/** `cnf.jkt` (RFC 9449 §6.1): undefined when unbound, null when present but not a thumbprint. */
function jktOf(cnf: unknown): string | undefined | null {
  if (cnf === undefined) return undefined;
  const jkt = typeof cnf === "object" && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
  return typeof jkt === "string" && /^[A-Za-z0-9_-]{43}$/.test(jkt) ? jkt : null;
}

/** Actors newest first → the nested RFC 8693 §4.1 `act` claim. */
export function actClaim(actors: readonly string[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (const sub of [...actors].reverse()) act = act ? { sub, act } : { sub };
  return act;
}
