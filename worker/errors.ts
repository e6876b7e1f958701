import type { VerificationProblem } from "./entra-token.ts";
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
  | ({ readonly stage: "lifetime" } & LifetimeProblem);

export interface WireError {
  readonly status: 400 | 401 | 415 | 413 | 503;
  readonly error:
    | "invalid_request"
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
    case "actor_token_unsupported":
      return bad("actor_token (delegation) is not supported");
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
