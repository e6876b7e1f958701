/**
 * Every failure the signer reports has a stable `code`: callers (the CLI's exit codes, the socket's
 * JSON errors, the client library) branch on it, never on message text. Messages say what to fix and
 * never contain key material or a full token.
 *
 * The codes are one list: the type, the client library's set of known codes and the exhaustive maps
 * to exit codes and HTTP statuses all derive from it, so adding a code cannot leave one behind.
 */
export const SIGNER_ERROR_CODES = [
  "ERR_CONFIG", // a setting is missing or malformed
  "ERR_KEY_UNSAFE", // the private key is readable or replaceable by others, or was passed through argv/env
  "ERR_CREDENTIAL", // a key, certificate, PFX or federated token file cannot be used
  "ERR_TOKEN", // Entra ID refused or failed to issue a token
  "ERR_EXCHANGE", // the broker refused the exchange (carries the broker's OAuth error)
  "ERR_NETWORK", // a peer could not be reached or answered garbage
  "ERR_TIMEOUT", // Entra ID or the broker did not answer within the signer's deadline
  "ERR_SOCKET", // the unix socket cannot be created safely or reached
  "ERR_REQUEST", // a caller's request to the daemon is malformed
  "ERR_USAGE", // the CLI was called wrongly
] as const;

export type SignerErrorCode = (typeof SIGNER_ERROR_CODES)[number];

const KNOWN = new Set<string>(SIGNER_ERROR_CODES);

export function isSignerErrorCode(value: unknown): value is SignerErrorCode {
  return typeof value === "string" && KNOWN.has(value);
}

export class SignerError extends Error {
  readonly code: SignerErrorCode;
  /** For ERR_EXCHANGE / ERR_TOKEN: the peer's RFC 6749 error code, if it sent one. */
  readonly oauthError: string | undefined;
  /** For ERR_EXCHANGE / ERR_TOKEN: the HTTP status the peer answered with, if any. */
  readonly status: number | undefined;
  /** For ERR_EXCHANGE: the broker's error_description (the subject token redacted). */
  readonly brokerDescription: string | undefined;

  constructor(
    code: SignerErrorCode,
    message: string,
    extra: { oauthError?: string; status?: number; brokerDescription?: string } = {},
  ) {
    super(message);
    this.name = "SignerError";
    this.code = code;
    this.oauthError = extra.oauthError;
    this.status = extra.status;
    this.brokerDescription = extra.brokerDescription;
  }
}

export function isSignerError(e: unknown): e is SignerError {
  return e instanceof SignerError;
}
