// Client authentication at the token endpoint: a client secret, a certificate assertion, or a
// federated assertion. Decides which, and yields the authentication method the token reports in
// azpacr/appidacr ("1" secret, "2" certificate or federated).
import { timingSafeEqual, createHash } from "node:crypto";
import { entraErrors } from "./errors.ts";
import { decodeAssertion, verifyCertificateAssertion, type Result } from "./client-assertion.ts";
import { verifyFederatedAssertion } from "./federated-assertion.ts";
import type { App } from "./tenant-file.ts";
import type { ReplayCache } from "./replay-cache.ts";

export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export type CredentialKind = "secret" | "certificate" | "federated";

export interface ClientCredentials {
  readonly clientSecret: string | undefined;
  readonly clientAssertion: string | undefined;
  readonly clientAssertionType: string | undefined;
}

export interface ClientAuthContext {
  readonly audiences: ReadonlySet<string>;
  readonly nowSec: number;
  readonly replayCache: ReplayCache | undefined;
}

export async function authenticateClient(
  client: App,
  creds: ClientCredentials,
  ctx: ClientAuthContext,
): Promise<Result<CredentialKind>> {
  if (creds.clientAssertion !== undefined) {
    if (creds.clientAssertionType !== JWT_BEARER_ASSERTION_TYPE) {
      // Entra has no dedicated code for a wrong assertion type; 900144 is its missing/invalid parameter code.
      return {
        ok: false,
        error: entraErrors.requestMalformed(
          `The request body must contain the following parameter: 'client_assertion_type' with value '${JWT_BEARER_ASSERTION_TYPE}'.`,
        ),
      };
    }
    const decoded = decodeAssertion(creds.clientAssertion);
    if (!decoded.ok) return decoded;
    // Entra tells the two apart by the issuer: the app itself signs certificate assertions
    // (iss = client id); anything else is an external issuer's token.
    if (decoded.value.payload.iss === client.appId || decoded.value.payload.sub === client.appId) {
      const r = await verifyCertificateAssertion(decoded.value, { client, ...ctx });
      return r.ok ? { ok: true, value: "certificate" } : r;
    }
    const r = await verifyFederatedAssertion(decoded.value, client, ctx.nowSec);
    return r.ok ? { ok: true, value: "federated" } : r;
  }
  if (creds.clientSecret !== undefined) {
    return client.secrets.some((s) => sameSecret(s, creds.clientSecret!))
      ? { ok: true, value: "secret" }
      : { ok: false, error: entraErrors.secretInvalid(client.appId) };
  }
  return { ok: false, error: entraErrors.credentialMissing() };
}

/** Constant-time comparison over digests, so neither content nor length leaks through timing. */
function sameSecret(expected: string, given: string): boolean {
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/** The value a token carries in azpacr (v2) / appidacr (v1). */
export function authMethodClaim(kind: CredentialKind): "1" | "2" {
  return kind === "secret" ? "1" : "2";
}
