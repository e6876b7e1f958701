import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { SignJWT } from "jose";
import { CI_OIDC_ISSUER, CI_OIDC_SUBJECT } from "./sample.ts";

// Plays the CI platform's OIDC provider: it signs the short-lived identity token a runner gets
// (what GitHub Actions or a Kubernetes projected service account token is), and writes it to a
// file the way runners do. Entra trusts it through the CI app's federated credential.

/** Like a runner's token: short-lived, so the signer must re-read the file on every use. */
export const CI_TOKEN_LIFETIME_SECONDS = 10 * 60;

export interface CiOidcIssuer {
  readonly jwks: { keys: object[] };
  /** Signs a fresh runner token and writes it (mode 0600) to `file`. */
  writeToken(file: string, lifetimeSeconds?: number): Promise<void>;
}

export function loadOrCreateCiIssuer(keyFile: string): CiOidcIssuer {
  let privateKey: KeyObject;
  if (existsSync(keyFile)) {
    privateKey = createPrivateKey(readFileSync(keyFile));
  } else {
    privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const publicJwk = { ...createPublicKey(privateKey).export({ format: "jwk" }), kid: "ci-1", use: "sig", alg: "RS256" };
  return {
    jwks: { keys: [publicJwk] },
    async writeToken(file, lifetimeSeconds = CI_TOKEN_LIFETIME_SECONDS) {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ repository: "acme/shop", environment: "production" })
        .setProtectedHeader({ alg: "RS256", kid: "ci-1", typ: "JWT" })
        .setIssuer(CI_OIDC_ISSUER)
        .setSubject(CI_OIDC_SUBJECT)
        .setAudience("api://AzureADTokenExchange")
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + lifetimeSeconds)
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      writeFileSync(file, token, { mode: 0o600 });
    },
  };
}
