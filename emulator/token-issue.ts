// Access tokens shaped like Entra ID's app-only tokens, v1.0 or v2.0 as the resource app asks.
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { authMethodClaim, type CredentialKind } from "./client-auth.ts";
import type { SigningKey } from "./signing-keys.ts";
import type { App, Tenant } from "./tenant-file.ts";

/** Entra backdates iat/nbf by 5 minutes so that resource servers with slow clocks accept the token. */
export const BACKDATE_SECONDS = 300;
/** Default token lifetime: a fixed 3599 s, so tests can predict it (option: Entra's random 60-90 minutes). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3599;
/** Entra gives access tokens a random lifetime between 60 and 90 minutes (75 on average). */
export const RANDOM_LIFETIME_SECONDS = { min: 3600, max: 5400 } as const;

export interface Issuers {
  /** v2.0: `{origin}/{tid}/v2.0`. */
  v2(tenantId: string): string;
  /** v1.0: `{stsHost}/{tid}/`. */
  v1(tenantId: string): string;
}

export interface IssueInput {
  readonly tenant: Tenant;
  readonly client: App;
  readonly resource: App;
  /** The resource identifier the client asked for (v1 tokens use it as `aud`). */
  readonly requestedResource: string;
  readonly credential: CredentialKind;
  readonly nowSec: number;
  readonly lifetimeSeconds: number;
  readonly issuers: Issuers;
}

export interface TokenResponse {
  token_type: "Bearer";
  expires_in: number;
  ext_expires_in: number;
  /** When the client should refresh (seconds from now); sent only when the emulator option is on. */
  refresh_in?: number;
  access_token: string;
}

/** The v1 endpoint's answer: numbers as strings, absolute times, and the resource. */
export interface V1TokenResponse {
  token_type: "Bearer";
  expires_in: string;
  ext_expires_in: string;
  expires_on: string;
  not_before: string;
  resource: string;
  access_token: string;
}

/** The claims, in the order Entra writes them. Roles are omitted when the client holds none. */
export function buildClaims(i: IssueInput): Record<string, unknown> {
  const tid = i.tenant.tenantId;
  const roles = i.resource.roleAssignments.get(i.client.appId);
  const oid = i.client.servicePrincipalObjectId;
  const common = {
    iat: i.nowSec - BACKDATE_SECONDS,
    nbf: i.nowSec - BACKDATE_SECONDS,
    exp: i.nowSec + i.lifetimeSeconds,
    aio: opaque(48),
  };
  const tail = {
    ...(i.resource.idtypClaim ? { idtyp: "app" } : {}),
    oid,
    rh: `1.${opaque(32)}AA.`,
    ...(roles && roles.length > 0 ? { roles: [...roles] } : {}),
    sub: oid,
    tid,
    uti: opaque(16),
  };
  if (i.resource.accessTokenVersion === 2) {
    return {
      aud: i.resource.appId,
      iss: i.issuers.v2(tid),
      ...common,
      azp: i.client.appId,
      azpacr: authMethodClaim(i.credential),
      ...tail,
      ver: "2.0",
    };
  }
  // v1.0: aud is the identifier the client asked for (the app ID URI, or the appId if it used that).
  return {
    aud: i.requestedResource,
    iss: i.issuers.v1(tid),
    ...common,
    appid: i.client.appId,
    appidacr: authMethodClaim(i.credential),
    idp: i.issuers.v1(tid),
    ...tail,
    ver: "1.0",
  };
}

export async function issueAccessToken(i: IssueInput, key: SigningKey, refreshIn: boolean): Promise<TokenResponse> {
  const claims = buildClaims(i);
  // v2.0 tokens carry typ, alg, kid only; v1.0 tokens also carry x5t (equal to kid).
  const header =
    i.resource.accessTokenVersion === 2
      ? { typ: "JWT", alg: "RS256", kid: key.kid }
      : { typ: "JWT", alg: "RS256", x5t: key.kid, kid: key.kid };
  const accessToken = await new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  return {
    token_type: "Bearer",
    expires_in: i.lifetimeSeconds,
    ext_expires_in: i.lifetimeSeconds,
    // Entra suggests refreshing at half the lifetime; msal-node turns it into refreshOn.
    ...(refreshIn ? { refresh_in: Math.floor(i.lifetimeSeconds / 2) } : {}),
    access_token: accessToken,
  };
}

/** The same token in the v1 endpoint's response shape. */
export function v1Response(t: TokenResponse, resource: string, nowSec: number): V1TokenResponse {
  return {
    token_type: "Bearer",
    expires_in: String(t.expires_in),
    ext_expires_in: String(t.ext_expires_in),
    expires_on: String(nowSec + t.expires_in),
    not_before: String(nowSec - BACKDATE_SECONDS),
    resource,
    access_token: t.access_token,
  };
}

function opaque(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}
