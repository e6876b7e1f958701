/**
 * SignerConfig: parsed once from a JSON file and/or environment variables, validated up front,
 * frozen. Errors name the setting and the fix. Precedence (highest first): explicit overrides (CLI
 * flags), BROKER_SIGNER_* variables, the config file, then the AZURE_* variables that Kubernetes
 * workload identity and Azure SDKs set.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
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
};

/** What a config file may contain; all keys optional so env vars can complete it. */
type FileConfig = {
  tenantId?: unknown;
  clientId?: unknown;
  authorityHost?: unknown;
  certificates?: unknown;
  federatedTokenFile?: unknown;
  caFile?: unknown;
  brokerUrl?: unknown;
  brokerScope?: unknown;
  socketPath?: unknown;
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
};

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
} as const;

/** Set by the Kubernetes workload identity webhook and read by Azure SDKs; lowest precedence. */
const AZURE_ENV = {
  tenantId: "AZURE_TENANT_ID",
  clientId: "AZURE_CLIENT_ID",
  authorityHost: "AZURE_AUTHORITY_HOST",
  federatedTokenFile: "AZURE_FEDERATED_TOKEN_FILE",
} as const;

const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";

/** Two certificates at once is rotation (old + new); more is a misconfiguration, not a feature. */
const MAX_CERTIFICATES = 2;

/** sun_path is 108 bytes on Linux (104 on macOS); longer paths fail at bind time with a cryptic error. */
const MAX_SOCKET_PATH_BYTES = 100;

/** A config file is a few hundred bytes; a cap stops a wrong path (a log, a device) being slurped. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
/** Multi-tenant aliases cannot issue app-only tokens: msal-node rejects them too, with a vaguer error. */
const TENANT_ALIASES = new Set(["common", "organizations", "consumers"]);

function fail(setting: string, fix: string): never {
  throw new SignerError("ERR_CONFIG", `${setting}: ${fix}`);
}

function str(value: unknown, setting: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") fail(setting, "must be a string");
  return value;
}

/** Key material pasted where a path belongs must be refused, not loaded: it has already leaked into argv, env or a config file. */
function looksLikeKeyMaterial(value: string): boolean {
  return value.includes("-----BEGIN") || value.includes("PRIVATE KEY");
}

function path(value: unknown, setting: string, baseDir: string): string | undefined {
  const s = str(value, setting);
  if (s === undefined) return undefined;
  if (looksLikeKeyMaterial(s)) {
    throw new SignerError(
      "ERR_KEY_UNSAFE",
      `${setting}: contains key material; give the path of a file readable only by the signer's user, never the key itself`,
    );
  }
  return isAbsolute(s) ? s : resolve(baseDir, s);
}

function readConfigFile(file: string): FileConfig {
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

function parseCertificates(value: unknown, baseDir: string): CertificateSource[] {
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

function certificatesFromEnv(env: NodeJS.ProcessEnv, cwd: string): CertificateSource[] | undefined {
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

export function parseAuthorityHost(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(setting, `"${value}" is not a URL; use e.g. ${DEFAULT_AUTHORITY_HOST}`);
  }
  // msal-node only talks to https authorities; a path would silently change which tenant endpoint is used.
  if (url.protocol !== "https:") fail(setting, "must be an https URL (msal-node refuses plain http)");
  if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
    fail(setting, `must be an origin only, like ${DEFAULT_AUTHORITY_HOST} (no path, query or credentials)`);
  }
  return url.origin;
}

function parseBrokerUrl(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(setting, `"${value}" is not a URL`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  // An Entra token sent over plain http to anything but this machine is a bearer token handed to the network.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback))
    fail(setting, "must be https (http only for localhost)");
  if (url.username || url.password || url.search || url.hash)
    fail(setting, "must not contain credentials, a query or a fragment");
  return url.href.replace(/\/+$/, "");
}

export function validateSocketPath(value: string, setting: string): string {
  // Abstract sockets have no file permissions: any local process could connect.
  if (value.startsWith("@") || value.startsWith("\0"))
    fail(setting, "abstract sockets are not allowed (no file permissions); use a filesystem path");
  if (!isAbsolute(value)) fail(setting, "must be an absolute path");
  if (Buffer.byteLength(value) > MAX_SOCKET_PATH_BYTES)
    fail(setting, `is longer than ${MAX_SOCKET_PATH_BYTES} bytes; unix socket paths must be short`);
  return value;
}

/** Entra scopes are short tokens without whitespace; client credentials need the `/.default` form. */
const MAX_SCOPE_LENGTH = 512;

/** The problem with `scope` as an Entra client-credentials scope, if any. */
function scopeProblem(scope: string): string | undefined {
  if (scope.length === 0 || scope.length > MAX_SCOPE_LENGTH || /[\s\x00-\x1f\x7f]/.test(scope))
    return `"${scope.slice(0, 80)}" is not a scope; use one resource's scope like api://broker/.default`;
  // Entra ID only accepts "<resource>/.default" in the client credentials flow (AADSTS1002012).
  if (!scope.endsWith("/.default"))
    return `"${scope}" must end with /.default (client credentials use the app's granted roles, e.g. api://broker/.default)`;
  return undefined;
}

/** `code` says whose mistake it is: ERR_CONFIG for a setting, ERR_REQUEST for a caller's request. */
export function validateScope(
  scope: string,
  setting: string,
  code: "ERR_CONFIG" | "ERR_REQUEST" | "ERR_USAGE" = "ERR_CONFIG",
): string {
  const problem = scopeProblem(scope);
  if (problem !== undefined) throw new SignerError(code, `${setting}: ${problem}`);
  return scope;
}

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
  });
}
