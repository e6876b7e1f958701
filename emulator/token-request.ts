// Parsing a v2 token request (application/x-www-form-urlencoded) for the client credentials grant.
import { entraErrors } from "./errors.ts";
import type { Result } from "./client-assertion.ts";
import type { ClientCredentials } from "./client-auth.ts";

export interface TokenRequest extends ClientCredentials {
  readonly clientId: string;
  /** The resource identifier before "/.default", as the client wrote it. */
  readonly resource: string;
  readonly scope: string;
}

const DEFAULT_SUFFIX = "/.default";

export function parseTokenRequest(form: URLSearchParams): Result<TokenRequest> {
  for (const [name, value] of form) {
    if (form.getAll(name).length > 1)
      return { ok: false, error: entraErrors.requestMalformed(`The parameter '${name}' is duplicated.`) };
    void value;
  }
  const grantType = form.get("grant_type");
  if (!grantType) return { ok: false, error: entraErrors.missingParameter("grant_type") };
  if (grantType !== "client_credentials") return { ok: false, error: entraErrors.grantTypeUnsupported(grantType) };
  const clientId = form.get("client_id");
  if (!clientId) return { ok: false, error: entraErrors.missingParameter("client_id") };
  const scope = form.get("scope");
  if (scope === null || scope.trim() === "") return { ok: false, error: entraErrors.missingParameter("scope") };
  const resource = parseScope(scope);
  if (!resource.ok) return resource;
  return {
    ok: true,
    value: {
      clientId: clientId.toLowerCase(),
      scope,
      resource: resource.value,
      clientSecret: form.get("client_secret") ?? undefined,
      clientAssertion: form.get("client_assertion") ?? undefined,
      clientAssertionType: form.get("client_assertion_type") ?? undefined,
    },
  };
}

/** Client credentials take exactly one `<resource>/.default` scope (AADSTS1002012), nothing else (AADSTS70011). */
export function parseScope(scope: string): Result<string> {
  const parts = scope.split(" ").filter((s) => s !== "");
  if (parts.length !== 1) return { ok: false, error: entraErrors.scopeInvalid(scope) };
  const only = parts[0]!;
  if (!only.endsWith(DEFAULT_SUFFIX)) return { ok: false, error: entraErrors.scopeNotDefault(scope) };
  const resource = only.slice(0, -DEFAULT_SUFFIX.length);
  if (resource === "") return { ok: false, error: entraErrors.scopeInvalid(scope) };
  return { ok: true, value: resource };
}
