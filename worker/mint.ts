import { actClaim } from "./broker-token.ts";
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
  /** Delegation (RFC 8693 §4.1): on whose behalf (`sub`) and the actors, newest first (`act`). */
  readonly delegation?: { readonly subject: string; readonly actors: readonly string[] };
  /** RFC 9449 §6.1: the DPoP key thumbprint the token is bound to (`cnf.jkt`). */
  readonly jkt?: string;
}

export async function mint(input: MintInput, keys: SigningKeys): Promise<IssuedToken> {
  const { issuer, caller, grant, ttlSeconds, now, delegation, jkt } = input;
  const { kid, alg, key } = keys.active;
  const jti = crypto.randomUUID();
  const scope = grant.scopes.join(" ");
  const exp = now + ttlSeconds;
  const token = await new SignJWT({
    iss: issuer,
    sub: delegation?.subject ?? caller.appId,
    client_id: caller.appId,
    aud: grant.resource,
    scope,
    iat: now,
    nbf: now,
    exp,
    jti,
    tid: caller.tenantId,
    roles: grant.roles,
    ...(delegation && { act: actClaim(delegation.actors) }),
    ...(jkt !== undefined && { cnf: { jkt } }),
  })
    // RFC 9068 §2.1: typ "at+jwt" so that an ID token or other JWT cannot be passed off as one.
    .setProtectedHeader({ alg, typ: "at+jwt", kid })
    .sign(key);
  return { token, jti, expiresIn: ttlSeconds, expiresAt: exp, scope };
}
