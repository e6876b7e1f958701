// Entra ID's token-endpoint errors, as values. Each failure has a stable `reason` (what tests and
// callers branch on) and the AADSTS code + OAuth error + HTTP status Entra ID sends for it.
// Codes and message texts are the real ones as reported in Microsoft's documentation and in public
// error reports; where Entra has no specific code, the closest real one is used and the line says so.

export type OAuthError =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "invalid_grant"
  | "invalid_scope"
  | "invalid_resource"
  | "unsupported_grant_type";

export interface EntraError {
  readonly reason: EntraErrorReason;
  readonly aadsts: number;
  readonly error: OAuthError;
  readonly status: 400 | 401;
  readonly message: string;
}

export type EntraErrorReason =
  | "tenant_not_found"
  | "client_not_found"
  | "resource_not_found"
  | "scope_missing"
  | "scope_not_default"
  | "scope_invalid"
  | "grant_type_unsupported"
  | "request_malformed"
  | "credential_missing"
  | "assertion_malformed"
  | "assertion_key_not_found"
  | "assertion_signature_invalid"
  | "assertion_expired"
  | "assertion_audience_invalid"
  | "assertion_client_mismatch"
  | "assertion_replayed"
  | "secret_invalid"
  | "federated_no_match"
  | "role_assignment_required";

const DOCS = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials.";

function make(
  reason: EntraErrorReason,
  aadsts: number,
  error: OAuthError,
  status: 400 | 401,
  message: string,
): EntraError {
  return Object.freeze({ reason, aadsts, error, status, message });
}

export const entraErrors = {
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
  // What Entra says when a confidential client sends neither a secret nor an assertion.
  credentialMissing: () =>
    make(
      "credential_missing",
      7000218,
      "invalid_client",
      401,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
  assertionMalformed: () =>
    make("assertion_malformed", 50027, "invalid_request", 400, "JWT token is invalid or malformed."),
  assertionKeyNotFound: (thumbprint: string, clientId: string) =>
    make(
      "assertion_key_not_found",
      700027,
      "invalid_client",
      401,
      `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.] ${DOCS}`,
    ),
  assertionSignatureInvalid: (clientId: string) =>
    make(
      "assertion_signature_invalid",
      700027,
      "invalid_client",
      401,
      `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., client_id: '${clientId}'] ${DOCS}`,
    ),
  assertionExpired: (nowSec: number, nbf: number | undefined, exp: number | undefined) =>
    make(
      "assertion_expired",
      700024,
      "invalid_client",
      401,
      `Client assertion is not within its valid time range. Current time: ${isoTime(nowSec)}, assertion valid from ${nbf === undefined ? "(none)" : isoTime(nbf)}, expiry time of assertion ${exp === undefined ? "(none)" : isoTime(exp)}. ${DOCS}`,
    ),
  assertionAudienceInvalid: () =>
    make(
      "assertion_audience_invalid",
      700023,
      "invalid_client",
      401,
      `Client assertion audience claim does not match Realm issuer. ${DOCS}`,
    ),
  assertionClientMismatch: () =>
    make(
      "assertion_client_mismatch",
      700021,
      "invalid_client",
      401,
      `Client assertion application identifier doesn't match 'client_id' parameter. ${DOCS}`,
    ),
  // Entra documents no code for a replayed client assertion (it does not publish one); AADSTS50013
  // (InvalidAssertion, "assertion is invalid because of various reasons") is the closest real code.
  assertionReplayed: () =>
    make(
      "assertion_replayed",
      50013,
      "invalid_client",
      401,
      "Assertion is invalid. [Reason - The assertion's jti has already been used.]",
    ),
  secretInvalid: (clientId: string) =>
    make(
      "secret_invalid",
      7000215,
      "invalid_client",
      401,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    ),
  federatedNoMatch: (issuer: string, subject: string, audience: string) =>
    make(
      "federated_no_match",
      70021,
      "invalid_request",
      400,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
    ),
  // Observed on the wire as invalid_grant (Microsoft's docs paraphrase it as invalid_client).
  roleAssignmentRequired: (clientId: string, clientName: string, resourceId: string, resourceName: string) =>
    make(
      "role_assignment_required",
      501051,
      "invalid_grant",
      400,
      `Application '${clientId}'(${clientName}) is not assigned to a role for the application '${resourceId}'(${resourceName}).`,
    ),
} as const;

export interface EntraErrorBody {
  error: OAuthError;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri?: string;
}

/** The JSON body Entra sends: the description carries the code, trace, correlation id and time. */
export function errorBody(
  err: EntraError,
  nowMs: number,
  traceId: string,
  correlationId: string,
  origin: string,
): EntraErrorBody {
  const timestamp = entraTimestamp(nowMs);
  return {
    error: err.error,
    error_description: `AADSTS${err.aadsts}: ${err.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [err.aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${origin}/error?code=${err.aadsts}`,
  };
}

/** Entra's timestamp shape: "2016-01-09 02:02:12Z". */
function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");
}

function isoTime(sec: number): string {
  return new Date(sec * 1000).toISOString();
}
