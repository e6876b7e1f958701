import type { BrokerTokenProblem } from "./broker-token.ts";
import type { DelegationDenial } from "./delegation/decide.ts";
import type { DpopProblem } from "./dpop.ts";
import type { VerificationProblem, VerificationReason } from "./entra-token.ts";
import type { RequestProblem } from "./exchange-request.ts";
import type { LifetimeProblem } from "./lifetime.ts";
import type { Denial } from "./policy.ts";
import { KEYS_UNAVAILABLE } from "./keys-unavailable.ts";

// Every way an exchange can fail, and the one place where each becomes an OAuth error
// (RFC 6749 §5.2, RFC 8693 §2.2.2). The client learns which error it is; the audit log learns why.
// Every stage fails with `{ reason, ...details }`; the stage tag only says which stage it was, so
// the audit reason is always `failure.reason`.

export type ExchangeFailure =
  | ({ readonly stage: "request" } & RequestProblem)
  | ({ readonly stage: "verify" } & VerificationProblem)
  | ({ readonly stage: "policy" } & Denial)
  | ({ readonly stage: "lifetime" } & LifetimeProblem)
  | ({ readonly stage: "dpop" } & (DpopProblem | DpopRequired))
  /** Delegation: the actor_token failed Entra verification. */
  | ({ readonly stage: "actor" } & ActorProblem)
  /** Delegation: the subject_token is not a valid token of this broker. */
  | ({ readonly stage: "subject" } & BrokerTokenProblem)
  | ({ readonly stage: "delegation" } & DelegationDenial);

/** No DPoP proof where the rule, or a bound subject token, requires the issued token to be bound. */
export interface DpopRequired {
  readonly reason: "dpop_required";
  readonly because: "rule" | "subject_token_bound";
}

/** The actor token's verification problem, prefixed so the log tells an expired actor token from an
 *  expired subject token; keys that cannot be fetched are the same outage whichever token needed them. */
export type ActorProblem = { readonly reason: `actor_${VerificationReason}` } | { readonly reason: "jwks_unavailable" };

export function actorProblem(problem: VerificationProblem): ActorProblem {
  return problem.reason === "jwks_unavailable" ? { reason: "jwks_unavailable" } : { reason: `actor_${problem.reason}` };
}

export interface WireError {
  readonly status: 400 | 401 | 415 | 413 | 503;
  readonly error:
    | "invalid_request"
    | "invalid_dpop_proof"
    | "unsupported_grant_type"
    | "invalid_target"
    | "invalid_scope"
    | "temporarily_unavailable";
  readonly description: string;
  readonly retryAfterSeconds?: number;
}

const INVALID_SUBJECT: WireError = {
  status: 400,
  error: "invalid_request",
  // Deliberately the same for every verification failure: the reason is in the audit log.
  description: "subject_token is not a valid Entra ID app-only access token for this broker",
};

export function toWireError(failure: ExchangeFailure): WireError {
  switch (failure.stage) {
    case "request":
      return requestError(failure);
    case "dpop":
      return dpopError(failure);
    case "subject":
      return INVALID_BROKER_SUBJECT;
    case "delegation":
      return delegationError(failure);
    case "actor":
      return failure.reason === "jwks_unavailable" ? { status: 503, ...KEYS_UNAVAILABLE } : INVALID_ACTOR;
    case "verify":
      if (failure.reason === "jwks_unavailable") return { status: 503, ...KEYS_UNAVAILABLE };
      return INVALID_SUBJECT;
    case "policy":
      switch (failure.reason) {
        case "no_roles":
        case "resource_not_granted":
          return {
            status: 400,
            error: "invalid_target",
            description: "the requested resource is not granted to this client",
          };
        case "scope_not_granted":
          return {
            status: 400,
            error: "invalid_scope",
            description: `scope not granted for this resource: ${failure.scopes.join(" ")}`,
          };
      }
    case "lifetime":
      return {
        status: 400,
        error: "invalid_request",
        description: "subject_token expires too soon to issue a token; get a fresh one",
      };
  }
}

const INVALID_ACTOR: WireError = {
  status: 400,
  error: "invalid_request",
  description: "actor_token is not a valid Entra ID app-only access token for this broker",
};
const INVALID_BROKER_SUBJECT: WireError = {
  status: 400,
  error: "invalid_request",
  // Same for every failure, like INVALID_SUBJECT: the precise reason is in the audit log.
  description: "with an actor_token, subject_token must be a valid, unexpired token issued by this broker",
};

function delegationError(denial: DelegationDenial): WireError {
  const bad = (description: string): WireError => ({ status: 400, error: "invalid_request", description });
  switch (denial.reason) {
    case "actor_not_owner":
      return bad("the actor does not own the origin the subject_token was issued for");
    case "actor_tenant_mismatch":
      return bad("the actor and the subject_token are from different tenants");
    case "chain_loop":
      return bad("the actor is already in the subject_token's delegation chain");
    case "chain_too_deep":
      return bad(`the delegation chain would be longer than ${denial.maxDepth} actors`);
    case "delegation_not_allowed":
      return {
        status: 400,
        error: "invalid_target",
        description: "no delegation rule lets this actor use the subject_token for the requested resource",
      };
    case "scope_widened":
      return {
        status: 400,
        error: "invalid_scope",
        description: `scope wider than the subject_token's: ${denial.scopes.join(" ")}`,
      };
    case "scope_not_granted":
      return {
        status: 400,
        error: "invalid_scope",
        description: `scope not granted for this delegation: ${denial.scopes.join(" ")}`,
      };
    case "scope_empty":
      return {
        status: 400,
        error: "invalid_scope",
        description: "the subject_token carries none of the scopes this delegation grants",
      };
  }
}

// RFC 9449 §5: a token request with a bad proof gets invalid_dpop_proof. The descriptions name the
// check that failed: a proof carries no secret, and the client needs to know what to fix.
function dpopError(problem: DpopProblem | DpopRequired): WireError {
  const description = (() => {
    switch (problem.reason) {
      case "dpop_required":
        return problem.because === "rule"
          ? "this grant requires a DPoP proof (RFC 9449)"
          : "the subject_token is DPoP-bound, so the issued token must be bound too: send a DPoP proof";
      case "dpop_proof_multiple":
        return "send exactly one DPoP header";
      case "dpop_proof_malformed":
        return "the DPoP proof is not a dpop+jwt with jti, htm, htu, iat and a public jwk";
      case "dpop_alg_unsupported":
        return "the DPoP proof must be signed with ES256 or EdDSA";
      case "dpop_signature_invalid":
        return "the DPoP proof's signature does not verify with its jwk";
      case "dpop_iat_out_of_window":
        return "the DPoP proof's iat is too old or in the future: make a fresh proof for each request";
      case "dpop_htm_mismatch":
        return "the DPoP proof's htm is not this request's method";
      case "dpop_htu_mismatch":
        return "the DPoP proof's htu is not this endpoint's URL";
      case "dpop_ath_mismatch":
        return "the DPoP proof's ath is not the hash of the access token";
      case "dpop_replayed":
        return "the DPoP proof was already used: make a fresh proof for each request";
    }
  })();
  return { status: 400, error: "invalid_dpop_proof", description };
}

function requestError(problem: RequestProblem): WireError {
  const bad = (description: string): WireError => ({ status: 400, error: "invalid_request", description });
  switch (problem.reason) {
    case "content_type_unsupported":
      return bad("the request body must be application/x-www-form-urlencoded");
    case "body_too_large":
      return { status: 413, error: "invalid_request", description: "the request body is too large" };
    case "body_unreadable":
      return bad("the request body could not be read as UTF-8 form data");
    case "parameter_repeated":
      return bad(`parameter ${problem.parameter} is repeated`);
    case "grant_type_missing":
      return bad("grant_type is required");
    case "grant_type_unsupported":
      return {
        status: 400,
        error: "unsupported_grant_type",
        description: "only urn:ietf:params:oauth:grant-type:token-exchange is supported",
      };
    case "subject_token_missing":
      return bad("subject_token is required");
    case "subject_token_type_unsupported":
      return bad(
        "subject_token_type must be urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt",
      );
    case "requested_token_type_unsupported":
      return bad(
        "requested_token_type must be urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt",
      );
    case "actor_token_missing":
      return bad("actor_token_type was sent without an actor_token");
    case "actor_token_type_missing":
      return bad("actor_token_type is required with an actor_token");
    case "actor_token_type_unsupported":
      return bad(
        "actor_token_type must be urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt",
      );
    case "audience_unsupported":
      return {
        status: 400,
        error: "invalid_target",
        description: "audience is not supported: name the origin with resource",
      };
    case "resource_missing":
      return {
        status: 400,
        error: "invalid_target",
        description: "resource is required: the origin the token is for, e.g. https://api.example.com",
      };
    case "resource_repeated":
      return { status: 400, error: "invalid_target", description: "exactly one resource per request" };
    case "resource_not_canonical":
      return {
        status: 400,
        error: "invalid_target",
        description:
          "resource must be a canonical origin: lower-case https://host[:port] with no path, query, fragment, userinfo, default port or trailing dot",
      };
    case "scope_malformed":
      return {
        status: 400,
        error: "invalid_scope",
        description: "scope must be space-separated scope tokens (RFC 6749 §3.3)",
      };
  }
}
