// The emulator's public surface: what other test suites and `npm start` code against.
export { startEmulator } from "./emulator.ts";
export type { Emulator, EmulatorOptions, IssueTokenOptions } from "./emulator.ts";
export type {
  TenantFile,
  TenantConfig,
  AppRegistration,
  AppRole,
  AppRoleAssignment,
  FederatedCredential,
} from "./tenant-file.ts";
export { FEDERATED_DEFAULT_AUDIENCE } from "./tenant-file.ts";
export type { TokenResponse } from "./token-issue.ts";
export type { EntraErrorBody } from "./errors.ts";
export { createTestCertificate } from "./test-certificate.ts";
export type { TestCertificate } from "./test-certificate.ts";
export { createMsalNetworkClient } from "./msal-network.ts";
