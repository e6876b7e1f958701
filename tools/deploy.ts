/**
 * `npm run deploy [-- --env staging|production] [wrangler deploy options]`: the offline config
 * check (tools/check-config.ts) and the policy tool's check (`npm run policy -- check`) for that
 * same environment first, then `wrangler deploy` with the same arguments. A config the Worker would refuse at start is never deployed.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkConfig, report } from "./check-config.ts";

const REPO = join(import.meta.dirname, "..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
const POLICY_TOOL = join(REPO, "tools/policy.ts");

export async function deploy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { env: { type: "string", short: "e" }, config: { type: "string", short: "c" } },
  });
  const env = typeof values.env === "string" ? values.env : undefined;
  const config = typeof values.config === "string" ? values.config : undefined;
  const checked = await checkConfig({ env, config, signingKeys: process.env.BROKER_SIGNING_KEYS });
  if (!report(checked)) {
    console.error("deploy: nothing was deployed");
    return 1;
  }
  // The policy tool's check too: it also refuses vars the broker does not read (a misspelt setting
  // would otherwise deploy silently) and warns about rules that can never decide anything.
  const policy = spawnSync(
    process.execPath,
    [POLICY_TOOL, "check", ...(config ? ["--config", config] : []), ...(env ? ["--env", env] : [])],
    { stdio: "inherit" },
  );
  if (policy.status !== 0) {
    console.error("deploy: nothing was deployed");
    return 1;
  }
  const result = spawnSync(process.execPath, [WRANGLER, "deploy", ...argv], { stdio: "inherit" });
  return result.status ?? 1;
}

if (import.meta.main) process.exitCode = await deploy(process.argv.slice(2));
