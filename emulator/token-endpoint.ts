// POST /{tenant}/oauth2/v2.0/token and /{tenant}/oauth2/token: the client credentials grant, stage by stage.
import { entraErrors } from "./errors.ts";
import { authenticateClient, type CredentialKind } from "./client-auth.ts";
import type { Result } from "./client-assertion.ts";
import { parseTokenRequest, type EndpointVersion } from "./token-request.ts";
import { issueAccessToken, v1Response, type Issuers, type TokenResponse, type V1TokenResponse } from "./token-issue.ts";
import type { KeyRing } from "./signing-keys.ts";
import type { ReplayCache } from "./replay-cache.ts";
import type { Tenant } from "./tenant-file.ts";

export interface TokenEndpointDeps {
  /** The key ring that signs this tenant's tokens (shared, or the tenant's own). */
  readonly keys: (tenant: Tenant) => KeyRing;
  readonly issuers: Issuers;
  /** Lifetime of the next token in seconds (fixed, or Entra's random 60-90 minutes). */
  readonly lifetimeSeconds: () => number;
  /** Add `refresh_in` (half the lifetime) to token responses. */
  readonly refreshIn: boolean;
  readonly replayCache: (tenant: Tenant) => ReplayCache | undefined;
  /** Token endpoint URLs a certificate assertion's `aud` may name for this tenant. */
  readonly assertionAudiences: (tenant: Tenant) => ReadonlySet<string>;
}

export interface TokenCall {
  readonly form: URLSearchParams;
  readonly version: EndpointVersion;
  /** The Authorization header, for client_secret_basic. */
  readonly authorization: string | undefined;
}

export async function handleTokenRequest(
  tenant: Tenant,
  call: TokenCall,
  deps: TokenEndpointDeps,
  nowSec: number,
): Promise<Result<TokenResponse | V1TokenResponse>> {
  const req = parseTokenRequest(call.form, call.version, call.authorization);
  if (!req.ok) return req;
  const client = tenant.apps.get(req.value.clientId);
  if (!client) return { ok: false, error: entraErrors.clientNotFound(req.value.clientId, tenant.tenantId) };
  const auth = await authenticateClient(client, req.value, {
    audiences: deps.assertionAudiences(tenant),
    nowSec,
    replayCache: deps.replayCache(tenant),
  });
  if (!auth.ok) return auth;
  const token = await grantAppOnlyToken(tenant, client.appId, req.value.resource, auth.value, deps, nowSec);
  if (!token.ok || call.version === 2) return token;
  return { ok: true, value: v1Response(token.value, req.value.resource, nowSec) };
}

/** After client authentication: find the resource, check role assignment, issue. */
export async function grantAppOnlyToken(
  tenant: Tenant,
  clientId: string,
  requestedResource: string,
  credential: CredentialKind,
  deps: TokenEndpointDeps,
  nowSec: number,
): Promise<Result<TokenResponse>> {
  const client = tenant.apps.get(clientId.toLowerCase());
  if (!client) return { ok: false, error: entraErrors.clientNotFound(clientId, tenant.tenantId) };
  const resource = tenant.resources.get(requestedResource.toLowerCase());
  if (!resource) return { ok: false, error: entraErrors.resourceNotFound(requestedResource, tenant.tenantId) };
  const roles = resource.roleAssignments.get(client.appId) ?? [];
  if (resource.appRoleAssignmentRequired && roles.length === 0) {
    return {
      ok: false,
      error: entraErrors.roleAssignmentRequired(client.appId, client.displayName, resource.appId, resource.displayName),
    };
  }
  const token = await issueAccessToken(
    {
      tenant,
      client,
      resource,
      requestedResource,
      credential,
      nowSec,
      lifetimeSeconds: deps.lifetimeSeconds(),
      issuers: deps.issuers,
    },
    deps.keys(tenant).active(),
    deps.refreshIn,
  );
  return { ok: true, value: token };
}
