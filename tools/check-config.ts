// `npm run check-config` (and the first step of `npm run deploy`): loads wrangler.toml's [vars]
// the way wrangler does, and validates them with the Worker's own loadConfig, so a bad setting is
// named here instead of in the log of a deployed Worker that answers every request with a 500.
//
//   node tools/check-config.ts [--config wrangler.toml] [--env <wrangler environment>]
//
// BROKER_SIGNING_KEYS is a secret (wrangler secret put), never in wrangler.toml: it is checked
// when the environment holds it, and otherwise stood in for by a throwaway key. Bindings are
// declared, not reachable, offline: each declared KV namespace and rate limiter is stood in for by
// an inert object, so the check proves that POLICY names only declared ones.
import { generateKeyPairSync } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";

/** worker/config.ts's loadConfig, as far as this tool uses it. worker/ is typed against the
 *  Workers runtime types, which cannot be mixed with Node's in one program, so the module is
 *  imported by a computed specifier that the Node typecheck does not follow. */
type LoadConfig = (env: Record<string, unknown>) => Promise<
  | {
      ok: true;
      value: { policy: { rules: readonly unknown[]; delegation: { rules: readonly unknown[] } }; forward?: unknown };
    }
  | { ok: false; error: string[] }
>;
const WORKER_CONFIG = new URL("../worker/config.ts", import.meta.url).href;

/** Placeholder namespace ids in the committed wrangler.toml; a deploy with one would fail late. */
const PLACEHOLDER_ID = /^<.*>$|^0+$/;

export interface CheckOptions {
  readonly config?: string;
  readonly env?: string;
  /** The BROKER_SIGNING_KEYS secret, when the caller holds it; a throwaway key stands in otherwise. */
  readonly signingKeys?: string;
}

export interface CheckResult {
  /** Each makes the Worker refuse to start, or the deploy fail: exit 1. */
  readonly problems: string[];
  /** Worth knowing, not fatal. */
  readonly warnings: string[];
  /** "wrangler.toml [env.x]: ok (…)" when there is no problem. */
  readonly summary: string;
}

export async function checkConfig(options: CheckOptions = {}): Promise<CheckResult> {
  const file = options.config ?? "wrangler.toml";
  const where = `${file}${options.env ? ` [env.${options.env}]` : ""}`;
  const problems: string[] = [];
  const warnings: string[] = [];
  let read: ReturnType<typeof unstable_readConfig>;
  try {
    read = unstable_readConfig({ config: resolve(file), env: options.env }, { hideWarnings: true });
  } catch (e) {
    return {
      problems: [`${file}: cannot be read: ${e instanceof Error ? e.message : String(e)}`],
      warnings,
      summary: where,
    };
  }
  const vars = read.vars as Record<string, unknown>;
  if ("BROKER_SIGNING_KEYS" in vars)
    problems.push(
      "BROKER_SIGNING_KEYS is in [vars], where anyone who reads the repository or the dashboard sees the private keys: remove it and use wrangler secret put BROKER_SIGNING_KEYS",
    );

  const bindings: Record<string, unknown> = {};
  for (const kv of read.kv_namespaces) {
    bindings[kv.binding] = { get: async () => null, put: async () => {} };
    if (options.env !== undefined && (kv.id === undefined || PLACEHOLDER_ID.test(kv.id)))
      problems.push(
        `[[env.${options.env}.kv_namespaces]] ${kv.binding}: set id to a real namespace (wrangler kv namespace create ${kv.binding} --env ${options.env})`,
      );
  }
  for (const limiter of read.ratelimits) bindings[limiter.name] = { limit: async () => ({ success: true }) };
  if (!read.kv_namespaces.some((kv: { binding: string }) => kv.binding === "REVOCATIONS"))
    warnings.push('no [[kv_namespaces]] binding = "REVOCATIONS": nothing can be revoked (docs/operating.md)');

  const { loadConfig } = (await import(WORKER_CONFIG)) as { loadConfig: LoadConfig };
  const result = await loadConfig({
    ...vars,
    ...bindings,
    BROKER_SIGNING_KEYS: options.signingKeys ?? throwawayKeySet(),
  });
  if (!result.ok) problems.push(...result.error);
  const delegationRules = result.ok ? result.value.policy.delegation.rules.length : 0;
  const summary = result.ok
    ? `${where}: ok (${result.value.policy.rules.length} policy rule(s), ` +
      `${delegationRules > 0 ? `${delegationRules} delegation rule(s), ` : ""}` +
      `forward mode ${result.value.forward ? "on" : "off"}` +
      `${options.signingKeys === undefined ? "; BROKER_SIGNING_KEYS not checked: it is a secret, set it in the environment to check it" : ""})`
    : where;
  return { problems, warnings, summary };
}

/** Prints the outcome as the CLI does; true when there is no problem. */
export function report(result: CheckResult): boolean {
  for (const w of result.warnings) console.error(`warning: ${w}`);
  if (result.problems.length > 0) {
    console.error(`${result.summary}: ${result.problems.length} problem(s):`);
    for (const p of result.problems) console.error(`  - ${p}`);
    return false;
  }
  console.log(result.summary);
  return true;
}

function throwawayKeySet(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return JSON.stringify({ keys: [{ ...privateKey.export({ format: "jwk" }), kid: "check-config" }] });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { config: { type: "string", default: "wrangler.toml" }, env: { type: "string" } },
    strict: true,
  });
  const result = await checkConfig({
    config: values.config,
    env: values.env,
    signingKeys: process.env.BROKER_SIGNING_KEYS,
  });
  process.exitCode = report(result) ? 0 : 1;
}
