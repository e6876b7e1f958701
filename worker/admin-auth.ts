import type { Config } from "./config.ts";
import type { Caller, VerificationProblem } from "./entra-token.ts";
import { readBearerToken } from "./forward/bearer.ts";
import type { JwksCache } from "./jwks.ts";
import { err, ok, type Result } from "./result.ts";
import { tokenHash, verifiedCallersFor } from "./verified-callers.ts";

// Who may use /admin/*: an operator's tool holding an Entra app-only token for the broker's own
// app registration (verified exactly like a subject token), from a certificate-authenticated
// client, carrying one of the ADMIN_ROLES app roles. Refusals follow RFC 6750 §3.

export type AdminAuthFailure =
  | { readonly reason: "token_missing" }
  | { readonly reason: "authorization_malformed" }
  | { readonly reason: "token_in_query" }
  | { readonly reason: "token_invalid"; readonly problem: VerificationProblem }
  | { readonly reason: "client_not_certificate_authenticated"; readonly client: string }
  | { readonly reason: "admin_role_missing"; readonly client: string; readonly required: readonly string[] };

/** What admin authentication needs of the broker's per-isolate state. */
export interface AdminAuthState {
  readonly config: Config;
  readonly jwks: JwksCache;
}

export async function authenticateAdmin(
  request: Request,
  broker: AdminAuthState,
  now: number,
): Promise<Result<Caller, AdminAuthFailure>> {
  const bearer = readBearerToken(request.headers, new URL(request.url));
  if (!bearer.ok) return err({ reason: bearer.error });
  const token = bearer.value;
  const verified = await verifiedCallersFor(broker.config, broker.jwks).verify(token, await tokenHash(token), now);
  if (!verified.ok) return err({ reason: "token_invalid", problem: verified.error });
  const caller = verified.value;
  // Even where REQUIRE_CERTIFICATE_CLIENTS=false admits client secrets for exchanges, changing or
  // inspecting the broker takes a key that never leaves its signer.
  if (caller.clientAuth !== "certificate")
    return err({ reason: "client_not_certificate_authenticated", client: caller.appId });
  const required = [...broker.config.adminRoles];
  if (!caller.roles.some((role) => broker.config.adminRoles.has(role)))
    return err({ reason: "admin_role_missing", client: caller.appId, required });
  return ok(caller);
}

/** The audit reason of a refusal: the verification problem itself when the token was at fault. */
export function adminAuthReason(failure: AdminAuthFailure): string {
  return failure.reason === "token_invalid" ? failure.problem : failure.reason;
}

/** How long an operator's tool should wait while Entra's keys cannot be fetched. */
const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

export function adminAuthRefusal(failure: AdminAuthFailure, realm: string): Response {
  switch (failure.reason) {
    case "token_missing":
      // §3.1: a request with no authentication information gets a bare challenge, no error code.
      return challenge(
        401,
        realm,
        undefined,
        "an admin token is required: Authorization: Bearer <Entra ID access token>",
      );
    case "authorization_malformed":
      return challenge(400, realm, "invalid_request", "the Authorization header must be exactly: Bearer <token>");
    case "token_in_query":
      return challenge(400, realm, "invalid_request", "send the token in the Authorization header only");
    case "token_invalid":
      if (failure.problem === "jwks_unavailable") {
        return Response.json(
          {
            error: "temporarily_unavailable",
            error_description: "Entra ID signing keys are unavailable right now; retry later",
          },
          { status: 503, headers: { ...NO_STORE, "retry-after": String(KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS) } },
        );
      }
      // The same for every verification failure: the reason is in the audit log only.
      return challenge(
        401,
        realm,
        "invalid_token",
        "the bearer token is not a valid Entra ID app-only access token for this broker",
      );
    case "client_not_certificate_authenticated":
      return challenge(
        403,
        realm,
        "insufficient_scope",
        "the admin API requires a client that authenticates with a certificate or federated credential",
      );
    case "admin_role_missing":
      return challenge(
        403,
        realm,
        "insufficient_scope",
        `the admin API requires one of these app roles: ${failure.required.join(", ")}`,
      );
  }
}

const NO_STORE = { "cache-control": "no-store" } as const;

function challenge(status: 400 | 401 | 403, realm: string, error?: string, description?: string): Response {
  const params = [`realm=${quoted(realm)}`];
  if (error) params.push(`error=${quoted(error)}`, `error_description=${quoted(description ?? "")}`);
  const body = error ? { error, error_description: description } : { error_description: description };
  return Response.json(body, { status, headers: { ...NO_STORE, "www-authenticate": `Bearer ${params.join(", ")}` } });
}

/** RFC 9110 §5.6.4 quoted-string. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}
