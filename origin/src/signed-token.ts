import {
  type CompactJWSHeaderParameters,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  jwtVerify,
  type JWTPayload,
} from "jose";
import type { BrokerKeys, KeySet } from "./broker-keys.ts";
import { BROKER_ALGORITHMS } from "./discovery.ts";
import { failure, type Failure } from "./failure.ts";
import type { VerifierConfig } from "./options.ts";
import { err, ok, type Result } from "./result.ts";
import { type BrokerToken, toBrokerToken } from "./token.ts";

// Everything a token's signature establishes, in order, each stage failing with its own reason:
// size → shape → header (alg, typ, kid) → key → signature + iss/exp/nbf (jose) → iat, aud → typed claims.
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

/** Before anything else, hashing included: absurd input costs nothing. */
export function checkSize(jwt: string): Result<string, Failure> {
  if (jwt.length > MAX_TOKEN_LENGTH) {
    return err(
      failure("token_malformed", { detail: `token is ${jwt.length} characters; at most ${MAX_TOKEN_LENGTH}` }),
    );
  }
  return ok(jwt);
}

/** Before a token is verified (a cached token passed this already, byte for byte). */
export function checkShape(jwt: string): Result<string, Failure> {
  if (!COMPACT_JWS.test(jwt)) {
    return err(failure("token_malformed", { detail: "not a compact JWS (three base64url parts)" }));
  }
  return ok(jwt);
}

/** The header as jose hands it over, after its own alg allow-list and crit checks. */
export function checkHeader(header: JWSHeaderParameters): Result<TokenHeader, Failure> {
  const { alg, typ, kid } = header as Record<string, unknown>;
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

/** Thrown from jose's key callback to stop verification with one of our failures. */
class Refused extends Error {
  readonly failure: Failure;
  constructor(failure: Failure) {
    super(failure.reason);
    this.failure = failure;
  }
}

export async function verifySignedToken(
  jwt: string,
  config: VerifierConfig,
  keys: BrokerKeys,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  // jose parses the header once, refuses any alg outside the list (none, HS*, RS*) and unknown
  // crit before it asks for a key; the header checks and the key lookup happen in that callback.
  const resolveKey = (protectedHeader: CompactJWSHeaderParameters, token: FlattenedJWSInput) => {
    const header = checkHeader(protectedHeader);
    if (!header.ok) throw new Refused(header.error);
    const found = keys.keySetFor(header.value.kid, now);
    const key = (keySet: Result<KeySet, Failure>) => {
      if (!keySet.ok) throw new Refused(keySet.error);
      if (!keySet.value.algorithms.includes(header.value.alg)) {
        throw new Refused(
          failure("alg_not_allowed", { detail: `the broker's metadata does not list alg ${header.value.alg}` }),
        );
      }
      return keySet.value.getKey(protectedHeader, token);
    };
    // Synchronous when the keys are cached: no extra turn of the event loop per token.
    return "then" in found ? found.then(key) : key(found);
  };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, resolveKey, {
      algorithms: [...BROKER_ALGORITHMS],
      issuer: config.issuer,
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance: config.clockSkewSeconds,
      currentDate: new Date(now),
    }));
  } catch (e) {
    return err(e instanceof Refused ? e.failure : joseFailure(e));
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
