/**
 * SignerConfig: parsed once from a JSON file and/or environment variables, validated up front,
 * frozen. Errors name the setting and the fix. Precedence (highest first): explicit overrides (CLI
 * flags), BROKER_SIGNER_* variables, the config file, then the AZURE_* variables that Kubernetes
 * workload identity and Azure SDKs set.
 */
import { dirname, resolve } from "node:path";
import {
  AZURE_ENV,
  certificatesFromEnv,
  ENV,
  parseCertificates,
  readConfigFile,
  type FileConfig,
} from "./config-sources.ts";
import {
  DEFAULT_AUTHORITY_HOST,
  DOMAIN,
  GUID,
  parseAuthorityHost,
  parseBrokerUrl,
  path,
  str,
  TENANT_ALIASES,
  validateScope,
  validateSocketPath,
} from "./config-values.ts";
import { SignerError } from "./errors.ts";

export type CertificateSource =
  | { readonly kind: "pem"; readonly keyFile: string; readonly certFile: string }
  | { readonly kind: "pfx"; readonly pfxFile: string; readonly passphraseFile: string | undefined };

export type CredentialSource =
  | { readonly kind: "certificate"; readonly certificates: readonly CertificateSource[] }
  | { readonly kind: "federated"; readonly tokenFile: string };

export type SignerConfig = {
  readonly tenantId: string;
  readonly clientId: string;
  /** Origin of the Entra ID authority, e.g. https://login.microsoftonline.com (sovereign clouds, emulator). */
  readonly authorityHost: string;
  /** `${authorityHost}/${tenantId}`: what msal-node is given. */
  readonly authority: string;
  /** The tenant's v2 token endpoint: the only audience the signer ever signs an assertion for. */
  readonly tokenEndpoint: string;
  readonly credential: CredentialSource;
  /** Extra CA certificates (PEM) trusted for Entra ID and the broker: emulator, corporate TLS proxy. */
  readonly caFile: string | undefined;
  /** The broker's base URL; `exchange` posts to `${brokerUrl}/token`. */
  readonly brokerUrl: string | undefined;
  /** The Entra scope of the broker's app registration (e.g. api://broker/.default): the token `exchange` presents. */
  readonly brokerScope: string | undefined;
  readonly socketPath: string | undefined;
  /** RFC 9449: bind exchanged tokens to this identity's DPoP key (signer/dpop.ts). */
  readonly dpop: boolean;
  /** The CLI's DPoP key (a JWK file, mode 0600, created on first use); the daemon keeps its key in memory. */
  readonly dpopKeyFile: string | undefined;
};

export type ConfigOverrides = {
  configFile?: string | undefined;
  tenantId?: string | undefined;
  clientId?: string | undefined;
  authorityHost?: string | undefined;
  caFile?: string | undefined;
  brokerUrl?: string | undefined;
  brokerScope?: string | undefined;
  socketPath?: string | undefined;
  dpop?: boolean | undefined;
  dpopKeyFile?: string | undefined;
};

/** Two certificates at once is rotation (old + new); more is a misconfiguration, not a feature. */
const MAX_CERTIFICATES = 2;

/**
 * Runs each setting's parser, collecting every problem instead of stopping at the first, so one run
 * names everything to fix. Key material pasted into a setting outranks the rest (ERR_KEY_UNSAFE).
 */
function problemCollector() {
  const problems: SignerError[] = [];
  return {
    problems,
    attempt<T>(parse: () => T): T | undefined {
      try {
        return parse();
      } catch (e) {
        if (!(e instanceof SignerError)) throw e;
        problems.push(e);
        return undefined;
      }
    },
    fail(setting: string, fix: string): undefined {
      problems.push(new SignerError("ERR_CONFIG", `${setting}: ${fix}`));
      return undefined;
    },
  };
}

function combined(problems: readonly SignerError[], configFile: string | undefined, missing: boolean): SignerError {
  // A setting that is simply absent most often means the config file was never found: say which one
  // was read, or that none was, and how to point at one.
  const hint = !missing
    ? ""
    : configFile === undefined
      ? `\nNo config file was read: neither --config nor ${ENV.config} is set. Point at one with \`export ${ENV.config}=/path/to/signer.json\` (or --config FILE), or set the BROKER_SIGNER_* variables.`
      : `\nThe config file read was ${configFile}; check that it is the one you meant (--config or ${ENV.config}).`;
  const code = problems.some((p) => p.code === "ERR_KEY_UNSAFE") ? "ERR_KEY_UNSAFE" : "ERR_CONFIG";
  if (problems.length === 1) return new SignerError(code, `${problems[0]!.message}${hint}`);
  return new SignerError(
    code,
    `${problems.length} problems in the signer's configuration:\n  - ${problems.map((p) => p.message).join("\n  - ")}${hint}`,
  );
}

/** Parse the configuration. `env` and `cwd` are arguments so tests don't touch the process's. */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): SignerConfig {
  const { problems, attempt, fail } = problemCollector();
  const configFile = overrides.configFile ?? (env[ENV.config] || undefined);
  const configPath = configFile ? resolve(cwd, configFile) : undefined;
  const file: FileConfig = (configPath ? attempt(() => readConfigFile(configPath)) : undefined) ?? {};
  const fileDir = configPath ? dirname(configPath) : cwd;
  const pick = (
    key: keyof typeof ENV & keyof FileConfig & keyof ConfigOverrides,
    azure?: string,
  ): { value: unknown; setting: string } => {
    if (overrides[key] !== undefined) return { value: overrides[key], setting: `--${key}` };
    if (env[ENV[key]]) return { value: env[ENV[key]], setting: ENV[key] };
    if (file[key] !== undefined) return { value: file[key], setting: `config file "${key}"` };
    if (azure && env[azure]) return { value: env[azure], setting: azure };
    return { value: undefined, setting: `${ENV[key]} (or config file "${key}")` };
  };
  let missing = false;

  const t = pick("tenantId", AZURE_ENV.tenantId);
  let tenantId = attempt(() => str(t.value, t.setting));
  if (tenantId === undefined && t.value === undefined) {
    missing = true;
    fail(
      "tenant",
      `not set; set ${ENV.tenantId} or "tenantId" in the config file (the directory/tenant id of the app registration)`,
    );
  } else if (tenantId !== undefined && TENANT_ALIASES.has(tenantId.toLowerCase()))
    tenantId = fail(
      t.setting,
      `"${tenantId}" is not a tenant; app-only tokens need the tenant id (a GUID) or its domain`,
    );
  else if (tenantId !== undefined && !GUID.test(tenantId) && !DOMAIN.test(tenantId))
    tenantId = fail(t.setting, `"${tenantId}" is not a tenant id (GUID) or domain name`);

  const c = pick("clientId", AZURE_ENV.clientId);
  let clientId = attempt(() => str(c.value, c.setting));
  if (clientId === undefined && c.value === undefined) {
    missing = true;
    fail(
      "client id",
      `not set; set ${ENV.clientId} or "clientId" in the config file (the app registration's application (client) id)`,
    );
  } else if (clientId !== undefined && !GUID.test(clientId))
    clientId = fail(c.setting, `"${clientId}" is not an application (client) id; it is a GUID`);

  const a = pick("authorityHost", AZURE_ENV.authorityHost);
  const authorityHost = attempt(() => parseAuthorityHost(str(a.value, a.setting) ?? DEFAULT_AUTHORITY_HOST, a.setting));

  const problemsBeforeCredential = problems.length;
  const certificates = attempt(
    () =>
      certificatesFromEnv(env, cwd) ??
      (file.certificates !== undefined ? parseCertificates(file.certificates, fileDir) : undefined),
  );
  const fedEnv = attempt(() => path(env[ENV.federatedTokenFile], ENV.federatedTokenFile, cwd));
  const fedFile = fedEnv ?? attempt(() => path(file.federatedTokenFile, `config file "federatedTokenFile"`, fileDir));
  let credential: CredentialSource | undefined;
  if (certificates !== undefined) {
    if (fedFile !== undefined)
      fail("credential", "both certificates and a federated token file are configured; choose one");
    else if (certificates.length > MAX_CERTIFICATES)
      fail("certificates", `at most ${MAX_CERTIFICATES} (the current one and the next, during rotation)`);
    else credential = { kind: "certificate", certificates };
  } else if (fedFile !== undefined) {
    credential = { kind: "federated", tokenFile: fedFile };
  } else if (problems.length === problemsBeforeCredential) {
    // Only when no credential setting was malformed: "none configured" would contradict that problem.
    const azureFed = attempt(() => path(env[AZURE_ENV.federatedTokenFile], AZURE_ENV.federatedTokenFile, cwd));
    if (azureFed !== undefined) credential = { kind: "federated", tokenFile: azureFed };
    else {
      missing = true;
      fail(
        "credential",
        `none configured; set ${ENV.keyFile} + ${ENV.certFile}, ${ENV.pfxFile}, ${ENV.federatedTokenFile}, or "certificates" / "federatedTokenFile" in the config file`,
      );
    }
  }

  const ca = pick("caFile");
  const caFile = attempt(() => path(ca.value, ca.setting, ca.setting.startsWith("config") ? fileDir : cwd));
  const b = pick("brokerUrl");
  const brokerUrl = attempt(() => {
    const raw = str(b.value, b.setting);
    return raw === undefined ? undefined : parseBrokerUrl(raw, b.setting);
  });
  const bs = pick("brokerScope");
  const brokerScope = attempt(() => {
    const raw = str(bs.value, bs.setting);
    return raw === undefined ? undefined : validateScope(raw, bs.setting);
  });
  const s = pick("socketPath");
  const socketPath = attempt(() => {
    const raw = str(s.value, s.setting);
    if (raw === undefined) return undefined;
    const base = s.setting.startsWith("config") ? fileDir : cwd;
    return validateSocketPath(raw.startsWith("@") ? raw : resolve(base, raw), s.setting);
  });

  const d = pick("dpop");
  const dpop = attempt(() => parseBoolean(d.value, d.setting)) ?? false;
  const dk = pick("dpopKeyFile");
  const dpopKeyFile = attempt(() => path(dk.value, dk.setting, dk.setting.startsWith("config") ? fileDir : cwd));

  if (
    problems.length > 0 ||
    tenantId === undefined ||
    clientId === undefined ||
    authorityHost === undefined ||
    credential === undefined
  )
    throw combined(problems, configPath, missing);
  const authority = `${authorityHost}/${tenantId}`;
  return Object.freeze({
    tenantId,
    clientId,
    authorityHost,
    authority,
    tokenEndpoint: `${authority}/oauth2/v2.0/token`,
    credential: Object.freeze(credential),
    caFile,
    brokerUrl,
    brokerScope,
    socketPath,
    dpop,
    dpopKeyFile,
  });
}

function parseBoolean(value: unknown, setting: string): boolean {
  if (value === undefined || value === "" || value === false || value === "false") return false;
  if (value === true || value === "true") return true;
  throw new SignerError("ERR_CONFIG", `${setting}: must be true or false, not ${JSON.stringify(value).slice(0, 40)}`);
}
