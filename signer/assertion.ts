/**
 * Client assertions (RFC 7523, Entra ID certificate credentials), signed with jose from one fixed
 * template: PS256 with `x5t#S256`, `aud` = the configured tenant's token endpoint, `iss` = `sub` =
 * client id, random `jti`, short lifetime. No input from a caller reaches the header or the claims:
 * the signer is never a general signing oracle.
 */
import { randomUUID } from "node:crypto";
import { importPKCS8, SignJWT, type CryptoKey } from "jose";
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

/** What the audit log records about one signed assertion: never the assertion itself. */
export type SignedAssertion = {
  readonly jwt: string;
  readonly jti: string;
  readonly exp: number;
  /** Hex SHA-256 thumbprint of the signing certificate (what the Azure portal shows). */
  readonly thumbprintSha256: string;
};

export type AssertionSigner = {
  /**
   * A signed assertion for the pinned token endpoint. `requestedAudience` is what msal-node asks for;
   * anything other than the pinned endpoint is refused rather than signed.
   */
  assertion(requestedAudience?: string): Promise<string>;
  /** Tell the signer an assertion went over the wire: it will not be handed out again. Returns its facts. */
  markSent(assertion: string): SignedAssertion | undefined;
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
  /** Called once per private-key operation, with public facts only (the audit trail). */
  onSigned?: (signed: SignedAssertion) => void;
};

/**
 * jose signs with Web Crypto keys; the KeyObject is converted once per certificate (non-extractable),
 * through PKCS#8 because `KeyObject.toCryptoKey` does not exist on Node 20.
 */
const signingKeys = new WeakMap<CertificateCredential, Promise<CryptoKey>>();

function signingKey(credential: CertificateCredential): Promise<CryptoKey> {
  let key = signingKeys.get(credential);
  if (key === undefined) {
    const pkcs8 = credential.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    key = importPKCS8(pkcs8, "PS256", { extractable: false });
    signingKeys.set(credential, key);
  }
  return key;
}

/** Sign one assertion: the template. Exported for tests that verify its exact shape and for the bench. */
export async function signAssertion(
  clientId: string,
  tokenEndpoint: string,
  credential: CertificateCredential,
  nowMs: number,
): Promise<SignedAssertion> {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ASSERTION_LIFETIME_S;
  const jti = randomUUID();
  const jwt = await new SignJWT({ aud: tokenEndpoint, iss: clientId, sub: clientId, jti, iat, nbf: iat, exp })
    .setProtectedHeader({ alg: "PS256", typ: "JWT", "x5t#S256": credential.x5tS256 })
    .sign(await signingKey(credential));
  return { jwt, jti, exp, thumbprintSha256: credential.thumbprintSha256 };
}

export function createAssertionSigner(options: AssertionSignerOptions): AssertionSigner {
  const { clientId, tokenEndpoint, credentials } = options;
  const now = options.now ?? Date.now;
  if (credentials.length === 0) throw new SignerError("ERR_CREDENTIAL", "no certificate configured");
  let cached: SignedAssertion | undefined;
  let signatures = 0;

  return {
    async assertion(requestedAudience) {
      if (requestedAudience !== undefined && requestedAudience !== tokenEndpoint) {
        // Signing for another audience would let whoever steers msal mint assertions for another tenant or host.
        throw new SignerError(
          "ERR_CREDENTIAL",
          `refusing to sign a client assertion for ${requestedAudience}: only ${tokenEndpoint} is allowed`,
        );
      }
      const t = now();
      const credential = selectSigningCredential(credentials, new Date(t));
      if (cached && cached.thumbprintSha256 === credential.thumbprintSha256 && cached.exp - t / 1000 >= MIN_REMAINING_S)
        return cached.jwt;
      signatures++;
      const signed = await signAssertion(clientId, tokenEndpoint, credential, t);
      cached = signed;
      options.onSigned?.(signed);
      return signed.jwt;
    },
    markSent(assertion) {
      if (cached?.jwt !== assertion) return undefined;
      const facts = cached;
      cached = undefined;
      return facts;
    },
    get signatures() {
      return signatures;
    },
    signingCredential() {
      return selectSigningCredential(credentials, new Date(now()));
    },
  };
}
