import { DPOP_ALGORITHMS, type DpopProblem } from "../dpop.ts";
import type { VerificationProblem } from "../entra-token.ts";
import type { DpopRequired } from "../errors.ts";
import { KEYS_UNAVAILABLE } from "../keys-unavailable.ts";
import type { LifetimeProblem } from "../lifetime.ts";
import type { Denial } from "../policy.ts";
import type { BearerProblem } from "./bearer.ts";
import type { UpstreamProblem } from "./send.ts";

// Every way a forwarded request can be refused or fail, and the one place where each becomes an
// HTTP response. Token refusals follow RFC 6750 §3: a WWW-Authenticate: Bearer challenge with the
// error code; the precise reason goes only to the audit log.

// Same shape as the token endpoint's failures: `{ stage, reason, ...details }`.
export type ForwardFailure =
  | ({ readonly stage: "bearer" } & BearerProblem)
  | ({ readonly stage: "dpop" } & (DpopProblem | DpopRequired))
  | ({ readonly stage: "verify" } & VerificationProblem)
  | ({ readonly stage: "lifetime" } & LifetimeProblem)
  | { readonly stage: "method"; readonly reason: "method_not_routed"; readonly allow: readonly string[] }
  // The route's scopes (not the denial's own details): the challenge names what the route requires.
  | ({ readonly stage: "policy"; readonly routeScopes: readonly string[] } & Denial)
  | ({ readonly stage: "origin" } & UpstreamProblem);

export function failureResponse(failure: ForwardFailure, realm: string): Response {
  switch (failure.stage) {
    case "bearer":
      switch (failure.reason) {
        case "token_missing":
          // invalid_token here too (RFC 6750 §3.1 would allow omitting the code): machine
          // callers then branch on one code for "get a (new) token".
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
      if (failure.reason === "jwks_unavailable") {
        return Response.json(
          { error: KEYS_UNAVAILABLE.error, error_description: KEYS_UNAVAILABLE.description },
          { status: 503, headers: { ...NO_STORE, "retry-after": String(KEYS_UNAVAILABLE.retryAfterSeconds) } },
        );
      }
      // Deliberately the same for every verification failure: the reason is in the audit log.
      return challenge(
        401,
        realm,
        "invalid_token",
        "the bearer token is not a valid Entra ID app-only access token for this gateway",
      );
    case "dpop":
      // RFC 9449 §7.1: a DPoP challenge naming the algorithms, with invalid_dpop_proof.
      return challenge(
        401,
        realm,
        "invalid_dpop_proof",
        failure.reason === "dpop_required"
          ? "this route requires a DPoP proof for this request (RFC 9449)"
          : "the DPoP proof is not valid for this request: a fresh dpop+jwt with this method, URL and ath",
        undefined,
        "DPoP",
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
        failure.routeScopes,
      );
    case "origin":
      return failure.reason === "origin_timeout"
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
  scheme: "Bearer" | "DPoP" = "Bearer",
): Response {
  const params = [`realm=${quoted(realm)}`, `error=${quoted(error)}`, `error_description=${quoted(description)}`];
  if (scopes) params.push(`scope=${quoted(scopes.join(" "))}`);
  if (scheme === "DPoP") params.push(`algs=${quoted(DPOP_ALGORITHMS.join(" "))}`);
  return Response.json(
    { error, error_description: description },
    { status, headers: { ...NO_STORE, "www-authenticate": `${scheme} ${params.join(", ")}` } },
  );
}

/** RFC 9110 §5.6.4 quoted-string; our values never hold '"' or '\', but escape anyway. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}
