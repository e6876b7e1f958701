import type { Failure, FailureReason } from "./failure.ts";

// The one error callers see. `code` is the stable reason (branch on it, never on the message),
// `status` and `wwwAuthenticate` are what to answer (RFC 6750 §3), `message` is for the log.

export type BrokerTokenErrorCode = FailureReason;

/** The RFC 6750 §3.1 (or RFC 9449 §7.1) error code on the wire; absent when no token was sent at all. */
export type BearerError = "invalid_token" | "insufficient_scope" | "invalid_dpop_proof";

/** RFC 9449 §7.1: the algorithms a DPoP challenge offers. */
const DPOP_CHALLENGE_ALGS = "ES256 EdDSA Ed25519";

/** Seconds a client should wait when the broker's keys are unavailable. */
export const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 10;

export interface Challenge {
  /** RFC 9728 §5.1: where a client finds this origin's protected resource metadata. */
  readonly resourceMetadata: string;
  /** Scopes the route requires, advertised in every challenge (RFC 6750 §3). */
  readonly scopes: readonly string[];
}

export class BrokerTokenError extends Error {
  override readonly name = "BrokerTokenError";
  readonly code: BrokerTokenErrorCode;
  readonly status: 401 | 403 | 503;
  /** The RFC 6750 error code, if the answer carries one. */
  readonly error: BearerError | undefined;
  /** A fixed, token-independent sentence safe to send to the client. */
  readonly description: string;
  /** The value of the WWW-Authenticate header for this refusal. */
  readonly wwwAuthenticate: string;
  /** Seconds, for 503 answers (Retry-After). */
  readonly retryAfter: number | undefined;
  /** The claim at fault, for claim_missing / claim_invalid. */
  readonly claim: string | undefined;
  /** What exactly was wrong (may quote the token's claims): for the operator's log, never the client. */
  readonly detail: string | undefined;

  constructor(failure: Failure, challenge: Challenge) {
    const wire = wireFor(failure.reason);
    super(failure.detail ? `${wire.description}: ${failure.detail}` : wire.description);
    this.code = failure.reason;
    this.status = wire.status;
    this.error = wire.error;
    this.description = wire.description;
    this.claim = failure.claim;
    this.detail = failure.detail;
    this.retryAfter = wire.status === 503 ? KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS : undefined;
    this.wwwAuthenticate = bearerChallenge(wire, challenge);
  }

  /** The JSON body the middlewares send: the RFC 6750 error and the fixed description. */
  toJSON(): { error?: BearerError; error_description: string } {
    return this.error
      ? { error: this.error, error_description: this.description }
      : { error_description: this.description };
  }
}

interface Wire {
  readonly status: 401 | 403 | 503;
  readonly error: BearerError | undefined;
  readonly description: string;
  /** Sender-constraint refusals challenge with the DPoP scheme (RFC 9449 §7.1). */
  readonly scheme?: "DPoP";
}

// Descriptions are fixed per reason: nothing from the token reaches a header, so a hostile token
// cannot inject into it, and the caller learns what to fix without learning our internals.
function wireFor(reason: FailureReason): Wire {
  const invalid = (description: string): Wire => ({ status: 401, error: "invalid_token", description });
  switch (reason) {
    case "token_missing":
      return { status: 401, error: undefined, description: "A bearer token from the broker is required" };
    case "token_malformed":
      return invalid("The token is not a JWT");
    case "alg_not_allowed":
      return invalid("The token is not signed with an algorithm the broker uses");
    case "typ_not_at_jwt":
      return invalid("The token is not a JWT access token (typ at+jwt)");
    case "key_not_found":
      return invalid("The token is signed by a key the broker does not publish");
    case "signature_invalid":
      return invalid("The token signature does not verify");
    case "issuer_mismatch":
      return invalid("The token is not from this origin's broker");
    case "audience_mismatch":
      return invalid("The token is for another audience");
    case "token_expired":
      return invalid("The token expired");
    case "token_revoked":
      return invalid("The token has been revoked");
    case "token_not_yet_valid":
      return invalid("The token is not valid yet");
    case "claim_missing":
      return invalid("The token lacks a required claim");
    case "claim_invalid":
      return invalid("The token has a malformed claim");
    case "scope_insufficient":
      return {
        status: 403,
        error: "insufficient_scope",
        description: "The token lacks a scope this resource requires",
      };
    case "delegation_too_deep":
      return {
        status: 403,
        error: undefined,
        description: "The token's delegation chain is longer than this resource accepts",
      };
    case "actor_not_allowed":
      return {
        status: 403,
        error: undefined,
        description: "The token was delegated through an actor this resource does not accept",
      };
    case "dpop_bound_token_as_bearer":
      return {
        ...invalid("The token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof"),
        scheme: "DPoP",
      };
    case "dpop_token_not_bound":
      return { ...invalid("The token is not DPoP-bound: send it as Authorization: Bearer"), scheme: "DPoP" };
    case "dpop_proof_missing":
    case "dpop_proof_invalid":
    case "dpop_key_mismatch":
    case "dpop_proof_replayed":
      return {
        status: 401,
        error: "invalid_dpop_proof",
        description: "A fresh DPoP proof for this request, by the token's key, is required",
        scheme: "DPoP",
      };
    case "keys_unavailable":
      return { status: 503, error: undefined, description: "The broker's signing keys are unavailable" };
    case "broker_metadata_invalid":
      return { status: 503, error: undefined, description: "The broker's metadata is unusable" };
  }
}

function bearerChallenge(wire: Wire, challenge: Challenge): string {
  const params: string[] = [];
  if (wire.error) params.push(`error="${wire.error}"`, `error_description="${wire.description}"`);
  if (challenge.scopes.length > 0) params.push(`scope="${challenge.scopes.join(" ")}"`);
  if (wire.scheme === "DPoP") params.push(`algs="${DPOP_CHALLENGE_ALGS}"`);
  params.push(`resource_metadata="${challenge.resourceMetadata}"`);
  return `${wire.scheme ?? "Bearer"} ${params.join(", ")}`;
}
