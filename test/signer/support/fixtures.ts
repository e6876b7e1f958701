// Test support for the signer: temp dirs, certificates on disk, an Entra ID emulator with the
// signer's app registrations, and config builders with explicit overrides. Not a test file.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import {
  createTestCertificate,
  startEmulator,
  type Emulator,
  type TenantFile,
  type TestCertificate,
} from "../../../emulator/index.ts";
import { loadConfig, type SignerConfig } from "../../../signer/config.ts";
import { SignerError } from "../../../signer/errors.ts";

export const TENANT = "9b1c2a4e-5f6d-4e7a-8b9c-0d1e2f3a4b5c";
export const CLIENT = "a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5"; // the service the signer acts for
export const BROKER_APP = "c3c3c3c3-d4d4-4e5e-8f6f-a7a7a7a7a7a7";
export const OTHER_API = "d4d4d4d4-e5e5-4f6f-8a7a-b8b8b8b8b8b8";
export const BROKER_SCOPE = "api://broker/.default";
export const OTHER_SCOPE = "api://other/.default";
export const FED_ISSUER = "https://ci.example.test";
export const FED_SUBJECT = "repo:acme/orders:ref:refs/heads/main";

const dirs: string[] = [];

/** A fresh temp dir (mode 0700), removed by cleanupTempDirs(). */
export function tempDir(prefix = "signer-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o700);
  dirs.push(d);
  return d;
}

export function cleanupTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export type CertOnDisk = TestCertificate & { keyFile: string; certFile: string };

/** A self-signed RSA certificate written as key (mode 0600 unless `keyMode`) + certificate files. */
export async function certOnDisk(
  dir: string,
  name: string,
  o: { notBefore?: Date; notAfter?: Date; keyMode?: number } = {},
): Promise<CertOnDisk> {
  const cert = await createTestCertificate(`CN=${name}`, {
    ...(o.notBefore ? { notBefore: o.notBefore } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter } : {}),
  });
  const keyFile = join(dir, `${name}-key.pem`);
  const certFile = join(dir, `${name}-cert.pem`);
  writeFileSync(keyFile, cert.keyPem, { mode: o.keyMode ?? 0o600 });
  chmodSync(keyFile, o.keyMode ?? 0o600);
  writeFileSync(certFile, cert.certPem);
  return { ...cert, keyFile, certFile };
}

export type FederatedIssuer = { jwk: JWK; sign(claims?: Record<string, unknown>): Promise<string> };

/** A stand-in external OIDC issuer (a CI system): an ES256 key whose public JWK the tenant trusts. */
export async function federatedIssuer(): Promise<FederatedIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "ci-1", alg: "ES256", use: "sig" };
  return {
    jwk,
    sign: (claims = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: FED_ISSUER,
        sub: FED_SUBJECT,
        aud: "api://AzureADTokenExchange",
        iat: now,
        nbf: now,
        exp: now + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: "ES256", kid: "ci-1", typ: "JWT" })
        .sign(privateKey);
    },
  };
}

/** The tenant: CLIENT with the given registered certificates / federated issuer, holding roles on two APIs. */
export function tenantFile(o: { certificates?: string[]; federated?: JWK } = {}): TenantFile {
  return {
    tenants: [
      {
        tenantId: TENANT,
        domains: ["signer.example"],
        // Entra accepts a reused assertion; refusing it here shows the signer never reuses one.
        rejectReplayedAssertions: true,
        apps: [
          {
            appId: CLIENT,
            displayName: "orders-service",
            certificates: o.certificates ?? [],
            ...(o.federated
              ? {
                  federatedCredentials: [
                    { name: "ci", issuer: FED_ISSUER, subject: FED_SUBJECT, jwks: { keys: [o.federated] } },
                  ],
                }
              : {}),
          },
          {
            appId: BROKER_APP,
            displayName: "identity-broker",
            identifierUris: ["api://broker"],
            requestedAccessTokenVersion: 2,
            appRoles: [{ value: "Tokens.Exchange" }],
            // idtyp is an opt-in optional claim in Entra; the broker's API registration turns it on.
            optionalClaims: { idtyp: true },
            appRoleAssignments: [{ clientAppId: CLIENT, roles: ["Tokens.Exchange"] }],
          },
          {
            appId: OTHER_API,
            displayName: "other-api",
            identifierUris: ["api://other"],
            requestedAccessTokenVersion: 2,
            appRoles: [{ value: "Other.Read" }],
            appRoleAssignments: [{ clientAppId: CLIENT, roles: ["Other.Read"] }],
          },
        ],
      },
    ],
  };
}

export async function startEntra(
  tenants: TenantFile,
  stateDir: string,
  o: { tokenLifetimeSeconds?: number; refreshIn?: boolean } = {},
): Promise<Emulator> {
  // `now` reads Date.now at call time, so tests that fake Date move the emulator's clock with msal's.
  return startEmulator({ tenants, httpsPort: 0, httpPort: null, stateDir, now: () => Date.now(), ...o });
}

/** Environment variables for a signer pointed at the emulator; each test overrides what it is about. */
export function signerEnv(emu: Emulator, o: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    BROKER_SIGNER_TENANT_ID: TENANT,
    BROKER_SIGNER_CLIENT_ID: CLIENT,
    BROKER_SIGNER_AUTHORITY_HOST: emu.httpsOrigin,
    BROKER_SIGNER_CA_FILE: emu.caCertPath,
    BROKER_SIGNER_BROKER_SCOPE: BROKER_SCOPE,
    ...o,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export function configFor(emu: Emulator, o: Record<string, string | undefined> = {}): SignerConfig {
  return loadConfig({}, signerEnv(emu, o), "/");
}

export function tokenPath(): string {
  return `/${TENANT}/oauth2/v2.0/token`;
}

/** Collects log lines so tests can assert on what the signer would have written. */
export function captureLog(): { lines: string[]; write: (line: string) => void } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line) };
}

/** Runs `fn` and returns the SignerError it throws; any other outcome fails the test. */
export function thrownSignerError(fn: () => unknown): SignerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SignerError) return e;
    throw e;
  }
  throw new Error("expected a SignerError");
}

/** Awaits `p` and returns the SignerError it rejects with; any other outcome fails the test. */
export async function rejectedSignerError(p: Promise<unknown>): Promise<SignerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SignerError) return e;
    throw e;
  }
  throw new Error("expected a SignerError");
}
