/**
 * Where settings come from besides flags: the BROKER_SIGNER_* and AZURE_* variables and the JSON
 * config file, with certificate lists from either.
 */
import { readFileSync } from "node:fs";
import type { CertificateSource } from "./config.ts";
import { fail, path } from "./config-values.ts";

export const ENV = {
  config: "BROKER_SIGNER_CONFIG",
  tenantId: "BROKER_SIGNER_TENANT_ID",
  clientId: "BROKER_SIGNER_CLIENT_ID",
  authorityHost: "BROKER_SIGNER_AUTHORITY_HOST",
  keyFile: "BROKER_SIGNER_KEY_FILE",
  certFile: "BROKER_SIGNER_CERT_FILE",
  nextKeyFile: "BROKER_SIGNER_NEXT_KEY_FILE",
  nextCertFile: "BROKER_SIGNER_NEXT_CERT_FILE",
  pfxFile: "BROKER_SIGNER_PFX_FILE",
  pfxPassphraseFile: "BROKER_SIGNER_PFX_PASSPHRASE_FILE",
  federatedTokenFile: "BROKER_SIGNER_FEDERATED_TOKEN_FILE",
  caFile: "BROKER_SIGNER_CA_FILE",
  brokerUrl: "BROKER_SIGNER_BROKER_URL",
  brokerScope: "BROKER_SIGNER_BROKER_SCOPE",
  socketPath: "BROKER_SIGNER_SOCKET",
  dpop: "BROKER_SIGNER_DPOP",
  dpopKeyFile: "BROKER_SIGNER_DPOP_KEY_FILE",
} as const;

/** Set by the Kubernetes workload identity webhook and read by Azure SDKs; lowest precedence. */
export const AZURE_ENV = {
  tenantId: "AZURE_TENANT_ID",
  clientId: "AZURE_CLIENT_ID",
  authorityHost: "AZURE_AUTHORITY_HOST",
  federatedTokenFile: "AZURE_FEDERATED_TOKEN_FILE",
} as const;

/** A config file is a few hundred bytes; a cap stops a wrong path (a log, a device) being slurped. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024;

/** What a config file may contain; all keys optional so env vars can complete it. */
export type FileConfig = {
  tenantId?: unknown;
  clientId?: unknown;
  authorityHost?: unknown;
  certificates?: unknown;
  federatedTokenFile?: unknown;
  caFile?: unknown;
  brokerUrl?: unknown;
  brokerScope?: unknown;
  socketPath?: unknown;
  dpop?: unknown;
  dpopKeyFile?: unknown;
};

export function readConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    fail(
      "config file",
      `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"}); check the path given by --config or ${ENV.config}`,
    );
  }
  if (text.length > MAX_CONFIG_FILE_BYTES)
    fail("config file", `${file} is larger than ${MAX_CONFIG_FILE_BYTES} bytes; is it the right file?`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail("config file", `${file} is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    fail("config file", `${file} must contain a JSON object`);
  const known = new Set([
    "tenantId",
    "clientId",
    "authorityHost",
    "certificates",
    "federatedTokenFile",
    "caFile",
    "brokerUrl",
    "brokerScope",
    "socketPath",
    "dpop",
    "dpopKeyFile",
    "$schema",
    "//",
  ]);
  const unknown = Object.keys(parsed).filter((key) => !known.has(key));
  if (unknown.length > 0)
    fail(
      `config file key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}`,
      `unknown setting${unknown.length > 1 ? "s" : ""}; known settings are ${[...known].filter((k) => !k.startsWith("$") && k !== "//").join(", ")}`,
    );
  return parsed as FileConfig;
}

export function parseCertificates(value: unknown, baseDir: string): CertificateSource[] {
  if (!Array.isArray(value))
    fail("certificates", "must be an array of {keyFile, certFile} or {pfxFile, pfxPassphraseFile}");
  return value.map((entry: unknown, i): CertificateSource => {
    const setting = `certificates[${i}]`;
    if (typeof entry !== "object" || entry === null) fail(setting, "must be an object");
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!["keyFile", "certFile", "pfxFile", "pfxPassphraseFile"].includes(key))
        fail(`${setting}.${key}`, "unknown setting");
    }
    const pfxFile = path(e.pfxFile, `${setting}.pfxFile`, baseDir);
    if (pfxFile !== undefined) {
      if (e.keyFile !== undefined || e.certFile !== undefined)
        fail(setting, "give either pfxFile or keyFile + certFile, not both");
      return {
        kind: "pfx",
        pfxFile,
        passphraseFile: path(e.pfxPassphraseFile, `${setting}.pfxPassphraseFile`, baseDir),
      };
    }
    const keyFile = path(e.keyFile, `${setting}.keyFile`, baseDir);
    const certFile = path(e.certFile, `${setting}.certFile`, baseDir);
    if (keyFile === undefined || certFile === undefined)
      fail(setting, "needs both keyFile and certFile (PEM), or pfxFile");
    return { kind: "pem", keyFile, certFile };
  });
}

export function certificatesFromEnv(env: NodeJS.ProcessEnv, cwd: string): CertificateSource[] | undefined {
  const sources: CertificateSource[] = [];
  const pair = (keyVar: string, certVar: string): void => {
    const keyFile = path(env[keyVar], keyVar, cwd);
    const certFile = path(env[certVar], certVar, cwd);
    if (keyFile === undefined && certFile === undefined) return;
    if (keyFile === undefined || certFile === undefined)
      fail(
        keyFile === undefined ? keyVar : certVar,
        `must be set together with ${keyFile === undefined ? certVar : keyVar}`,
      );
    sources.push({ kind: "pem", keyFile, certFile });
  };
  pair(ENV.keyFile, ENV.certFile);
  pair(ENV.nextKeyFile, ENV.nextCertFile);
  const pfxFile = path(env[ENV.pfxFile], ENV.pfxFile, cwd);
  if (pfxFile !== undefined)
    sources.push({
      kind: "pfx",
      pfxFile,
      passphraseFile: path(env[ENV.pfxPassphraseFile], ENV.pfxPassphraseFile, cwd),
    });
  return sources.length > 0 ? sources : undefined;
}
