import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { loadConfig, SETTINGS, type Config, type Env } from "../../worker/config.ts";
import { policySha256 } from "../../worker/policy-hash.ts";

// Reads the Worker's settings the way they reach it: wrangler.toml parsed with smol-toml (the TOML
// parser wrangler itself bundles, same version), the environment's [vars] chosen by wrangler's
// rules, and the result handed to the Worker's own loadConfig, so that `check` accepts exactly
// what the deployed broker would accept.

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
}

export class SettingsError extends Error {}

const VAR_NAMES = Object.entries(SETTINGS)
  .filter(([, kind]) => kind === "var")
  .map(([name]) => name);

/** The signing keys are a secret (never in wrangler.toml): a fresh stand-in lets the rest be checked. */
const STAND_IN_KID = "policy-tool-stand-in";

export async function loadSettings(configFile: string, envName: string | undefined): Promise<LoadedSettings> {
  let text: string;
  try {
    text = readFileSync(configFile, "utf8");
  } catch (e) {
    throw new SettingsError(`cannot read ${configFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let toml: Record<string, unknown>;
  try {
    toml = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new SettingsError(`${configFile} is not valid TOML: ${(e as Error).message}`);
  }
  const warnings: string[] = [];
  let vars: Record<string, unknown>;
  let origin = configFile;
  if (envName === undefined) {
    vars = tableAt(toml, ["vars"]) ?? {};
  } else {
    const env = tableAt(toml, ["env", envName]);
    if (!env) throw new SettingsError(`${configFile} has no [env.${envName}] section`);
    origin = `${configFile} [env.${envName}]`;
    // wrangler: `vars` is not inherited; an environment without its own [env.NAME.vars] has none.
    vars = tableAt(env, ["vars"]) ?? {};
    if (!tableAt(env, ["vars"]))
      warnings.push(`[env.${envName}] has no vars of its own: wrangler does not inherit the top-level [vars]`);
  }

  const fileProblems: string[] = [];
  for (const name of Object.keys(vars)) {
    const kind = (SETTINGS as Record<string, string>)[name];
    if (kind === "secret")
      fileProblems.push(`${name} is a secret: remove it from ${origin} and use \`wrangler secret put ${name}\``);
    else if (kind === undefined)
      fileProblems.push(`${name} is not a setting of the broker (misspelt?); the vars are: ${VAR_NAMES.join(", ")}`);
  }

  const config = await configFromVars(vars);
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
  };
}

/** The Worker's own config loading, with a stand-in for the one setting that is a secret. */
export async function configFromVars(vars: Readonly<Record<string, unknown>>) {
  const env: Env = { ...vars, BROKER_SIGNING_KEYS: await standInSigningKeys() };
  return loadConfig(env);
}

function tableAt(root: Record<string, unknown>, path: string[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of path) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === "object" && node !== null && !Array.isArray(node)
    ? (node as Record<string, unknown>)
    : undefined;
}

async function standInSigningKeys(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return JSON.stringify({ keys: [{ ...jwk, kid: STAND_IN_KID, key_ops: undefined, ext: undefined }] });
}
