import { canonicalOrigin, type OriginProblem } from "./lib/origin.ts";
import { readCapped } from "./lib/read-capped.ts";
import { SCOPE_TOKEN } from "./lib/syntax.ts";
import { err, ok, type Result } from "./result.ts";

// Parses an RFC 8693 token-exchange request (with RFC 8707 `resource`) into a typed request.
// Everything about the HTTP form stops here.

export const GRANT_TYPE_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const TOKEN_TYPE_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
export const TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt";
const ACCEPTED_SUBJECT_TYPES = [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT];

/** A form with one Entra token (≤ 16 KiB) and a few short parameters fits easily. */
export const MAX_BODY_BYTES = 32 * 1024;
const MAX_SCOPES = 64; // no legitimate request names more; bounds the subset check
/** The RFC 8693 parameters we read that must appear at most once (`resource` is handled apart). */
const SINGLE_VALUED: ReadonlySet<string> = new Set([
  "grant_type",
  "subject_token",
  "subject_token_type",
  "requested_token_type",
  "actor_token",
  "actor_token_type",
  "audience",
  "scope",
]);

export interface ExchangeRequest {
  readonly subjectToken: string;
  readonly resource: string;
  readonly scopes: readonly string[] | undefined;
  readonly requestedTokenType: string;
}

export type RequestProblem =
  | { readonly reason: "content_type_unsupported" }
  | { readonly reason: "body_too_large" }
  | { readonly reason: "body_unreadable" }
  | { readonly reason: "parameter_repeated"; readonly parameter: string }
  | { readonly reason: "grant_type_missing" }
  | { readonly reason: "grant_type_unsupported" }
  | { readonly reason: "subject_token_missing" }
  | { readonly reason: "subject_token_type_unsupported" }
  | { readonly reason: "requested_token_type_unsupported" }
  | { readonly reason: "actor_token_unsupported" }
  | { readonly reason: "audience_unsupported" }
  | { readonly reason: "resource_missing" }
  | { readonly reason: "resource_repeated" }
  | { readonly reason: "resource_not_canonical"; readonly origin: OriginProblem["reason"] }
  | { readonly reason: "scope_malformed" };

export async function readExchangeRequest(request: Request): Promise<Result<ExchangeRequest, RequestProblem>> {
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType !== "application/x-www-form-urlencoded") return err({ reason: "content_type_unsupported" });
  const body = await readBody(request);
  if (!body.ok) return body;
  return parseExchangeForm(body.value);
}

export function parseExchangeForm(body: string): Result<ExchangeRequest, RequestProblem> {
  const form = new URLSearchParams(body);
  // RFC 6749 §3.1: parameters MUST NOT appear more than once. `resource` may (RFC 8707), but
  // we issue a token for exactly one origin, which is a target error rather than a syntax one.
  // Unrecognised parameters are ignored, repeated or not (§3.2): their names are the caller's
  // arbitrary input and must never be echoed back in an error description.
  const counts = new Map<string, number>();
  for (const name of form.keys()) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const [name, count] of counts) {
    if (count > 1 && SINGLE_VALUED.has(name)) return err({ reason: "parameter_repeated", parameter: name });
  }

  const grantType = form.get("grant_type");
  if (!grantType) return err({ reason: "grant_type_missing" });
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) return err({ reason: "grant_type_unsupported" });

  const subjectToken = form.get("subject_token");
  if (!subjectToken) return err({ reason: "subject_token_missing" });
  const subjectTokenType = form.get("subject_token_type");
  if (!subjectTokenType || !ACCEPTED_SUBJECT_TYPES.includes(subjectTokenType))
    return err({ reason: "subject_token_type_unsupported" });
  if (form.has("actor_token") || form.has("actor_token_type")) return err({ reason: "actor_token_unsupported" });
  const requestedTokenType = form.get("requested_token_type") ?? TOKEN_TYPE_ACCESS_TOKEN;
  if (!ACCEPTED_SUBJECT_TYPES.includes(requestedTokenType)) return err({ reason: "requested_token_type_unsupported" });
  // `audience` names logical targets we cannot map to an origin; the exact origin must be a resource.
  if (form.has("audience")) return err({ reason: "audience_unsupported" });

  const resources = form.getAll("resource");
  if (resources.length === 0 || resources[0] === "") return err({ reason: "resource_missing" });
  if (resources.length > 1) return err({ reason: "resource_repeated" });
  const resource = canonicalOrigin(resources[0]!);
  if (!resource.ok) return err({ reason: "resource_not_canonical", origin: resource.error.reason });

  const scope = form.get("scope");
  let scopes: string[] | undefined;
  if (scope !== null) {
    const tokens = scope.split(" ");
    if (tokens.length > MAX_SCOPES || !tokens.every((t) => SCOPE_TOKEN.test(t)))
      return err({ reason: "scope_malformed" });
    scopes = [...new Set(tokens)];
  }
  return ok({ subjectToken, resource: resource.value, scopes, requestedTokenType });
}

async function readBody(request: Request): Promise<Result<string, RequestProblem>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return err({ reason: "body_too_large" });
  if (!request.body) return ok("");
  try {
    // With a declared length the runtime's framing bounds the body, and one native read is a
    // fraction of a streamed one (bench/); without one, the stream itself is capped as it arrives.
    const bytes = request.headers.has("content-length")
      ? new Uint8Array(await request.arrayBuffer())
      : await readCapped(request.body, MAX_BODY_BYTES);
    if (bytes === "too_large" || bytes.byteLength > MAX_BODY_BYTES) return err({ reason: "body_too_large" });
    return ok(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    return err({ reason: "body_unreadable" }); // a broken stream or invalid UTF-8
  }
}
