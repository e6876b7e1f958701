// The token signing keys. Like Entra ID, the JWKS publishes several RSA keys (each with a
// self-signed certificate in x5c), `kid` equals `x5t` (base64url SHA-1 of the certificate), and the
// same keys serve every tenant. One key signs; the others are published ahead of use.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { createTestCertificate } from "./test-certificate.ts";

/** How many keys the JWKS publishes at any time (Entra typically publishes 3-6). */
export const PUBLISHED_KEY_COUNT = 3;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: { kty: "RSA"; use: "sig"; kid: string; x5t: string; n: string; e: string; x5c: string[] };
}

export interface KeyRing {
  /** The key that signs new tokens. */
  active(): SigningKey;
  /** Every published key, the active one first. */
  published(): readonly SigningKey[];
  /**
   * Retires the active key (it disappears from the JWKS at once) and publishes a new one.
   * `activate: "next"` (default) signs from now on with the next key already published, the way a
   * planned rollover looks to a client that cached the JWKS; `"added"` signs with the brand-new key,
   * so a client's cached JWKS lacks the kid (the "refetch once on unknown kid" path).
   */
  rotate(activate?: "next" | "added"): { added: string; retired: string | undefined };
  /** Resolves when the spare keys that make rotate() synchronous are ready. */
  settled(): Promise<void>;
}

/** Keys generated ahead so that rotate() is synchronous (RSA + certificate generation is async). */
const SPARE_KEYS = 3;

async function newKey(label: string): Promise<SigningKey> {
  const cert = await createTestCertificate(`CN=Entra ID emulator token signing ${label}`);
  const privateKey = createPrivateKey(cert.keyPem);
  const pub = createPublicKey(privateKey).export({ format: "jwk" });
  const kid = cert.thumbprintSha1Base64url;
  return Object.freeze({
    kid,
    privateKey,
    jwk: {
      kty: "RSA" as const,
      use: "sig" as const,
      kid,
      x5t: kid,
      n: String(pub.n),
      e: String(pub.e),
      x5c: [cert.derBase64],
    },
  });
}

export async function createKeyRing(): Promise<KeyRing> {
  let keys: SigningKey[] = await Promise.all(Array.from({ length: PUBLISHED_KEY_COUNT }, (_, i) => newKey(String(i))));
  let generation = PUBLISHED_KEY_COUNT;
  const spares: SigningKey[] = await Promise.all(
    Array.from({ length: SPARE_KEYS }, () => newKey(String(generation++))),
  );
  let refill: Promise<void> = Promise.resolve();
  return {
    active: () => keys[0]!,
    published: () => keys,
    rotate(activate = "next") {
      const added = spares.shift();
      if (!added)
        throw new Error(
          `rotateSigningKeys: more than ${SPARE_KEYS} rotations before spare keys were regenerated; await a moment between rotations`,
        );
      refill = refill.then(async () => void spares.push(await newKey(String(generation++))));
      const [retired, ...rest] = keys;
      keys = activate === "added" ? [added, ...rest] : [...rest, added];
      return { added: added.kid, retired: retired?.kid };
    },
    settled: () => refill,
  };
}
