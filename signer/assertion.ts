/**
 * Client assertions (RFC 7523, Entra ID certificate credentials), signed from one fixed template:
 * PS256 with `x5t#S256`, `aud` = the configured tenant's token endpoint, `iss` = `sub` = client id,
 * random `jti`, short lifetime. No input from a caller reaches the header or the claims: the signer
 * is never a general signing oracle.
 */
import { constants, randomUUID, sign } from "node:crypto";
import { selectSigningCredential, type CertificateCredential } from "./credential.ts";
import { SignerError } from "./errors.ts";

/** Entra ID does not cap an assertion's lifetime; a stolen one is replayable until `exp`, so keep it short. */
export const ASSERTION_LIFETIME_S = 300;

/**
 * msal-node calls the assertion callback on every token request, cache hits included. Re-signing each
 * time is a private-key operation per cached read, so an assertion that has not been sent yet is
 * reused while it has at least this long left (covers a slow token request plus clock skew at Entra ID).
 * Once sent it is never handed out again: each request to Entra ID carries a fresh `jti`.
 */
const MIN_REMAINING_S = 180;

/** RFC 7518 §3.5: PS256 uses a salt as long as the SHA-256 hash. */
const PS256_SALT_BYTES = 32;

export type AssertionSigner = {
  /**
   * A signed assertion for the pinned token endpoint. `requestedAudience` is what msal-node asks for;
   * anything other than the pinned endpoint is refused rather than signed.
   */
  assertion(requestedAudience?: string): string;
  /** Tell the signer an assertion went over the wire: it will not be handed out again. */
  markSent(assertion: string): void;
  /** The certificate that signs now (public facts only). */
  signingCredential(): CertificateCredential;
  /** How many private-key operations so far (for logs and tests). */
  readonly signatures: number;
};

export type AssertionSignerOptions = {
  clientId: string;
  tokenEndpoint: string;
  credentials: readonly CertificateCredential[];
  /** Milliseconds since the epoch; an argument so tests can move time. */
  now?: () => number;
};

function b64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** The header depends only on the certificate: encode it once, not per signature. */
const encodedHeaders = new WeakMap<CertificateCredential, string>();

/** Sign one assertion: the template. Exported for tests that verify its exact shape. */
export function signAssertion(
  clientId: string,
  tokenEndpoint: string,
  credential: CertificateCredential,
  nowMs: number,
): { jwt: string; exp: number } {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ASSERTION_LIFETIME_S;
  let header = encodedHeaders.get(credential);
  if (header === undefined) {
    header = b64url({ alg: "PS256", typ: "JWT", "x5t#S256": credential.x5tS256 });
    encodedHeaders.set(credential, header);
  }
  const claims = { aud: tokenEndpoint, iss: clientId, sub: clientId, jti: randomUUID(), iat, nbf: iat, exp };
  const input = `${header}.${b64url(claims)}`;
  const signature = sign("sha256", Buffer.from(input), {
    key: credential.privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: PS256_SALT_BYTES,
  });
  return { jwt: `${input}.${signature.toString("base64url")}`, exp };
}

export function createAssertionSigner(options: AssertionSignerOptions): AssertionSigner {
  const { clientId, tokenEndpoint, credentials } = options;
  const now = options.now ?? Date.now;
  if (credentials.length === 0) throw new SignerError("ERR_CREDENTIAL", "no certificate configured");
  let cached: { jwt: string; exp: number; x5t: string } | undefined;
  let signatures = 0;

  return {
    assertion(requestedAudience) {
      if (requestedAudience !== undefined && requestedAudience !== tokenEndpoint) {
        // Signing for another audience would let whoever steers msal mint assertions for another tenant or host.
        throw new SignerError(
          "ERR_CREDENTIAL",
          `refusing to sign a client assertion for ${requestedAudience}: only ${tokenEndpoint} is allowed`,
        );
      }
      const t = now();
      const credential = selectSigningCredential(credentials, new Date(t));
      if (cached && cached.x5t === credential.x5tS256 && cached.exp - t / 1000 >= MIN_REMAINING_S) return cached.jwt;
      const signed = signAssertion(clientId, tokenEndpoint, credential, t);
      signatures++;
      cached = { ...signed, x5t: credential.x5tS256 };
      return signed.jwt;
    },
    markSent(assertion) {
      if (cached?.jwt === assertion) cached = undefined;
    },
    get signatures() {
      return signatures;
    },
    signingCredential() {
      return selectSigningCredential(credentials, new Date(now()));
    },
  };
}
