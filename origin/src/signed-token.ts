import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import type { BrokerKeys } from "./broker-keys.ts";
import { BROKER_ALGORITHMS } from "./discovery.ts";
import { failure, type Failure } from "./failure.ts";
import type { VerifierConfig } from "./options.ts";
import { err, ok, type Result } from "./result.ts";
import { type BrokerToken, toBrokerToken } from "./token.ts";

// Everything a token's signature establishes, in order, each stage failing with its own reason:
// shape → header (alg, typ, kid) → key → signature + iss/exp/nbf (jose) → iat, aud → typed claims.
// The result depends only on the token and the broker's keys, so it is what the cache may keep.

/** Broker tokens are ~1 KiB; delegation chains make them grow, but never to this. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
// The signature may be empty so that alg "none" is refused by name below, not as a shape error.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** RFC 9068 §4: the access token media type, short or long form. */
const ACCESS_TOKEN_TYPES = ["at+jwt", "application/at+jwt"];
/** Required claims (RFC 9068 §2.2 plus the broker's client_id and scope). */
const REQUIRED_CLAIMS = ["exp", "iat", "jti", "client_id", "scope"];

export interface TokenHeader {
  readonly alg: string;
  readonly kid: string;
}

export function readHeader(jwt: string): Result<TokenHeader, Failure> {
  if (jwt.length > MAX_TOKEN_LENGTH) {
    return err(
      failure("token_malformed", { detail: `token is ${jwt.length} characters; at most ${MAX_TOKEN_LENGTH}` }),
    );
  }
  if (!COMPACT_JWS.test(jwt))
    return err(failure("token_malformed", { detail: "not a compact JWS (three base64url parts)" }));
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jwt) as Record<string, unknown>;
  } catch {
    return err(failure("token_malformed", { detail: "the header is not a base64url JSON object" }));
  }
  const { alg, typ, kid } = header;
  // Before any key is looked up: alg "none", HS256 keyed with the public JWKS, RS256 from Entra.
  if (typeof alg !== "string" || !BROKER_ALGORITHMS.includes(alg)) {
    return err(failure("alg_not_allowed", { detail: `alg ${JSON.stringify(alg)}` }));
  }
  if (typeof typ !== "string" || !ACCESS_TOKEN_TYPES.includes(typ.toLowerCase())) {
    return err(failure("typ_not_at_jwt", { detail: `typ ${JSON.stringify(typ)}` }));
  }
  if (typeof kid !== "string" || kid.length === 0) {
    return err(failure("key_not_found", { detail: "the header names no kid" }));
  }
  return ok({ alg, kid });
}

export async function verifySignedToken(
  jwt: string,
  header: TokenHeader,
  config: VerifierConfig,
  keys: BrokerKeys,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  const keySet = await keys.keySetFor(header.kid, now);
  if (!keySet.ok) return keySet;
  if (!keySet.value.algorithms.includes(header.alg)) {
    return err(failure("alg_not_allowed", { detail: `the broker's metadata does not list alg ${header.alg}` }));
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, keySet.value.getKey, {
      algorithms: [...keySet.value.algorithms],
      issuer: config.issuer,
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance: config.clockSkewSeconds,
      currentDate: new Date(now),
    }));
  } catch (e) {
    return err(joseFailure(e));
  }
  const nowSeconds = Math.floor(now / 1000);
  // jose checks iat only with maxTokenAge; a token issued in the future is not valid yet.
  if ((payload.iat as number) > nowSeconds + config.clockSkewSeconds) {
    return err(failure("token_not_yet_valid", { detail: `iat ${payload.iat} is after now (${nowSeconds})` }));
  }
  // jose accepts an array that contains the audience; a broker token names exactly one origin.
  if (payload.aud === undefined) return err(failure("claim_missing", { claim: "aud" }));
  if (typeof payload.aud !== "string" || payload.aud !== config.audience) {
    return err(
      failure("audience_mismatch", { detail: `aud ${JSON.stringify(payload.aud)}, this origin is ${config.audience}` }),
    );
  }
  return toBrokerToken(payload);
}

/** jose's stable error codes → our reasons; anything else from jose is a malformed token. */
function joseFailure(e: unknown): Failure {
  if (e instanceof errors.JWTExpired) return failure("token_expired", { detail: e.message });
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === "missing") return failure("claim_missing", { claim: e.claim, detail: e.message });
    if (e.claim === "iss") return failure("issuer_mismatch", { detail: `iss ${JSON.stringify(e.payload.iss)}` });
    if (e.claim === "nbf" && e.reason === "check_failed") return failure("token_not_yet_valid", { detail: e.message });
    return failure("claim_invalid", { claim: e.claim, detail: e.message });
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return failure("signature_invalid");
  if (e instanceof errors.JOSEAlgNotAllowed) return failure("alg_not_allowed", { detail: e.message });
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    return failure("key_not_found", { detail: e.message });
  }
  if (e instanceof errors.JOSEError) return failure("token_malformed", { detail: `${e.code}: ${e.message}` });
  throw e;
}
