// Entra ID's token-endpoint errors, as values: one catalog for request errors, one for credentials.
import { credentialErrors } from "./credential-errors.ts";
import { requestErrors } from "./request-errors.ts";

export * from "./error-shape.ts";

export const entraErrors = { ...requestErrors, ...credentialErrors } as const;
