import type { VerificationProblem } from "../entra-token.ts";
import type { Denial } from "../policy.ts";
import type { BearerProblem } from "./bearer.ts";
import type { OriginProblem } from "./send.ts";

// Every way a forwarded request can be refused or fail, and the one place where each becomes an
// HTTP response. Token refusals follow RFC 6750 §3: a WWW-Authenticate: Bearer challenge with the
// error code; the precise reason goes only to the audit log.

export type ForwardFailure =
  | { readonly stage: "bearer"; readonly problem: BearerProblem }
  | { readonly stage: "verify"; readonly problem: VerificationProblem }
  | { readonly stage: "lifetime"; readonly problem: "subject_token_expiring" }
  | { readonly stage: "method"; readonly problem: "method_not_routed"; readonly allow: readonly string[] }
  | { readonly stage: "policy"; readonly denial: Denial; readonly scopes: readonly string[] }
  | { readonly stage: "origin"; readonly problem: OriginProblem };

/** How long a caller should wait before retrying while Entra's keys cannot be fetched. */
const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

export function failureReason(failure: ForwardFailure): string {
  switch (failure.stage) {
    case "policy":
      return failure.denial.reason;
    default:
      return failure.problem;
  }
}

export function failureResponse(failure: ForwardFailure, realm: string): Response {
  switch (failure.stage) {
    case "bearer":
      switch (failure.problem) {
        case "token_missing":
          // The issue asks for invalid_token here too (RFC 6750 §3.1 would allow omitting the
          // code); machine callers then branch on one code for "get a (new) token".
          return challenge(
            401,
            realm,
            "invalid_token",
            "a bearer token is required: Authorization: Bearer <Entra ID access token>",
          );
        case "authorization_malformed":
          return challenge(400, realm, "invalid_request", "the Authorization header must be exactly: Bearer <token>");
        case "token_in_query":
          return challenge(
            400,
            realm,
            "invalid_request",
            "send the token in the Authorization header only, not as an access_token query parameter",
          );
      }
    case "verify":
      if (failure.problem === "jwks_unavailable") {
        return Response.json(
          {
            error: "temporarily_unavailable",
            error_description: "Entra ID signing keys are unavailable right now; retry later",
          },
          { status: 503, headers: { ...NO_STORE, "retry-after": String(KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS) } },
        );
      }
      // Deliberately the same for every verification failure: the reason is in the audit log.
      return challenge(
        401,
        realm,
        "invalid_token",
        "the bearer token is not a valid Entra ID app-only access token for this gateway",
      );
    case "lifetime":
      return challenge(401, realm, "invalid_token", "the bearer token expires too soon; get a fresh one");
    case "method":
      return Response.json(
        { error: "method_not_allowed", error_description: "this route does not accept this method" },
        { status: 405, headers: { ...NO_STORE, allow: failure.allow.join(", ") } },
      );
    case "policy":
      // §3.1 scope: what this route needs for this method, so the operator knows what to grant.
      return challenge(
        403,
        realm,
        "insufficient_scope",
        "the caller is not granted this origin with the scopes this route requires",
        failure.scopes,
      );
    case "origin":
      return failure.problem === "origin_timeout"
        ? Response.json(
            { error: "origin_timeout", error_description: "the origin did not answer in time" },
            { status: 504, headers: NO_STORE },
          )
        : Response.json(
            { error: "origin_unreachable", error_description: "the origin could not be reached" },
            { status: 502, headers: NO_STORE },
          );
  }
}

const NO_STORE = { "cache-control": "no-store" } as const;

export function challenge(
  status: 400 | 401 | 403,
  realm: string,
  error: string,
  description: string,
  scopes?: readonly string[],
): Response {
  const params = [`realm=${quoted(realm)}`, `error=${quoted(error)}`, `error_description=${quoted(description)}`];
  if (scopes) params.push(`scope=${quoted(scopes.join(" "))}`);
  return Response.json(
    { error, error_description: description },
    { status, headers: { ...NO_STORE, "www-authenticate": `Bearer ${params.join(", ")}` } },
  );
}

/** RFC 9110 §5.6.4 quoted-string; our values never hold '"' or '\', but escape anyway. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}
