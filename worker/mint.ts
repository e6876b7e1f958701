import type { Caller } from "./entra-token.ts";
import { SignJWT } from "jose";
import type { Grant } from "./policy.ts";
import type { SigningKeys } from "./signing-keys.ts";

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

export async function mint(input: MintInput, keys: SigningKeys): Promise<IssuedToken> {
  const { issuer, caller, grant, ttlSeconds, now } = input;
  const { kid, alg, key } = keys.active;
  const jti = crypto.randomUUID();
  const scope = grant.scopes.join(" ");
  const exp = now + ttlSeconds;
  const token = await new SignJWT({
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
  })
    // RFC 9068 §2.1: typ "at+jwt" so that an ID token or other JWT cannot be passed off as one.
    .setProtectedHeader({ alg, typ: "at+jwt", kid })
    .sign(key);
  return { token, jti, expiresIn: ttlSeconds, expiresAt: exp, scope };
}
