// Entra ID's errors about the request itself: tenant, client, resource, scope, grant, parameters.
// Codes and message texts are the real ones as reported in Microsoft's documentation and in public
// error reports; where Entra has no specific code, the closest real one is used and the line says so.
import { make } from "./error-shape.ts";

export const requestErrors = {
  tenantNotFound: (tenant: string) =>
    make(
      "tenant_not_found",
      90002,
      "invalid_request",
      400,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  clientNotFound: (clientId: string, tenantId: string) =>
    make(
      "client_not_found",
      700016,
      "unauthorized_client",
      400,
      `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  resourceNotFound: (resource: string, tenantId: string) =>
    make(
      "resource_not_found",
      500011,
      "invalid_resource",
      400,
      `The resource principal named ${resource} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  // AADSTS900144 is Entra's code for any missing required body parameter.
  missingParameter: (name: string) =>
    make(
      name === "scope" ? "scope_missing" : "request_malformed",
      900144,
      "invalid_request",
      400,
      `The request body must contain the following parameter: '${name}'.`,
    ),
  scopeNotDefault: (scope: string) =>
    make(
      "scope_not_default",
      1002012,
      "invalid_scope",
      400,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  scopeInvalid: (scope: string) =>
    make(
      "scope_invalid",
      70011,
      "invalid_scope",
      400,
      `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    ),
  // Entra answers an unknown grant_type with AADSTS70003 (UnsupportedGrantType); the wording of the
  // message is ours, the code and OAuth error are Entra's.
  grantTypeUnsupported: (grantType: string) =>
    make(
      "grant_type_unsupported",
      70003,
      "unsupported_grant_type",
      400,
      `The app requested an unsupported grant type '${grantType}'.`,
    ),
  requestMalformed: (detail: string) => make("request_malformed", 900144, "invalid_request", 400, detail),
  // Observed on the wire as invalid_grant (Microsoft's docs paraphrase it as invalid_client).
  roleAssignmentRequired: (clientId: string, clientName: string, resourceId: string, resourceName: string) =>
    make(
      "role_assignment_required",
      501051,
      "invalid_grant",
      400,
      `Application '${clientId}'(${clientName}) is not assigned to a role for the application '${resourceId}'(${resourceName}).`,
    ),
  resourceParameterUnsupported: () =>
    make(
      "resource_parameter_unsupported",
      901002,
      "invalid_request",
      400,
      "The 'resource' request parameter is not supported.",
    ),
  tenantMalformed: (tenant: string) =>
    make(
      "tenant_malformed",
      900023,
      "invalid_request",
      400,
      `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`,
    ),
  // Client credentials name one tenant: /common and /consumers cannot say which (AADSTS9001023).
  tenantEndpointUnsupported: () =>
    make(
      "tenant_endpoint_unsupported",
      9001023,
      "invalid_request",
      400,
      "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
    ),
  // /organizations names no tenant either; Entra's documented code for that is AADSTS90019 MissingTenantRealm.
  tenantRealmMissing: () =>
    make(
      "tenant_endpoint_unsupported",
      90019,
      "invalid_request",
      400,
      "Microsoft Entra ID was unable to determine the tenant identifier from the request. Use a tenant-specific endpoint for client credentials.",
    ),
  // Faults switched on through the control API. AADSTS90055 TenantThrottlingError and AADSTS90006
  // ExternalServerRetryableError are Entra's documented codes for these two conditions.
  throttled: () =>
    make(
      "throttled",
      90055,
      "temporarily_unavailable",
      429,
      "There are too many incoming requests. Please try again later.",
    ),
  unavailable: () =>
    make("unavailable", 90006, "temporarily_unavailable", 503, "The service is temporarily unavailable."),
} as const;
