/**
 * The offline config check: reads wrangler.toml (or --config, --env) the way wrangler does and
 * validates it with the Worker's own loader, before anything is deployed. Bindings are declared,
 * not reachable, offline: each declared KV namespace and rate limiter is stood in for by an inert
 * object, so the check proves that POLICY names only declared ones. The signing keys are a secret
 * and never in the file: a throwaway key stands in, and the Worker checks the real one at start.
 */
import { generateKeyPairSync } from "node:crypto";

export interface CheckOptions {
  readonly config?: string;
  readonly env?: string;
}

/** Placeholder namespace ids in the committed wrangler.toml; a deploy with one would fail late. */
const PLACEHOLDER_ID = /^<.*>$|^0+$/;

export async function checkConfig(options: CheckOptions): Promise<string[]> {
  const { unstable_readConfig } = await import("wrangler");
  const read = unstable_readConfig(
    { config: options.config ?? "wrangler.toml", env: options.env },
    { hideWarnings: true },
  );
  const problems: string[] = [];
  const bindings: Record<string, unknown> = {};
  for (const kv of read.kv_namespaces) {
    bindings[kv.binding] = { get: async () => null, put: async () => {} };
    if (options.env !== undefined && (kv.id === undefined || PLACEHOLDER_ID.test(kv.id)))
      problems.push(
        `[[env.${options.env}.kv_namespaces]] ${kv.binding}: set id to a real namespace (wrangler kv namespace create ${kv.binding})`,
      );
  }
  for (const limiter of read.ratelimits) bindings[limiter.name] = { limit: async () => ({ success: true }) };
  if (!read.kv_namespaces.some((kv: { binding: string }) => kv.binding === "REVOCATIONS"))
    problems.push('no [[kv_namespaces]] binding = "REVOCATIONS": nothing could be revoked');

  const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  // A path in a variable: the Worker's modules are typed for Workers, not for this Node tool.
  const configModule = "../worker/config.ts";
  const { loadConfig } = (await import(configModule)) as {
    loadConfig(env: Record<string, unknown>): Promise<{ ok: true } | { ok: false; error: string[] }>;
  };
  const loaded = await loadConfig({
    ...read.vars,
    ...bindings,
    BROKER_SIGNING_KEYS: JSON.stringify({ keys: [{ ...key, kid: "offline-check" }] }),
  });
  if (!loaded.ok) problems.push(...loaded.error);
  return problems;
}
