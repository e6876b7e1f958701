import type { Broker } from "./broker.ts";
import type { Caller, VerificationReason } from "./entra-token.ts";
import { readBearerToken, type BearerProblem } from "./forward/bearer.ts";
import type { KeepAlive } from "./jwks.ts";
import { KEYS_UNAVAILABLE } from "./keys-unavailable.ts";
import { err, ok, type Result } from "./result.ts";

// Who may use /admin/*: an operator's tool holding an Entra app-only token for the broker's own
// app registration (verified exactly like a subject token), from a certificate-authenticated
// client, carrying one of the ADMIN_ROLES app roles. Refusals follow RFC 6750 §3.

export type AdminAuthFailure =
  | BearerProblem
  | { readonly reason: "token_invalid"; readonly problem: VerificationReason }
  | { readonly reason: "client_not_certificate_authenticated"; readonly client: string }
  | { readonly reason: "admin_role_missing"; readonly client: string; readonly required: readonly string[] };

export async function authenticateAdmin(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<Caller, AdminAuthFailure>> {
  const bearer = readBearerToken(request.headers, new URL(request.url));
  if (!bearer.ok) return bearer;
  const verified = await broker.callers.verify(bearer.value, now, keepAlive);
  if (!verified.ok) return err({ reason: "token_invalid", problem: verified.error.reason });
  const { caller } = verified.value;
  const { adminRoles } = broker.config.operations;
  // Even where REQUIRE_CERTIFICATE_CLIENTS=false admits client secrets for exchanges, changing or
  // inspecting the broker takes a key that never leaves its signer.
  if (caller.clientAuth !== "certificate")
    return err({ reason: "client_not_certificate_authenticated", client: caller.appId });
  if (!caller.roles.some((role) => adminRoles.has(role)))
    return err({ reason: "admin_role_missing", client: caller.appId, required: [...adminRoles] });
  return ok(caller);
}

/** The audit reason of a refusal: the verification problem itself when the token was at fault. */
export function adminAuthReason(failure: AdminAuthFailure): string {
  return failure.reason === "token_invalid" ? failure.problem : failure.reason;
}

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
          { error: KEYS_UNAVAILABLE.error, error_description: KEYS_UNAVAILABLE.description },
          { status: 503, headers: { ...NO_STORE, "retry-after": String(KEYS_UNAVAILABLE.retryAfterSeconds) } },
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
