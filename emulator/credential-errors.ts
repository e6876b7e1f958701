// Entra ID's errors about client credentials: secrets, certificate assertions, federated assertions.
// Codes and message texts are the real ones as reported in Microsoft's documentation and in public
// error reports; where Entra has no specific code, the closest real one is used and the line says so.
import { isoTime, make } from "./error-shape.ts";

const DOCS = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials.";

export const credentialErrors = {
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
  // Today's federated codes name the one field that matched no credential: issuer first, then
  // audience, then subject (the older AADSTS70021 invalid_request/400 named all three).
  federatedIssuerNoMatch: (issuer: string) =>
    make(
      "federated_issuer_no_match",
      700211,
      "invalid_client",
      401,
      `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
    ),
  federatedAudienceNoMatch: (audience: string) =>
    make(
      "federated_audience_no_match",
      700212,
      "invalid_client",
      401,
      `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
    ),
  federatedSubjectNoMatch: (subject: string) =>
    make(
      "federated_subject_no_match",
      700213,
      "invalid_client",
      401,
      `No matching federated identity record found for presented assertion subject '${subject}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
    ),
  certificateOutOfValidity: (
    which: "expired" | "not_yet_valid",
    thumbprint: string,
    notBefore: Date,
    notAfter: Date,
    clientId: string,
  ) =>
    make(
      which === "expired" ? "certificate_expired" : "certificate_not_yet_valid",
      700027,
      "invalid_client",
      401,
      `Client assertion failed signature validation. [Reason - ${which === "expired" ? "The key used is expired." : "The key used is not yet valid."}, Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${notBefore.toISOString()}, End=${notAfter.toISOString()}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.] ${DOCS}`,
    ),
  assertionAlgorithmUnsupported: (alg: string, supported: readonly string[]) =>
    make(
      "assertion_algorithm_unsupported",
      5002738,
      "invalid_client",
      401,
      `Invalid JWT token. '${alg}' is not a supported signature algorithm. Supported signing algorithms are: '${supported.join(",")}'`,
    ),
  assertionThumbprintMissing: () =>
    make(
      "assertion_thumbprint_missing",
      5002723,
      "invalid_client",
      401,
      "Invalid JWT token. No certificate thumbprint specified in token header.",
    ),
  // AADSTS90014 MissingRequiredField: "an expected field isn't present in the credential".
  assertionFieldMissing: (field: string) =>
    make(
      "assertion_field_missing",
      90014,
      "invalid_request",
      400,
      `The required field '${field}' is missing from the credential. Ensure that you have all the necessary parameters for the login request.`,
    ),
} as const;
