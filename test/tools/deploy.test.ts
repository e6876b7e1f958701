import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkConfig } from "../../tools/check-config.ts";
import { deploy } from "../../tools/deploy.ts";

// npm run deploy: the offline config check on wrangler.toml as committed (and on broken copies),
// and no `wrangler deploy` when it fails.

const REPO_CONFIG = join(import.meta.dirname, "../../wrangler.toml");

function writeConfig(extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), "deploy-"));
  const file = join(dir, "wrangler.toml");
  writeFileSync(
    file,
    `name = "b"\nmain = "${join(import.meta.dirname, "../../worker/index.ts")}"\ncompatibility_date = "2026-11-01"\n${extra}`,
  );
  return file;
}

const VARS = `[vars]
BROKER_ISSUER = "https://broker.example.com"
ENTRA_TENANT_IDS = "00000000-0000-0000-0000-000000000000"
ENTRA_AUDIENCES = "api://identity-broker"
`;
const KV = `[[kv_namespaces]]\nbinding = "REVOCATIONS"\nid = "abc"\n`;

describe("the offline config check", () => {
  it("passes the committed wrangler.toml, and refuses its environments until their KV ids are real", async () => {
    expect(await checkConfig({ config: REPO_CONFIG })).toMatchObject({ problems: [], warnings: [] });
    for (const env of ["staging", "production"]) {
      expect((await checkConfig({ config: REPO_CONFIG, env })).problems).toEqual([
        expect.stringContaining(`[[env.${env}.kv_namespaces]] REVOCATIONS: set id to a real namespace`),
      ]);
    }
  });

  it("names a rate limit tier that POLICY uses but wrangler.toml does not declare", async () => {
    const file = writeConfig(
      `${VARS}POLICY = '{"rules":[{"name":"r","match":{"roles":["A"]},"grant":{"origins":["https://a.example.com"],"scopes":["s"],"maxTtlSeconds":60}}],"rateLimits":{"default":"RATE_LIMIT_NONE"}}'\n${KV}`,
    );
    expect((await checkConfig({ config: file })).problems).toEqual([
      expect.stringContaining('rateLimits names "RATE_LIMIT_NONE"'),
    ]);
  });

  it("warns when nothing could be revoked (no REVOCATIONS namespace)", async () => {
    const file = writeConfig(`${VARS}POLICY = '{"rules":[]}'\n`);
    const result = await checkConfig({ config: file });
    expect(result.problems).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining("REVOCATIONS")]);
  });
});

describe("npm run deploy", () => {
  afterEach(() => vi.restoreAllMocks());

  it("exits 1 without running wrangler deploy when the check fails", async () => {
    const stderr: string[] = [];
    vi.spyOn(console, "error").mockImplementation((text) => void stderr.push(String(text)));
    expect(await deploy(["--config", REPO_CONFIG, "--env", "production"])).toBe(1);
    expect(stderr.join("\n")).toContain("REVOCATIONS: set id to a real namespace");
    expect(stderr.join("\n")).toContain("nothing was deployed");
  });
});
