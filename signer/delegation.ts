/**
 * Delegation (RFC 8693 §2.1) from the signer's side: a service that received a broker token (T1) from
 * its caller exchanges it, as the subject, with its own Entra token as the actor, for a token to the
 * next origin on the caller's behalf. The subject token comes from a file (CLI) or the socket request
 * (daemon); it is only checked for shape here: the broker verifies it.
 */
import { readFileSync, statSync } from "node:fs";
import { SignerError } from "./errors.ts";

/** The broker caps its form at 32 KiB; a broker token is ~1 KB (more with a long chain). */
const MAX_SUBJECT_TOKEN_BYTES = 16 * 1024;
/** A compact JWS: three base64url parts. Anything else is not a broker token and not worth a round trip. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function validateSubjectToken(token: string, setting: string): string {
  if (token.length === 0 || token.length > MAX_SUBJECT_TOKEN_BYTES || !COMPACT_JWS.test(token))
    throw new SignerError(
      "ERR_REQUEST",
      `${setting}: not a broker token (a JWT of at most ${MAX_SUBJECT_TOKEN_BYTES} bytes, the one your caller sent you)`,
    );
  return token;
}

/** `--subject-token-file F`: the token alone, surrounding whitespace ignored (as `echo $T > F` leaves it). */
export function readSubjectTokenFile(path: string, flag = "--subject-token-file"): string {
  let text: string;
  try {
    if (statSync(path).size > MAX_SUBJECT_TOKEN_BYTES + 16) throw new SignerError("ERR_REQUEST", "");
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SignerError(
      "ERR_REQUEST",
      code
        ? `${flag} ${path}: cannot be read (${code})`
        : `${flag} ${path}: larger than a broker token; is it the right file?`,
    );
  }
  return validateSubjectToken(text.trim(), `${flag} ${path}`);
}
