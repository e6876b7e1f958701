import { base64url, calculateJwkThumbprint, EmbeddedJWK, errors, type JWK, jwtVerify } from "jose";
import { failure, type Failure } from "./failure.ts";
import { err, ok, type Result } from "./result.ts";
import type { BrokerToken } from "./token.ts";

// DPoP-bound tokens (RFC 9449 §7): a token with `cnf.jkt` is only good together with a proof,
// made for this request, by the key whose thumbprint it names. jose checks the proof's JOSE side
// (typ, alg allow-list, the signature by the embedded public key, the iat window); we check what
// only the request can say: method, URL, the token's hash, the key, and that the proof is new.

/** What the broker and its clients use for proofs (RFC 9449 §5.1 `dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ["ES256", "EdDSA", "Ed25519"] as const;
/** §11.1: a proof is for one request, now; a minute covers a slow client, not a stored proof. */
export const DPOP_MAX_AGE_SECONDS = 60;
/** An EC or Ed25519 proof is ~600 bytes; anything near this is not a proof. */
const MAX_PROOF_LENGTH = 4096;
const MAX_JTI_LENGTH = 256;
/** Distinct proofs within one window per process; bounds memory under a flood of fresh proofs. */
const MAX_REPLAY_ENTRIES = 100_000;

/** How the request presented its token, and the parts of the request a proof is about. */
export interface PresentedRequest {
  /** The Authorization scheme the token came with. */
  readonly scheme: "Bearer" | "DPoP";
  readonly method: string;
  /** The request's URL as this origin serves it (its own origin + path); query and fragment are ignored. */
  readonly url: string;
  /** The `DPoP` header value(s), if any. */
  readonly proof: string | readonly string[] | null | undefined;
}

/** Proofs seen, by key and jti, until they could no longer be accepted anyway. */
export interface ReplayCache {
  claim(key: string, until: number, now: number): boolean;
}

export function createReplayCache(maxEntries = MAX_REPLAY_ENTRIES): ReplayCache {
  const seen = new Map<string, number>();
  return {
    claim(key, until, now) {
      const previous = seen.get(key);
      if (previous !== undefined && now <= previous) return false;
      seen.delete(key);
      seen.set(key, until);
      // Oldest first: an entry past its window is useless, and the bound holds whatever arrives.
      for (const [k, expiry] of seen) {
        if (seen.size <= maxEntries && expiry >= now) break;
        seen.delete(k);
      }
      return true;
    },
  };
}

/**
 * The sender constraint: a bound token needs the DPoP scheme and a valid proof; the DPoP scheme
 * needs a bound token. Unbound tokens presented as Bearer pass untouched.
 */
export async function checkSenderConstraint(
  token: BrokerToken,
  accessToken: string,
  request: PresentedRequest | undefined,
  replay: ReplayCache,
  clockSkewSeconds: number,
  nowMs: number,
): Promise<Result<BrokerToken, Failure>> {
  if (token.jkt === undefined) {
    if (request?.scheme === "DPoP")
      return err(failure("dpop_token_not_bound", { detail: "the DPoP scheme with a token that has no cnf.jkt" }));
    return ok(token);
  }
  // §7.1: a bound token used as a bearer token is refused, or stealing it would be enough.
  if (request?.scheme !== "DPoP")
    return err(failure("dpop_bound_token_as_bearer", { detail: "a DPoP-bound token needs Authorization: DPoP" }));
  const header = request.proof;
  if (header === undefined || header === null || header === "")
    return err(failure("dpop_proof_missing", { detail: "no DPoP header" }));
  if (typeof header !== "string" || header.includes(","))
    return err(failure("dpop_proof_invalid", { detail: "more than one DPoP header" }));
  return verifyProof(header.trim(), token, accessToken, request, replay, clockSkewSeconds, nowMs);
}

async function verifyProof(
  proof: string,
  token: BrokerToken,
  accessToken: string,
  request: PresentedRequest,
  replay: ReplayCache,
  clockSkewSeconds: number,
  nowMs: number,
): Promise<Result<BrokerToken, Failure>> {
  const invalid = (detail: string) => err(failure("dpop_proof_invalid", { detail }));
  if (proof.length > MAX_PROOF_LENGTH) return invalid(`proof is ${proof.length} characters`);
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: "dpop+jwt",
      algorithms: [...DPOP_ALGORITHMS],
      currentDate: new Date(nowMs),
      maxTokenAge: DPOP_MAX_AGE_SECONDS,
      clockTolerance: clockSkewSeconds,
      requiredClaims: ["jti", "htm", "htu", "iat", "ath"],
    });
  } catch (e) {
    return invalid(e instanceof errors.JOSEError ? `${e.code}: ${e.message}` : "not a DPoP proof");
  }
  const { payload, protectedHeader } = verified;
  const { jti, htm, htu, ath, iat } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) return invalid("jti");
  if (htm !== request.method) return invalid(`htm ${JSON.stringify(htm)} for a ${request.method} request`);
  if (typeof htu !== "string" || !sameTarget(htu, request.url))
    return invalid(`htu ${JSON.stringify(htu)} for ${request.url}`);
  if (ath !== (await accessTokenHash(accessToken))) return invalid("ath is not the hash of this access token");
  const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, "sha256");
  if (jkt !== token.jkt)
    return err(failure("dpop_key_mismatch", { detail: `proof key ${jkt}, token bound to ${token.jkt}` }));
  // Last, so that a proof refused for another reason does not use up its jti.
  const nowSeconds = Math.floor(nowMs / 1000);
  if (!replay.claim(`${jkt}.${jti}`, (iat as number) + DPOP_MAX_AGE_SECONDS + clockSkewSeconds, nowSeconds))
    return err(failure("dpop_proof_replayed", { detail: `jti ${jti} was already used` }));
  return ok(token);
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token. */
async function accessTokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/** §4.3 check 9: scheme, host, port and path; URL parsing normalises case and default ports. */
function sameTarget(htu: string, requestUrl: string): boolean {
  let claimed: URL;
  try {
    claimed = new URL(htu);
  } catch {
    return false;
  }
  const actual = new URL(requestUrl);
  return claimed.origin === actual.origin && claimed.pathname === actual.pathname;
}
