// Parsing a token request (application/x-www-form-urlencoded) for the client credentials grant, on
// the v2 endpoint (`scope=<resource>/.default`) or the v1 endpoint (`resource=<resource>`), with the
// client authenticated in the body or by HTTP Basic (client_secret_basic).
import { entraErrors } from "./errors.ts";
import type { Result } from "./client-assertion.ts";
import type { ClientCredentials } from "./client-auth.ts";

export interface TokenRequest extends ClientCredentials {
  readonly clientId: string;
  /** The resource identifier (before "/.default" on v2), as the client wrote it. */
  readonly resource: string;
}

export type EndpointVersion = 1 | 2;

const DEFAULT_SUFFIX = "/.default";

export function parseTokenRequest(
  form: URLSearchParams,
  version: EndpointVersion,
  authorization?: string,
): Result<TokenRequest> {
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1)
      return { ok: false, error: entraErrors.requestMalformed(`The parameter '${name}' is duplicated.`) };
  }
  const grantType = form.get("grant_type");
  if (!grantType) return { ok: false, error: entraErrors.missingParameter("grant_type") };
  if (grantType !== "client_credentials") return { ok: false, error: entraErrors.grantTypeUnsupported(grantType) };
  const basic = parseBasic(authorization);
  if (!basic.ok) return basic;
  if (basic.value && form.has("client_secret"))
    return { ok: false, error: entraErrors.requestMalformed("Use one client authentication method, not several.") };
  const bodyClientId = form.get("client_id");
  if (basic.value && bodyClientId && bodyClientId.toLowerCase() !== basic.value.clientId.toLowerCase())
    return {
      ok: false,
      error: entraErrors.requestMalformed(
        "The client_id parameter does not match the client in the Authorization header.",
      ),
    };
  const clientId = basic.value?.clientId ?? bodyClientId;
  if (!clientId) return { ok: false, error: entraErrors.missingParameter("client_id") };
  const resource = version === 2 ? v2Resource(form) : v1Resource(form);
  if (!resource.ok) return resource;
  return {
    ok: true,
    value: {
      clientId: clientId.toLowerCase(),
      resource: resource.value,
      clientSecret: basic.value?.secret ?? form.get("client_secret") ?? undefined,
      clientAssertion: form.get("client_assertion") ?? undefined,
      clientAssertionType: form.get("client_assertion_type") ?? undefined,
    },
  };
}

function v2Resource(form: URLSearchParams): Result<string> {
  if (form.has("resource")) return { ok: false, error: entraErrors.resourceParameterUnsupported() };
  const scope = form.get("scope");
  if (scope === null || scope.trim() === "") return { ok: false, error: entraErrors.missingParameter("scope") };
  return parseScope(scope);
}

function v1Resource(form: URLSearchParams): Result<string> {
  const resource = form.get("resource");
  if (resource === null || resource.trim() === "")
    return { ok: false, error: entraErrors.missingParameter("resource") };
  return { ok: true, value: resource.trim() };
}

/**
 * Client credentials take `<resource>/.default` scopes only (any other scope: AADSTS1002012), and
 * exactly one of them (AADSTS70011).
 */
export function parseScope(scope: string): Result<string> {
  const parts = scope.split(" ").filter((s) => s !== "");
  if (parts.some((p) => !p.endsWith(DEFAULT_SUFFIX))) return { ok: false, error: entraErrors.scopeNotDefault(scope) };
  if (parts.length !== 1) return { ok: false, error: entraErrors.scopeInvalid(scope) };
  const resource = parts[0]!.slice(0, -DEFAULT_SUFFIX.length);
  if (resource === "") return { ok: false, error: entraErrors.scopeInvalid(scope) };
  return { ok: true, value: resource };
}

/** client_secret_basic (RFC 6749 §2.3.1): Basic base64(form-urlencoded id ":" form-urlencoded secret). */
function parseBasic(header: string | undefined): Result<{ clientId: string; secret: string } | undefined> {
  if (header === undefined) return { ok: true, value: undefined };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  const bad = {
    ok: false as const,
    error: entraErrors.requestMalformed("The Authorization header is not HTTP Basic client authentication."),
  };
  if (!m) return bad;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return bad;
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    return { ok: true, value: { clientId: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) } };
  } catch {
    return bad;
  }
}
