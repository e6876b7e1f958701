// The one failure shape of every stage: a stable reason code plus details for the operator.
// errors.ts maps each reason to the wire (status, RFC 6750 error) in one exhaustive switch.

export type FailureReason =
  /** No bearer token in the request (RFC 6750 §3.1: the challenge carries no error code). */
  | "token_missing"
  /** Not a compact JWS, or over the size cap. */
  | "token_malformed"
  /** `alg` is not one the broker signs with (none, HS*, RS*… are never accepted). */
  | "alg_not_allowed"
  /** `typ` is not `at+jwt` (RFC 9068 §4): an ID token or an Entra token is not an access token for us. */
  | "typ_not_at_jwt"
  /** The header names no key, or a key the broker does not publish. */
  | "key_not_found"
  | "signature_invalid"
  | "issuer_mismatch"
  /** `aud` is not exactly one string equal to this origin (arrays, even of one, are refused). */
  | "audience_mismatch"
  | "token_expired"
  /** `nbf` or `iat` later than now plus the allowed skew. */
  | "token_not_yet_valid"
  /** A required claim (exp, iat, jti, client_id, scope) is absent. */
  | "claim_missing"
  /** A claim has the wrong type or syntax. */
  | "claim_invalid"
  /** Verified, but without every scope this route requires. */
  | "scope_insufficient"
  /** A delegated token with more actors than this route's maxDelegationDepth. */
  | "delegation_too_deep"
  /** A delegated token with an actor outside this route's allowedActors. */
  | "actor_not_allowed"
  /** A DPoP-bound token (cnf.jkt) presented with the Bearer scheme (RFC 9449 §7.1). */
  | "dpop_bound_token_as_bearer"
  /** The DPoP scheme with a token that is not bound. */
  | "dpop_token_not_bound"
  /** A bound token without a DPoP proof. */
  | "dpop_proof_missing"
  /** A proof that fails a check: signature, typ, alg, htm, htu, ath, iat window (the detail says which). */
  | "dpop_proof_invalid"
  /** A valid proof, but by another key than the one the token is bound to. */
  | "dpop_key_mismatch"
  /** A proof (its jti) already used within its window. */
  | "dpop_proof_replayed"
  /** The broker has revoked the token, its client or its tenant since the token was issued (GET /revocations). */
  | "token_revoked"
  /** The broker's keys cannot be had (network, status, size, timeout) and none are cached. */
  | "keys_unavailable"
  /** The broker's RFC 8414 metadata or JWKS is unusable (issuer differs, no jwks_uri, no usable algorithm). */
  | "broker_metadata_invalid";

export interface Failure {
  readonly reason: FailureReason;
  /** What exactly was wrong, for the operator's log; never echoed to the caller. */
  readonly detail?: string;
  /** For claim_missing / claim_invalid: the claim at fault. */
  readonly claim?: string;
  /** For scope_insufficient: every scope the route requires. */
  readonly requiredScopes?: readonly string[];
}

export function failure(reason: FailureReason, details: Omit<Failure, "reason"> = {}): Failure {
  return { reason, ...details };
}
