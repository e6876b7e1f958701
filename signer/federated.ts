/**
 * Workload identity federation: the client assertion is an OIDC token issued by someone else (a CI
 * pipeline, Kubernetes' projected service account token). Those tokens are short-lived and rotated
 * on disk, so the file is re-read on every use and never cached here.
 */
import { readFileSync, statSync } from "node:fs";
import { SignerError } from "./errors.ts";

/** OIDC tokens are a few KiB; a cap stops a wrong path being read whole. */
const MAX_FEDERATED_TOKEN_BYTES = 64 * 1024;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function readFederatedToken(tokenFile: string, nowMs: number = Date.now()): string {
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
  if (!JWT_SHAPE.test(token))
    throw new SignerError("ERR_CREDENTIAL", `federated token file ${tokenFile}: does not hold a JWT`);
  let exp: unknown;
  try {
    exp = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown }).exp;
  } catch {
    throw new SignerError("ERR_CREDENTIAL", `federated token file ${tokenFile}: the JWT payload is not JSON`);
  }
  // Sending an expired token only earns an opaque AADSTS error; say what is actually wrong.
  if (typeof exp === "number" && exp * 1000 <= nowMs) {
    throw new SignerError(
      "ERR_CREDENTIAL",
      `federated token file ${tokenFile}: the token expired at ${new Date(exp * 1000).toISOString()}; is whatever refreshes this file running?`,
    );
  }
  return token;
}
