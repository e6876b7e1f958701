/**
 * Workload identity federation: the client assertion is an OIDC token issued by someone else (a CI
 * pipeline, Kubernetes' projected service account token). Those tokens are short-lived and rotated
 * on disk, so the file is re-read on every use and never cached here.
 */
import { readFileSync, statSync } from "node:fs";
import { decodeJwt } from "jose";
import { SignerError } from "./errors.ts";

/** OIDC tokens are a few KiB; a cap stops a wrong path being read whole. */
const MAX_FEDERATED_TOKEN_BYTES = 64 * 1024;

/** The token and the claims the audit log may name (never the token itself). */
export type FederatedToken = { readonly token: string; readonly jti: string | undefined };

export function readFederatedToken(tokenFile: string, nowMs: number = Date.now()): FederatedToken {
  let token: string;
  try {
    if (statSync(tokenFile).size > MAX_FEDERATED_TOKEN_BYTES) {
      throw new SignerError(
        "ERR_CREDENTIAL",
        `federated token file ${tokenFile}: larger than ${MAX_FEDERATED_TOKEN_BYTES} bytes; is it the right file?`,
      );
    }
    token = readFileSync(tokenFile, "utf8").trim();
  } catch (e) {
    if (e instanceof SignerError) throw e;
    throw new SignerError(
      "ERR_CREDENTIAL",
      `federated token file ${tokenFile}: cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  let claims: { exp?: unknown; jti?: unknown };
  try {
    claims = decodeJwt(token);
  } catch {
    // Not a compact JWS with a JSON payload; the error names the file, never its contents.
    throw new SignerError("ERR_CREDENTIAL", `federated token file ${tokenFile}: does not hold a JWT`);
  }
  const { exp } = claims;
  // Sending an expired token only earns an opaque AADSTS error; say what is actually wrong.
  if (typeof exp === "number" && exp * 1000 <= nowMs) {
    throw new SignerError(
      "ERR_CREDENTIAL",
      `federated token file ${tokenFile}: the token expired at ${new Date(exp * 1000).toISOString()}; is whatever refreshes this file running?`,
    );
  }
  return { token, jti: typeof claims.jti === "string" ? claims.jti.slice(0, 128) : undefined };
}
