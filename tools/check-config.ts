// `npm run check-config` (and the first step of `npm run deploy`): loads wrangler.toml's [vars]
// the way wrangler does, and validates them with the Worker's own loadConfig, so a bad setting is
// named here instead of in the log of a deployed Worker that answers every request with a 500.
//
//   node tools/check-config.ts [--config wrangler.toml] [--env <wrangler environment>]
//
// BROKER_SIGNING_KEYS is a secret (wrangler secret put), never in wrangler.toml: it is checked
// when the environment holds it, and otherwise stood in for by a throwaway key.
import { generateKeyPairSync } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";

/** worker/config.ts's loadConfig, as far as this tool uses it. worker/ is typed against the
 *  Workers runtime types, which cannot be mixed with Node's in one program, so the module is
 *  imported by a computed specifier that the Node typecheck does not follow. */
type LoadConfig = (
  env: Record<string, unknown>,
) => Promise<
  { ok: true; value: { policy: { rules: readonly unknown[] }; forward?: unknown } } | { ok: false; error: string[] }
>;
const WORKER_CONFIG = new URL("../worker/config.ts", import.meta.url).href;
const { loadConfig } = (await import(WORKER_CONFIG)) as { loadConfig: LoadConfig };

const { values } = parseArgs({
  options: { config: { type: "string", default: "wrangler.toml" }, env: { type: "string" } },
  strict: true,
});
const file = values.config;

let vars: Record<string, unknown>;
try {
  const config = unstable_readConfig({ config: resolve(file), env: values.env }, { hideWarnings: true });
  vars = config.vars as Record<string, unknown>;
} catch (e) {
  console.error(`${file}: cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

const problems: string[] = [];
if ("BROKER_SIGNING_KEYS" in vars)
  problems.push(
    "BROKER_SIGNING_KEYS is in [vars], where anyone who reads the repository or the dashboard sees the private keys: remove it and use wrangler secret put BROKER_SIGNING_KEYS",
  );
const secret = process.env.BROKER_SIGNING_KEYS;
const result = await loadConfig({ ...vars, BROKER_SIGNING_KEYS: secret ?? throwawayKeySet() });
if (!result.ok) problems.push(...result.error);

if (problems.length > 0) {
  console.error(`${file}${values.env ? ` [env.${values.env}]` : ""}: ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
const { policy, forward } = result.ok ? result.value : ({} as never);
console.log(
  `${file}${values.env ? ` [env.${values.env}]` : ""}: ok (${policy.rules.length} policy rule(s), ` +
    `forward mode ${forward ? "on" : "off"}` +
    `${secret === undefined ? "; BROKER_SIGNING_KEYS not checked: it is a secret, set it in the environment to check it" : ""})`,
);

function throwawayKeySet(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return JSON.stringify({ keys: [{ ...privateKey.export({ format: "jwk" }), kid: "check-config" }] });
}
