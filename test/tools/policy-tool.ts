import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  sampleTenantNames,
  BROKER_API_APP_ID,
  BROKER_APP_ID_URI,
  SAMPLE_RATE_LIMITS,
  samplePolicy,
  sampleRoutes,
  TENANT_ID,
} from "../../dev/sample.ts";

// Runs `npm run policy` the way a user does (a child process on the repo's tools/policy.ts) on
// wrangler configuration files written per test (wrangler.json: the same reader as wrangler.toml),
// and parses its XML output with a real XML parser.

export const REPO = resolve(import.meta.dirname, "../..");
export const SAMPLE_ORIGINS = { inventory: "http://127.0.0.1:8801", deploy: "http://127.0.0.1:8802" };

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function policyTool(args: string[], env: Record<string, string> = {}): Run {
  const { BROKER_SIGNING_KEYS: _, ...base } = process.env;
  const run = spawnSync(process.execPath, [join(REPO, "tools/policy.ts"), ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...base, ...env },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "policy-tool-"));
}

/** The vars of the npm start sample (dev/sample.ts), as a wrangler.toml [vars] table. */
export function sampleVars(): Record<string, unknown> {
  return {
    BROKER_ISSUER: "http://127.0.0.1:8787",
    ENTRA_TENANT_IDS: TENANT_ID,
    ENTRA_AUDIENCES: `${BROKER_APP_ID_URI},${BROKER_API_APP_ID}`,
    POLICY: samplePolicy(SAMPLE_ORIGINS),
    ROUTES: sampleRoutes(SAMPLE_ORIGINS),
  };
}

export function writeConfig(dir: string, doc: Record<string, unknown>): string {
  const file = join(dir, "wrangler.json");
  // The rate limit bindings npm start's broker declares: the sample policy's rateLimits name them.
  writeFileSync(
    file,
    JSON.stringify({
      name: "identity-broker",
      compatibility_date: "2026-11-01",
      ratelimits: SAMPLE_RATE_LIMITS,
      ...doc,
    }),
  );
  return file;
}

/** A tenant file naming the sample identities and assigning their roles on the broker's app. */
export function sampleTenantFile(dir: string, drop: { roles?: string[] } = {}): string {
  const file = join(dir, "tenants.json");
  writeFileSync(file, JSON.stringify(sampleTenantNames(drop.roles)));
  return file;
}

/** Parses XML (SVG, or the XHTML-compatible HTML) with Python's expat-based parser; returns every
 *  text node's content, or throws with the parser's message when the document is not well-formed. */
export function xmlTexts(xml: string): { root: string; texts: string[] } {
  const script = [
    "import sys, json, xml.etree.ElementTree as ET",
    "root = ET.fromstring(sys.stdin.buffer.read())",
    "print(json.dumps({'root': root.tag, 'texts': [t for e in root.iter() for t in [e.text] if t]}))",
  ].join("\n");
  const run = spawnSync("/usr/bin/python3", ["-c", script], { input: xml, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`not well-formed XML: ${run.stderr.trim().split("\n").pop()}`);
  return JSON.parse(run.stdout) as { root: string; texts: string[] };
}
