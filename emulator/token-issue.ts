// Access tokens shaped like Entra ID's app-only tokens, v1.0 or v2.0 as the resource app asks.
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { authMethodClaim, type CredentialKind } from "./client-auth.ts";
import type { SigningKey } from "./signing-keys.ts";
import type { App, Tenant } from "./tenant-file.ts";

/** Entra backdates iat/nbf by 5 minutes so that resource servers with slow clocks accept the token. */
export const BACKDATE_SECONDS = 300;
/** Default token lifetime: Entra's app-only tokens live 60-90 minutes; msal sees expires_in 3599. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3599;

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

export async function issueAccessToken(i: IssueInput, key: SigningKey): Promise<TokenResponse> {
  const claims = buildClaims(i);
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ typ: "JWT", alg: "RS256", x5t: key.kid, kid: key.kid })
    .sign(key.privateKey);
  return {
    token_type: "Bearer",
    expires_in: i.lifetimeSeconds,
    ext_expires_in: i.lifetimeSeconds,
    access_token: accessToken,
  };
}

function opaque(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}
