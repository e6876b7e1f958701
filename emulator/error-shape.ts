// The shape of Entra ID's token-endpoint errors: each failure has a stable `reason` (what tests and
// callers branch on) and the AADSTS code + OAuth error + HTTP status Entra ID sends for it.
export type OAuthError =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "invalid_grant"
  | "invalid_scope"
  | "invalid_resource"
  | "unsupported_grant_type"
  | "temporarily_unavailable";

export interface EntraError {
  readonly reason: EntraErrorReason;
  readonly aadsts: number;
  readonly error: OAuthError;
  readonly status: 400 | 401 | 429 | 503;
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
  | "federated_issuer_no_match"
  | "federated_audience_no_match"
  | "federated_subject_no_match"
  | "certificate_expired"
  | "certificate_not_yet_valid"
  | "assertion_algorithm_unsupported"
  | "assertion_thumbprint_missing"
  | "assertion_field_missing"
  | "resource_parameter_unsupported"
  | "tenant_malformed"
  | "tenant_endpoint_unsupported"
  | "throttled"
  | "unavailable"
  | "role_assignment_required";

export function make(
  reason: EntraErrorReason,
  aadsts: number,
  error: OAuthError,
  status: 400 | 401 | 429 | 503,
  message: string,
): EntraError {
  return Object.freeze({ reason, aadsts, error, status, message });
}

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

export function isoTime(sec: number): string {
  return new Date(sec * 1000).toISOString();
}
