// The small syntaxes several stages check, defined once so they cannot drift apart.

/** A tenant, client or object id as Entra writes it in tokens: a lower-case GUID. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/**
 * A DNS host name of letter-digit-hyphen labels, lower case, no trailing dot. WHATWG URL accepts
 * "*.example.com", "a_b" or "x;y" as hosts; as an audience or route host such a string is exact to
 * us but reads as a wildcard to a human (and to any verifier that globs).
 */
export const LDH_HOST =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The name of a policy rule or a forward route, as the audit log shows it. */
export const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
