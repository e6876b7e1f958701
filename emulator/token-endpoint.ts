// POST /{tenant}/oauth2/v2.0/token: the client credentials grant, stage by stage.
import { entraErrors } from "./errors.ts";
import { authenticateClient, type CredentialKind } from "./client-auth.ts";
import type { Result } from "./client-assertion.ts";
import { parseTokenRequest } from "./token-request.ts";
import { issueAccessToken, type Issuers, type TokenResponse } from "./token-issue.ts";
import type { KeyRing } from "./signing-keys.ts";
import type { ReplayCache } from "./replay-cache.ts";
import type { Tenant } from "./tenant-file.ts";

export interface TokenEndpointDeps {
  readonly keys: KeyRing;
  readonly issuers: Issuers;
  readonly lifetimeSeconds: number;
  readonly replayCache: (tenant: Tenant) => ReplayCache | undefined;
  /** Token endpoint URLs a certificate assertion's `aud` may name for this tenant. */
  readonly assertionAudiences: (tenant: Tenant) => ReadonlySet<string>;
}

export async function handleTokenRequest(
  tenant: Tenant,
  form: URLSearchParams,
  deps: TokenEndpointDeps,
  nowSec: number,
): Promise<Result<TokenResponse>> {
  const req = parseTokenRequest(form);
  if (!req.ok) return req;
  const client = tenant.apps.get(req.value.clientId);
  if (!client) return { ok: false, error: entraErrors.clientNotFound(req.value.clientId, tenant.tenantId) };
  const auth = await authenticateClient(client, req.value, {
    audiences: deps.assertionAudiences(tenant),
    nowSec,
    replayCache: deps.replayCache(tenant),
  });
  if (!auth.ok) return auth;
  return grantAppOnlyToken(tenant, client.appId, req.value.resource, auth.value, deps, nowSec);
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
      lifetimeSeconds: deps.lifetimeSeconds,
      issuers: deps.issuers,
    },
    deps.keys.active(),
  );
  return { ok: true, value: token };
}
