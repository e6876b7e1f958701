import { base64url, calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify, type JWK } from "jose";
import { BoundedLru } from "./lru.ts";
import { err, ok, type Result } from "./result.ts";

// RFC 9449 (DPoP): a proof JWT in the `DPoP` header shows that the sender holds the private key
// whose public half the proof embeds. jose does the JOSE work (typ, alg allow-list, signature by
// the embedded key, which must be public, iat window); we add what it cannot know: the request's
// method and URL, the access-token hash and the replay cache.

/** What the broker accepts in proofs, as listed in `dpop_signing_alg_values_supported`. `Ed25519` is
 *  the fully-specified name for EdDSA over Ed25519 (RFC 9864) that current clients (panva/dpop) send. */
export const DPOP_ALGORITHMS = ["ES256", "EdDSA", "Ed25519"] as const;
/** RFC 9449 §11.1: proofs are meant to be used at once; a minute covers a slow client, not a stored proof. */
export const DPOP_MAX_AGE_SECONDS = 60;
/** An EC or Ed25519 proof is ~600 bytes; anything near this is not a proof and is refused before parsing. */
const MAX_PROOF_BYTES = 4096;
/** A jti is a random identifier (≥ 96 bits of entropy per §4.2); longer is abuse of the replay cache. */
const MAX_JTI_LENGTH = 256;

export type DpopProblem =
  /** More than one DPoP header (§4.3 check 1). */
  | { readonly reason: "dpop_proof_multiple" }
  | { readonly reason: "dpop_proof_malformed"; readonly detail?: string }
  | { readonly reason: "dpop_alg_unsupported" }
  | { readonly reason: "dpop_signature_invalid" }
  | { readonly reason: "dpop_iat_out_of_window" }
  | { readonly reason: "dpop_htm_mismatch" }
  | { readonly reason: "dpop_htu_mismatch" }
  | { readonly reason: "dpop_ath_mismatch" }
  | { readonly reason: "dpop_replayed" };

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: the `cnf.jkt` a bound token carries. */
  readonly jkt: string;
  readonly jti: string;
}

/** What the proof must be about: this request, and (at a resource) this access token. */
export interface DpopExpectation {
  readonly method: string;
  /** The request's URL; only scheme, host, port and path are compared (§4.3 check 9). */
  readonly url: string;
  /** Set at a resource: the proof's `ath` must be the SHA-256 of this token (§4.3 check 12). */
  readonly accessToken?: string;
  /** Allowed clock difference, seconds, on top of DPOP_MAX_AGE_SECONDS. */
  readonly clockSkewSeconds: number;
}

/** Proofs seen in this isolate, by key thumbprint and jti, for as long as they could be accepted. */
export interface DpopReplayCache {
  /** Records the proof; false when it was already recorded and is still inside its window. */
  claim(key: string, acceptableUntil: number, now: number): boolean;
}

/** Distinct proofs within one window per isolate; the bound caps memory under a flood of fresh proofs. */
const MAX_REPLAY_ENTRIES = 100_000;
const REPLAY_ENTRY_WEIGHT = 128;

export function createDpopReplayCache(): DpopReplayCache {
  const seen = new BoundedLru<string, number>({
    maxEntries: MAX_REPLAY_ENTRIES,
    maxWeight: MAX_REPLAY_ENTRIES * REPLAY_ENTRY_WEIGHT,
  });
  return {
    claim(key, acceptableUntil, now) {
      const until = seen.get(key);
      if (until !== undefined && now <= until) return false;
      seen.set(key, acceptableUntil, REPLAY_ENTRY_WEIGHT);
      return true;
    },
  };
}

/**
 * Reads the `DPoP` header: undefined when there is none (an unbound request), else the verified proof.
 * `now` is Unix seconds.
 */
export async function readDpopProof(
  headers: Headers,
  expected: DpopExpectation,
  replay: DpopReplayCache,
  now: number,
): Promise<Result<DpopProof | undefined, DpopProblem>> {
  const header = headers.get("dpop");
  if (header === null) return ok(undefined);
  // Headers.get joins repeated fields with ", "; a compact JWS never contains a comma.
  if (header.includes(",")) return err({ reason: "dpop_proof_multiple" });
  return verifyDpopProof(header.trim(), expected, replay, now);
}

export async function verifyDpopProof(
  proof: string,
  expected: DpopExpectation,
  replay: DpopReplayCache,
  now: number,
): Promise<Result<DpopProof, DpopProblem>> {
  if (proof.length === 0 || proof.length > MAX_PROOF_BYTES) return err({ reason: "dpop_proof_malformed" });
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: "dpop+jwt",
      algorithms: [...DPOP_ALGORITHMS],
      currentDate: new Date(now * 1000),
      maxTokenAge: DPOP_MAX_AGE_SECONDS,
      clockTolerance: expected.clockSkewSeconds,
      requiredClaims: ["jti", "htm", "htu", "iat"],
    });
  } catch (error) {
    return err(problemOf(error));
  }
  const { payload, protectedHeader } = verified;
  const { jti, htm, htu, ath } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    return err({ reason: "dpop_proof_malformed", detail: "jti" });
  if (htm !== expected.method) return err({ reason: "dpop_htm_mismatch" });
  if (typeof htu !== "string" || !sameTarget(htu, expected.url)) return err({ reason: "dpop_htu_mismatch" });
  if (expected.accessToken !== undefined && ath !== (await accessTokenHash(expected.accessToken)))
    return err({ reason: "dpop_ath_mismatch" });

  const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, "sha256");
  // Last, so that a proof refused for another reason does not use up its jti. Kept for as long
  // as jose would still accept its iat: after that the age check refuses it anyway.
  const acceptableUntil = (payload.iat as number) + DPOP_MAX_AGE_SECONDS + expected.clockSkewSeconds;
  if (!replay.claim(`${jkt}.${jti}`, acceptableUntil, now)) return err({ reason: "dpop_replayed" });
  return ok({ jkt, jti });
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the ASCII access token. */
export async function accessTokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/** §4.3 check 9: htu names the request's URI without query and fragment; URL parsing normalises
 *  case, default ports and dot segments (RFC 3986 §6.2.2-6.2.3). */
function sameTarget(htu: string, requestUrl: string): boolean {
  if (!URL.canParse(htu)) return false;
  const claimed = new URL(htu);
  const actual = new URL(requestUrl);
  return claimed.origin === actual.origin && claimed.pathname === actual.pathname;
}

function problemOf(error: unknown): DpopProblem {
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported)
    return { reason: "dpop_alg_unsupported" };
  if (error instanceof errors.JWSSignatureVerificationFailed) return { reason: "dpop_signature_invalid" };
  // JWTExpired covers an iat too far in the past (maxTokenAge) and an exp in the past.
  if (error instanceof errors.JWTExpired) return { reason: "dpop_iat_out_of_window" };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iat" || error.claim === "nbf") return { reason: "dpop_iat_out_of_window" };
    return { reason: "dpop_proof_malformed", detail: error.claim };
  }
  // Not a JWS, a bad header, no jwk or a private one (EmbeddedJWK accepts public keys only).
  return { reason: "dpop_proof_malformed" };
}
