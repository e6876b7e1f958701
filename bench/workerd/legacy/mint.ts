import type { Caller } from "./entra-token.ts";
import { encodeBase64Url } from "./jws.ts";
import type { Grant } from "../../../worker/policy.ts";
import type { SigningKeys } from "../../../worker/signing-keys.ts";

// Mints the downstream token: an RFC 9068 JWT access token for one origin.

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresIn: number;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly scope: string;
}

export interface MintInput {
  readonly issuer: string;
  readonly caller: Caller;
  readonly grant: Grant;
  readonly ttlSeconds: number;
  /** Unix seconds. */
  readonly now: number;
}

const encoder = new TextEncoder();

export async function mint(input: MintInput, keys: SigningKeys): Promise<IssuedToken> {
  const { issuer, caller, grant, ttlSeconds, now } = input;
  const { kid, alg, key } = keys.active;
  const jti = crypto.randomUUID();
  const scope = grant.scopes.join(" ");
  const exp = now + ttlSeconds;
  // RFC 9068 §2.1: typ "at+jwt" so that an ID token or other JWT cannot be passed off as one.
  const header = { alg, typ: "at+jwt", kid };
  const claims = {
    iss: issuer,
    sub: caller.appId,
    client_id: caller.appId,
    aud: grant.resource,
    scope,
    iat: now,
    nbf: now,
    exp,
    jti,
    tid: caller.tenantId,
    roles: grant.roles,
  };
  const signingInput = `${b64json(header)}.${b64json(claims)}`;
  const algorithm = alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
  // Web Crypto's ECDSA output is already the JOSE r||s form (RFC 7518 §3.4).
  const signature = new Uint8Array(await crypto.subtle.sign(algorithm, key, encoder.encode(signingInput)));
  return { token: `${signingInput}.${encodeBase64Url(signature)}`, jti, expiresIn: ttlSeconds, expiresAt: exp, scope };
}

function b64json(value: unknown): string {
  return encodeBase64Url(encoder.encode(JSON.stringify(value)));
}
