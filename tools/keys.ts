/**
 * `npm run keys -- status|new|promote|retire`: rotates the broker's signing keys safely.
 * Reads the current BROKER_SIGNING_KEYS value from --in FILE (or stdin) and writes the next one to
 * --out FILE (mode 0600) or stdout, for `wrangler secret put BROKER_SIGNING_KEYS`. Unsafe steps are
 * refused with exit 1 and the reason; usage errors exit 2.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  DEFAULT_LIFETIMES,
  RotationError,
  addKey,
  keyStatus,
  parseKeySet,
  promoteKey,
  retireKey,
  type KeySet,
  type Lifetimes,
} from "./key-rotation.ts";

const HELP = `Usage: npm run keys -- <command> [options]

Commands:
  status            list the keys: which signs, which are published, when each may be promoted or retired
  new [--alg ES256|EdDSA]   add a new key, published but not signing yet
  promote KID       make KID the signing key (refused until it has been published for the JWKS
                    max-age plus the longest token lifetime)
  retire KID        remove KID (refused for the signing key, and while tokens it signed can be alive)

Options:
  --in FILE               the current BROKER_SIGNING_KEYS value (default: stdin)
  --out FILE              where the next value goes (mode 0600; default: stdout)
  --max-token-ttl SECONDS the longest token lifetime (default: MAX_TOKEN_TTL_SECONDS of wrangler.toml)
  --config FILE           wrangler config to read it from (default wrangler.toml)
  --env NAME              wrangler environment (staging, production)
  --json                  status as JSON

Then: wrangler secret put BROKER_SIGNING_KEYS [--env NAME] < FILE`;

class UsageError extends Error {}

export async function main(argv: string[], now = Math.floor(Date.now() / 1000)): Promise<number> {
  try {
    return await run(argv, now);
  } catch (e) {
    if (e instanceof RotationError) {
      process.stderr.write(`keys: refused (${e.problem.reason}): ${e.message}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`keys: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

async function run(argv: string[], now: number): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]}; see npm run keys -- --help`);
  }
  const { values, positionals } = parsed;
  const [command, kid, ...extra] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${HELP}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const set = parseKeySet(readInput(values.in));
  const lifetimes = await lifetimesFrom(values);

  switch (command) {
    case "status": {
      const status = keyStatus(set, lifetimes);
      if (values.json) process.stdout.write(`${JSON.stringify({ now, lifetimes, keys: status }, null, 2)}\n`);
      else
        for (const k of status) {
          const when =
            k.readyAt === undefined
              ? ""
              : k.role === "published"
                ? `  promotable ${k.readyAt <= now ? "now" : `from ${iso(k.readyAt)}`}`
                : `  retirable ${k.readyAt <= now ? "now" : `from ${iso(k.readyAt)}`}`;
          const published = k.publishedAt === undefined ? "published_at unknown" : `published ${iso(k.publishedAt)}`;
          process.stdout.write(`${k.role.padEnd(9)} ${k.kid}  ${k.alg}  ${published}${when}\n`);
        }
      return 0;
    }
    case "new": {
      const alg = values.alg ?? "ES256";
      if (alg !== "ES256" && alg !== "EdDSA") throw new UsageError("--alg must be ES256 or EdDSA");
      if (kid !== undefined) throw new UsageError("new takes no KID: the tool names the key");
      const added = await addKey(set, alg, now);
      writeOutput(values.out, added.set);
      // The first key of a set is the signing key (index 0): there is nothing to promote it over.
      process.stderr.write(
        set.keys.length === 0
          ? `keys: added ${added.kid} (the only key: it signs at once)\n`
          : `keys: added ${added.kid} (published, not signing); promote it from ${iso(now + lifetimes.jwksMaxAgeSeconds + lifetimes.maxTokenTtlSeconds)}\n`,
      );
      return 0;
    }
    case "promote":
    case "retire": {
      if (kid === undefined) throw new UsageError(`${command} needs the KID of a key (see npm run keys -- status)`);
      const next = command === "promote" ? promoteKey(set, kid, now, lifetimes) : retireKey(set, kid, now, lifetimes);
      writeOutput(values.out, next);
      process.stderr.write(`keys: ${command === "promote" ? `${kid} now signs` : `${kid} removed`}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}": status, new, promote or retire`);
  }
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      in: { type: "string" },
      out: { type: "string" },
      alg: { type: "string" },
      "max-token-ttl": { type: "string" },
      config: { type: "string" },
      env: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

type Values = ReturnType<typeof parseOptions>["values"];

function readInput(file: string | undefined): string {
  if (file === undefined && process.stdin.isTTY)
    throw new UsageError("give the current BROKER_SIGNING_KEYS value with --in FILE or on stdin");
  try {
    return readFileSync(file === undefined || file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file ?? "stdin"}: ${(e as Error).message}`);
  }
}

function writeOutput(file: string | undefined, set: KeySet): void {
  const text = `${JSON.stringify(set, null, 2)}\n`;
  if (file === undefined || file === "-") process.stdout.write(text);
  else writeFileSync(file, text, { mode: 0o600 });
}

async function lifetimesFrom(values: Values): Promise<Lifetimes> {
  const raw = values["max-token-ttl"] ?? (await configuredMaxTtl(values.config, values.env));
  if (raw === undefined) return DEFAULT_LIFETIMES;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new UsageError(`the longest token lifetime must be whole seconds, got ${JSON.stringify(raw)}`);
  return { ...DEFAULT_LIFETIMES, maxTokenTtlSeconds: Number(raw) };
}

async function configuredMaxTtl(config: string | undefined, env: string | undefined): Promise<string | undefined> {
  // Loaded only here: wrangler is heavy, and --max-token-ttl skips it.
  const { unstable_readConfig } = await import("wrangler");
  const read = unstable_readConfig({ config: config ?? "wrangler.toml", env }, { hideWarnings: true });
  const value = read.vars.MAX_TOKEN_TTL_SECONDS;
  return value === undefined ? undefined : String(value);
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
