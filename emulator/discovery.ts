// OpenID Provider metadata (v1 and v2) and the JWKS, in the shape Entra ID publishes them.
import type { SigningKey } from "./signing-keys.ts";

export interface DiscoveryUrls {
  /** Origin the client reached us on (https or the loopback http listener): endpoints point there. */
  readonly origin: string;
  /** The tenant segment of the paths: a tenant id, or "common" / "organizations". */
  readonly tenantId: string;
  /** The tenant's issuer, or the `{tenantid}` template for the multi-tenant documents. */
  readonly issuer: string;
  /** `tenant_region_scope`: the tenant's region ("NA", "EU", ...); null for /common and /organizations. */
  readonly regionScope: string | null;
}

/** `/{tenant}/v2.0/.well-known/openid-configuration`. msal-node reads token_endpoint, issuer, jwks_uri, authorization_endpoint. */
export function openIdConfigurationV2(u: DiscoveryUrls): Record<string, unknown> {
  const base = `${u.origin}/${u.tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: u.issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${u.origin}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      "sub",
      "iss",
      "cloud_instance_name",
      "cloud_instance_host_name",
      "cloud_graph_host_name",
      "msgraph_host",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "nonce",
      "preferred_username",
      "name",
      "tid",
      "ver",
      "at_hash",
      "c_hash",
      "email",
    ],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: u.regionScope,
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}

/** `/{tenant}/.well-known/openid-configuration` (the v1 endpoints and issuer). */
export function openIdConfigurationV1(u: DiscoveryUrls): Record<string, unknown> {
  const base = `${u.origin}/${u.tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
    scopes_supported: ["openid"],
    issuer: u.issuer,
    microsoft_multi_refresh_token: true,
    authorization_endpoint: `${base}/oauth2/authorize`,
    device_authorization_endpoint: `${base}/oauth2/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/logout`,
    claims_supported: [
      "sub",
      "iss",
      "cloud_instance_name",
      "cloud_instance_host_name",
      "cloud_graph_host_name",
      "msgraph_host",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "amr",
      "nonce",
      "email",
      "given_name",
      "family_name",
      "nickname",
    ],
    check_session_iframe: `${base}/oauth2/checksession`,
    userinfo_endpoint: `${base}/openid/userinfo`,
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: u.regionScope,
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}

/** A published key and the `issuer` its JWK carries (v2 key sets only). */
export interface PublishedKey {
  readonly key: SigningKey;
  /** The `{tenantid}` template for shared keys; a fixed issuer for a tenant's own keys. */
  readonly issuer: string;
}

/** The JWKS. v2 keys carry an `issuer` like Entra's; v1 key sets carry none. */
export function jwks(keys: readonly PublishedKey[], version: 1 | 2): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => ({ ...k.key.jwk, ...(version === 2 ? { issuer: k.issuer } : {}) })) };
}
