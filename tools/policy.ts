// `npm run policy -- <command>`: the broker's policy, offline, read exactly as the Worker reads it.
//   check        validate every setting in wrangler.toml; warn about rules that cannot do anything
//   explain      what the policy decides for an identity (the answer of POST /admin/explain)
//   map          a picture of who reaches what (svg, html or mermaid)
//   entra-roles  the appRoles of the broker's Entra app registration, and az commands to assign them
// Common options: --config FILE (default wrangler.toml; wrangler.json too), --env NAME (a wrangler environment),
// --tenant-file FILE (the emulator's tenant file: names clients, checks role assignments).
// Exit codes: 0 ok, 1 the settings (or the question) are invalid, 2 usage error.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { explainWhatIf, parseWhatIf } from "../worker/what-if.ts";
import type { Config } from "../worker/config.ts";
import { policyWarnings, tenantFileFacts } from "./policy/check.ts";
import { appRoles, azCommands } from "./policy/entra-roles.ts";
import { renderMap, type MapFormat } from "./policy/map.ts";
import { loadSettings, SettingsError, type LoadedSettings } from "./policy/settings.ts";

const USAGE = `usage: npm run policy -- <command> [options]
  check        [--tenant-file FILE]
  explain      --client ID (--roles A,B | --tenant-file FILE) [--tenant T] --resource ORIGIN [--scope "S1 S2"]
  map          [--format svg|html|mermaid] [--out FILE] [--tenant-file FILE] [--title TEXT]
  entra-roles  [--out FILE] [--tenant-file FILE]
options for every command: --config FILE (default wrangler.toml), --env NAME`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", default: "wrangler.toml" },
      env: { type: "string" },
      "tenant-file": { type: "string" },
      client: { type: "string" },
      roles: { type: "string" },
      tenant: { type: "string" },
      resource: { type: "string" },
      scope: { type: "string" },
      format: { type: "string", default: "svg" },
      out: { type: "string" },
      title: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  // The signing keys are a secret: checked when the environment holds them (as wrangler secret put would).
  const settings = await loadSettings(values.config, values.env, process.env.BROKER_SIGNING_KEYS);

  if (command === "check") return check(settings, values["tenant-file"]);
  const config = usable(settings);
  const tenantFacts = values["tenant-file"] ? tenantFileFacts(values["tenant-file"], config) : undefined;
  const clientNames = tenantFacts?.clientNames ?? new Map<string, string>();
  switch (command) {
    case "explain": {
      if (values.client === undefined || values.resource === undefined)
        throw new UsageError("explain needs --client and --resource");
      // Without --roles, the roles the tenant file assigns the client on the broker's app.
      const roles =
        values.roles?.split(",") ??
        (tenantFacts ? [...(tenantFacts.assignedRoles.get(values.client) ?? [])] : undefined);
      if (roles === undefined)
        throw new UsageError(
          "explain needs --roles (comma-separated, or '' for none), or a --tenant-file to read them from",
        );
      const question = parseWhatIf({
        ...(values.tenant !== undefined && { tenant: values.tenant }),
        client: values.client,
        roles: roles.map((r) => r.trim()).filter((r) => r.length > 0),
        resource: values.resource,
        ...(values.scope !== undefined && { scope: values.scope }),
      });
      const answer = question.ok ? explainWhatIf(question.value, config) : question;
      if (!answer.ok) {
        // The question is built from flags, so every field named is a flag of the same name.
        process.stderr.write(`--${answer.error.field} ${answer.error.problem}\n`);
        return 1;
      }
      process.stdout.write(`${JSON.stringify(answer.value, null, 2)}\n`);
      return 0;
    }
    case "map": {
      const format = values.format as MapFormat;
      if (!["svg", "html", "mermaid"].includes(format)) throw new UsageError("--format must be svg, html or mermaid");
      const title = values.title ?? `Identity broker policy (${settings.origin})`;
      output(renderMap(format, { config, clientNames, title, policySha256: config.policySha256 }), values.out);
      return 0;
    }
    case "entra-roles": {
      const roles = `${JSON.stringify(appRoles(config), null, 2)}\n`;
      const commands = azCommands(config, values.out ?? "app-roles.json", clientNames);
      if (values.out) {
        writeFileSync(values.out, roles);
        process.stdout.write(commands);
      } else {
        // The manifest array on stdout (redirect it to a file), the commands beside it on stderr.
        process.stdout.write(roles);
        process.stderr.write(commands);
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function check(settings: LoadedSettings, tenantFile: string | undefined): number {
  const errors = [...settings.fileProblems, ...(settings.config.ok ? [] : settings.config.error)];
  const warnings = [...settings.warnings];
  if (settings.config.ok) {
    warnings.push(...policyWarnings(settings.config.value));
    if (tenantFile) warnings.push(...tenantFileFacts(tenantFile, settings.config.value).warnings);
  }
  for (const e of errors) process.stderr.write(`error: ${e}\n`);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  if (errors.length > 0) {
    process.stderr.write(`${settings.origin}: ${count(errors.length, "error")}; the broker would refuse to start\n`);
    return 1;
  }
  const config = settings.config.ok ? settings.config.value : undefined;
  const routes = config?.forward?.table.routes.length ?? 0;
  const rules = config?.policy.rules.length ?? 0;
  process.stdout.write(
    `${settings.origin}: ok: ${count(rules, "rule")}, ${count(routes, "route")}, ${count(warnings.length, "warning")}; policy_sha256 ${settings.policySha256}${settings.signingKeysChecked ? "" : "; BROKER_SIGNING_KEYS not checked: it is a secret, set it in the environment to check it"}\n`,
  );
  return 0;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function usable(settings: LoadedSettings): Config {
  if (settings.config.ok && settings.fileProblems.length === 0) return settings.config.value;
  throw new SettingsError(`${settings.origin} has errors; run: npm run policy -- check`);
}

function output(text: string, file: string | undefined): void {
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (
    e instanceof UsageError ||
    (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"))
  ) {
    process.stderr.write(`${e.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (e instanceof SettingsError || e instanceof Error) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
  } else throw e;
}
