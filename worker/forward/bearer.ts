import { err, ok, type Result } from "../result.ts";

// RFC 6750 §2.1: the caller's Entra token arrives as `Authorization: Bearer <token>`. The other
// two methods (§2.2 form body, §2.3 query) are not accepted: a token in the query string would
// otherwise travel on to the origin, and the body is streamed, never read.

export interface BearerProblem {
  readonly reason: /** No Authorization header, or another scheme (§3.1: the caller did not try Bearer). */
    | "token_missing"
    /** Bearer with no token, a token outside the b64token syntax, or several values. */
    | "authorization_malformed"
    /** Also an access_token query parameter (§3.1: more than one method). */
    | "token_in_query";
}

/** b64token (RFC 6750 §2.1); a JWT uses a subset of it. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// auth-scheme is case-insensitive (RFC 9110 §11.1)
const BEARER_SCHEME = /^bearer(?:\s|$)/i;
const BEARER_CREDENTIALS = /^bearer +(\S+)$/i;

export function readBearerToken(headers: Headers, url: URL): Result<string, BearerProblem> {
  if (url.searchParams.has("access_token")) return err({ reason: "token_in_query" });
  const authorization = headers.get("authorization")?.trim();
  if (authorization === undefined || !BEARER_SCHEME.test(authorization)) return err({ reason: "token_missing" });
  // Several Authorization headers arrive joined by ", ", which fails the match below.
  const token = BEARER_CREDENTIALS.exec(authorization)?.[1];
  if (token === undefined || !B64TOKEN.test(token)) return err({ reason: "authorization_malformed" });
  return ok(token);
}
