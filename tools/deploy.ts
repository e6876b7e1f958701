/**
 * `npm run deploy [-- --env staging|production] [wrangler deploy options]`: the offline config
 * check first, then `wrangler deploy` with the same arguments. A config the Worker would refuse
 * at start is never deployed.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkConfig } from "./check-config.ts";

const REPO = join(import.meta.dirname, "..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");

export async function deploy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { env: { type: "string", short: "e" }, config: { type: "string", short: "c" } },
  });
  const env = typeof values.env === "string" ? values.env : undefined;
  const config = typeof values.config === "string" ? values.config : undefined;
  const problems = await checkConfig({ env, config });
  if (problems.length > 0) {
    process.stderr.write(`deploy: the config check failed${env ? ` for --env ${env}` : ""}; nothing was deployed:\n`);
    for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    return 1;
  }
  process.stderr.write(`deploy: config check passed${env ? ` for --env ${env}` : ""}; running wrangler deploy\n`);
  const result = spawnSync(process.execPath, [WRANGLER, "deploy", ...argv], { stdio: "inherit" });
  return result.status ?? 1;
}

if (import.meta.main) process.exitCode = await deploy(process.argv.slice(2));
