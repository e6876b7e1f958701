import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { Caller, VerificationProblem } from "../entra-token.ts";
import { readBearerToken, type BearerProblem } from "../forward/bearer.ts";
import { challenge } from "../forward/refusals.ts";
import type { KeepAlive } from "../jwks.ts";
import { KEYS_UNAVAILABLE } from "../keys-unavailable.ts";
import { err, ok, type Result } from "../result.ts";

// Who may use /admin/* (every admin endpoint authenticates here): an operator's tool holding an
// Entra ID app-only access token for the broker's audience (RFC 6750 bearer), verified by the same
// code and cache as /token. On top of that, an admin must hold one of ADMIN_ROLES and must have
// authenticated to Entra with a certificate (or federated credential), even where
// REQUIRE_CERTIFICATE_CLIENTS admits secrets: a shared secret is the kind of credential that
// leaks, and this one can switch services off. Delegated (user) tokens never get this far:
// verification admits app-only tokens only.

/**
 * Why an admin request was refused. Reasons are stable audit codes: the bearer problem, the
 * verification problem itself (the same codes /token logs), or one of the two admin demands.
 * A non-certificate client is `client_not_certificate_authenticated` whichever check caught it.
 */
export type AdminRefusal =
  | BearerProblem
  | VerificationProblem
  | { readonly reason: "client_not_certificate_authenticated"; readonly clientId: string }
  | { readonly reason: "admin_role_missing"; readonly clientId: string; readonly required: readonly string[] };

export async function authenticateAdmin(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<Caller, AdminRefusal>> {
  const { adminRoles } = broker.config.operations;
  const bearer = readBearerToken(request.headers, new URL(request.url));
  if (!bearer.ok) return bearer;
  const verified = await broker.callers.verify(bearer.value, now, keepAlive);
  if (!verified.ok) return verified;
  const { caller } = verified.value;
  if (caller.clientAuth !== "certificate")
    return err({ reason: "client_not_certificate_authenticated", clientId: caller.appId });
  if (!caller.roles.some((role: string) => adminRoles.has(role)))
    return err({ reason: "admin_role_missing", clientId: caller.appId, required: [...adminRoles] });
  return ok(caller);
}

/** The audit fields of a refusal: its reason, and the client when the token got that far. */
export function adminRefusalFields(refusal: AdminRefusal): { reason: string; client_id?: string } {
  return { reason: refusal.reason, ...("clientId" in refusal && { client_id: refusal.clientId }) };
}

/** The one HTTP answer for each refusal (RFC 6750 §3); the precise reason goes to the audit log only. */
export function adminRefusalResponse(refusal: AdminRefusal, config: Config): Response {
  const realm = config.issuer;
  switch (refusal.reason) {
    case "token_missing":
      // §3.1: a request with no authentication information gets a bare challenge, no error code.
      return Response.json(
        { error_description: "an admin token is required: Authorization: Bearer <Entra ID access token>" },
        { status: 401, headers: { ...NO_STORE, "www-authenticate": `Bearer realm=${quoted(realm)}` } },
      );
    case "authorization_malformed":
      return challenge(400, realm, "invalid_request", "the Authorization header must be exactly: Bearer <token>");
    case "token_in_query":
      return challenge(400, realm, "invalid_request", "send the token in the Authorization header only");
    case "client_not_certificate_authenticated":
      // Whether verification (REQUIRE_CERTIFICATE_CLIENTS) or the admin demand caught it: the token
      // is genuine, the client just may not administer the broker.
      return challenge(
        403,
        realm,
        "insufficient_scope",
        "the admin API requires a client that authenticates to Entra ID with a certificate or federated credential",
      );
    case "admin_role_missing":
      return challenge(
        403,
        realm,
        "insufficient_scope",
        `the admin API requires one of these app roles: ${refusal.required.join(", ")}`,
      );
    case "jwks_unavailable":
      return Response.json(
        { error: KEYS_UNAVAILABLE.error, error_description: KEYS_UNAVAILABLE.description },
        { status: 503, headers: { ...NO_STORE, "retry-after": String(KEYS_UNAVAILABLE.retryAfterSeconds) } },
      );
    default:
      // Deliberately the same for every verification failure: the reason is in the audit log.
      return challenge(
        401,
        realm,
        "invalid_token",
        "the bearer token is not a valid Entra ID app-only access token for this broker",
      );
  }
}

const NO_STORE = { "cache-control": "no-store" } as const;

/** RFC 9110 §5.6.4 quoted-string. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}
