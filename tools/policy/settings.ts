import { resolve } from "node:path";
import { unstable_readConfig } from "wrangler";
import { loadConfig, SETTINGS, type Config, type Env } from "../../worker/config.ts";
import { policySha256 } from "../../worker/policy-hash.ts";

// Reads the Worker's settings the way they reach it: the configuration file (wrangler.toml, or
// wrangler.json like the npm start broker's) read by wrangler's own reader, the environment's vars
// chosen by wrangler's rules, and the result handed to the Worker's own loadConfig, so that
// `check` accepts exactly what the deployed broker would accept.

export interface LoadedSettings {
  /** Where the vars came from, for messages: "wrangler.toml", "wrangler.toml [env.staging]". */
  readonly origin: string;
  readonly vars: Readonly<Record<string, unknown>>;
  /** The Worker's parsed config, or every problem it names (as the Worker's log would). */
  readonly config: { ok: true; value: Config } | { ok: false; error: string[] };
  /** Problems the Worker cannot see: vars nobody reads, secrets written into the file. */
  readonly fileProblems: readonly string[];
  readonly warnings: readonly string[];
  readonly policySha256?: string;
  /** Whether BROKER_SIGNING_KEYS was checked (it is, when the environment holds it). */
  readonly signingKeysChecked: boolean;
}

export class SettingsError extends Error {}

const VAR_NAMES = Object.entries(SETTINGS)
  .filter(([, kind]) => kind === "var")
  .map(([name]) => name);

/** The signing keys are a secret (never in wrangler.toml): a fresh stand-in lets the rest be checked. */
const STAND_IN_KID = "policy-tool-stand-in";

export async function loadSettings(
  configFile: string,
  envName: string | undefined,
  signingKeys: string | undefined = undefined,
): Promise<LoadedSettings> {
  let bindings: Record<string, unknown> = {};
  const read = (env: string | undefined) => {
    try {
      const config = unstable_readConfig({ config: resolve(configFile), env }, { hideWarnings: true });
      bindings = standInBindings(config.kv_namespaces ?? [], config.ratelimits ?? []);
      return (config.vars ?? {}) as Record<string, unknown>;
    } catch (e) {
      // wrangler's ParseError carries where in the file it stopped.
      const at = (e as { location?: { line?: number; column?: number; lineText?: string } }).location;
      const where = at?.line !== undefined ? `:${at.line}:${(at.column ?? 0) + 1}` : "";
      const text = at?.lineText !== undefined ? `\n  ${at.lineText}` : "";
      throw new SettingsError(`${configFile}${where}: ${(e as Error).message.trim()}${text}`);
    }
  };
  const vars = read(envName);
  const declared = bindings;
  const origin = envName === undefined ? configFile : `${configFile} [env.${envName}]`;
  const warnings: string[] = [];
  // wrangler does not inherit vars into an environment: one without its own has none at all.
  if (envName !== undefined && Object.keys(vars).length === 0 && Object.keys(read(undefined)).length > 0)
    warnings.push(`[env.${envName}] has no vars of its own: wrangler does not inherit the top-level [vars]`);

  const fileProblems: string[] = [];
  for (const name of Object.keys(vars)) {
    const kind = (SETTINGS as Record<string, string>)[name];
    if (kind === "secret")
      fileProblems.push(`${name} is a secret: remove it from ${origin} and use \`wrangler secret put ${name}\``);
    else if (kind === undefined)
      fileProblems.push(`${name} is not a setting of the broker (misspelt?); the vars are: ${VAR_NAMES.join(", ")}`);
  }

  const config = await configFromVars({ ...declared, ...vars }, signingKeys);
  let hash: string | undefined;
  if (config.ok) hash = config.value.policySha256;
  else if (vars.POLICY !== undefined) hash = await policySha256(vars.POLICY).catch(() => undefined);
  return {
    origin,
    vars,
    config,
    fileProblems,
    warnings,
    ...(hash !== undefined && { policySha256: hash }),
    signingKeysChecked: signingKeys !== undefined,
  };
}

/** The Worker's own config loading; the one secret is checked when given, else stood in for. */
export async function configFromVars(vars: Readonly<Record<string, unknown>>, signingKeys?: string) {
  const env: Env = { ...vars, BROKER_SIGNING_KEYS: signingKeys ?? (await standInSigningKeys()) };
  return loadConfig(env);
}

/**
 * The bindings wrangler.toml declares (KV namespaces, rate limits), as inert stand-ins: the config
 * checks that POLICY names only declared rate limits; the tool never reads or counts through them.
 */
function standInBindings(
  kvNamespaces: ReadonlyArray<{ readonly binding: string }>,
  ratelimits: ReadonlyArray<{ readonly name: string }>,
): Record<string, unknown> {
  const bindings: Record<string, unknown> = {};
  for (const kv of kvNamespaces) bindings[kv.binding] = { get: async () => null, put: async () => {} };
  for (const limiter of ratelimits) bindings[limiter.name] = { limit: async () => ({ success: true }) };
  return bindings;
}

async function standInSigningKeys(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return JSON.stringify({ keys: [{ ...jwk, kid: STAND_IN_KID, key_ops: undefined, ext: undefined }] });
}
