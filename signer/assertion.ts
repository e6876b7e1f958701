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
 * Handed-out assertions whose sending has not been seen yet (msal may fail before sending). Each is
 * handed out once: two requests carrying one `jti` would be refused by Entra ID as a replay. msal is
 * only asked when a request goes out (the token cache is ours), so this holds one or two entries.
 */
const MAX_PENDING = 16;

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
   * A freshly signed assertion for the pinned token endpoint, never handed out twice. `requestedAudience`
   * is what msal-node asks for; anything other than the pinned endpoint is refused rather than signed.
   */
  assertion(requestedAudience?: string): Promise<string>;
  /** Tell the signer an assertion went over the wire; returns its public facts (for the audit trail). */
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
  const now = options.now ?? (() => Date.now());
  if (credentials.length === 0) throw new SignerError("ERR_CREDENTIAL", "no certificate configured");
  const pending = new Map<string, SignedAssertion>();
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
      signatures++;
      const signed = await signAssertion(clientId, tokenEndpoint, credential, t);
      if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
      pending.set(signed.jwt, signed);
      options.onSigned?.(signed);
      return signed.jwt;
    },
    markSent(assertion) {
      const facts = pending.get(assertion);
      pending.delete(assertion);
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
