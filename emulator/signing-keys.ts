// The token signing keys of one key scope (the shared keys, or one tenant's own). Like Entra ID,
// the JWKS publishes several RSA keys (each with a self-signed certificate in x5c) and `kid` equals
// `x5t` (base64url SHA-1 of the certificate). A key is published before it signs and stays published
// after it stops signing, so verifiers with a cached JWKS never see an unknown kid in a planned
// rollover; the emergency rollover drops the signing key at once and signs with a never-published one.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { createTestCertificate } from "./test-certificate.ts";

/** Keys published ahead of use: with the signing key, the JWKS starts with 3 (Entra publishes 3-6). */
export const NEXT_KEY_COUNT = 2;
/** Retired keys kept published (Entra keeps them for weeks); older ones drop off, bounding the JWKS. */
export const RETIRED_KEY_KEEP = 3;
/** Keys generated ahead so that rotate() is synchronous (RSA + certificate generation is async). */
const SPARE_KEYS = 3;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: { kty: "RSA"; use: "sig"; kid: string; x5t: string; n: string; e: string; x5c: string[] };
}

export type RotationMode = "planned" | "emergency";

export interface Rotation {
  /** The key that signs from now on. */
  readonly active: string;
  /** The key newly published by this rotation. */
  readonly added: string;
  /** The key that stopped signing: still published after a planned rotation, gone after an emergency. */
  readonly retired: string;
}

export interface KeyState {
  readonly active: string;
  readonly next: readonly string[];
  readonly retired: readonly string[];
}

export interface KeyRing {
  /** The key that signs new tokens. */
  active(): SigningKey;
  /** Every published key: the active one, then the next ones (oldest first), then the retired ones. */
  published(): readonly SigningKey[];
  /** The most recently published key (what a lagging front end does not serve yet). */
  newest(): SigningKey;
  /**
   * "planned": the oldest next key (published since the previous rotation) signs, the old signing
   * key stays published as retired, and a new next key is published.
   * "emergency": the signing key leaves the JWKS at once and a never-published key signs, so a
   * cached JWKS lacks the kid (the refetch-on-unknown-kid path).
   */
  rotate(mode?: RotationMode): Rotation;
  /** Unpublishes every retired key (the end of Entra's overlap period); returns their kids. */
  dropRetired(): string[];
  state(): KeyState;
  /** Resolves when the spare keys that make rotate() synchronous are ready. */
  settled(): Promise<void>;
}

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

export async function createKeyRing(label = "shared"): Promise<KeyRing> {
  let generation = 0;
  const make = (n: number) => Promise.all(Array.from({ length: n }, () => newKey(`${label} ${generation++}`)));
  let [active, ...next] = await make(1 + NEXT_KEY_COUNT);
  let retired: SigningKey[] = [];
  let newest = next.at(-1) ?? active!;
  const spares = await make(SPARE_KEYS);
  let refill: Promise<void> = Promise.resolve();
  const takeSpare = (): SigningKey => {
    const k = spares.shift();
    if (!k)
      throw new Error(
        `rotateSigningKeys: more than ${SPARE_KEYS} rotations before spare keys were regenerated; await a moment between rotations`,
      );
    refill = refill.then(async () => void spares.push(...(await make(1))));
    return k;
  };
  return {
    active: () => active!,
    published: () => [active!, ...next, ...retired],
    newest: () => newest,
    rotate(mode = "planned") {
      const old = active!;
      const added = takeSpare();
      if (mode === "emergency") {
        active = added;
      } else {
        active = next.shift() ?? added;
        next.push(added);
        retired = [old, ...retired].slice(0, RETIRED_KEY_KEEP);
      }
      newest = added;
      return { active: active.kid, added: added.kid, retired: old.kid };
    },
    dropRetired() {
      const dropped = retired.map((k) => k.kid);
      retired = [];
      return dropped;
    },
    state: () => ({ active: active!.kid, next: next.map((k) => k.kid), retired: retired.map((k) => k.kid) }),
    settled: () => refill,
  };
}
