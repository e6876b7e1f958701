import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { Caller, VerificationProblem } from "../entra-token.ts";
import { readBearerToken, type BearerProblem } from "../forward/bearer.ts";
import { challenge } from "../forward/refusals.ts";
import type { KeepAlive } from "../jwks.ts";
import { err, ok, type Result } from "../result.ts";

// The admin API is authenticated like everything else: an Entra ID app-only access token for the
// broker's audience (RFC 6750 bearer), verified by the same code and cache as /token. On top of
// that, an admin must hold one of ADMIN_ROLES and must have authenticated to Entra with a
// certificate (or federated credential), even where REQUIRE_CERTIFICATE_CLIENTS admits secrets:
// a shared secret is the kind of credential that leaks, and this one can switch services off.
// Delegated (user) tokens never get this far: verification admits app-only tokens only.

export type AdminRefusal =
  | BearerProblem
  | VerificationProblem
  | { readonly reason: "admin_not_certificate_client"; readonly clientId: string }
  | { readonly reason: "admin_role_missing"; readonly clientId: string };

/** How long a caller should wait before retrying while Entra's keys cannot be fetched. */
const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

export async function authenticateAdmin(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<Caller, AdminRefusal>> {
  const { config } = broker;
  const bearer = readBearerToken(request.headers, new URL(request.url));
  if (!bearer.ok) return bearer;
  const verified = await broker.callers.verify(bearer.value, now, keepAlive);
  if (!verified.ok) return verified;
  const { caller } = verified.value;
  if (caller.clientAuth !== "certificate")
    return err({ reason: "admin_not_certificate_client", clientId: caller.appId });
  if (!caller.roles.some((role: string) => config.operations.adminRoles.has(role)))
    return err({ reason: "admin_role_missing", clientId: caller.appId });
  return ok(caller);
}

export function adminRefusalResponse(refusal: AdminRefusal, config: Config): Response {
  const realm = config.issuer;
  switch (refusal.reason) {
    case "admin_not_certificate_client":
      return challenge(
        403,
        realm,
        "insufficient_scope",
        "the admin API requires a client that authenticates to Entra ID with a certificate",
      );
    case "admin_role_missing":
      return challenge(
        403,
        realm,
        "insufficient_scope",
        `the admin API requires one of these app roles: ${[...config.operations.adminRoles].join(", ")}`,
      );
    case "token_missing":
      return challenge(
        401,
        realm,
        "invalid_token",
        "a bearer token is required: Authorization: Bearer <Entra ID access token>",
      );
    case "authorization_malformed":
      return challenge(400, realm, "invalid_request", "the Authorization header must be exactly: Bearer <token>");
    case "token_in_query":
      return challenge(400, realm, "invalid_request", "send the token in the Authorization header only");
    case "jwks_unavailable":
      return Response.json(
        {
          error: "temporarily_unavailable",
          error_description: "Entra ID signing keys are unavailable right now; retry later",
        },
        {
          status: 503,
          headers: { "cache-control": "no-store", "retry-after": String(KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS) },
        },
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
