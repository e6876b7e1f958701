import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The config check that `npm run deploy` runs first: wrangler.toml read as wrangler reads it,
// validated by the Worker's own loadConfig, every problem named, exit 1.

const REPO = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "check-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(args: string[], env: Record<string, string> = {}) {
  const { BROKER_SIGNING_KEYS: _, ...base } = process.env;
  return run(process.execPath, ["tools/check-config.ts", ...args], { cwd: REPO, env: { ...base, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

function toml(name: string, vars: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `name = "x"\nmain = "${REPO}/worker/index.ts"\ncompatibility_date = "2026-11-01"\n[vars]\n${vars}`,
  );
  return file;
}

const GOOD_VARS = `BROKER_ISSUER = "https://broker.example.com"
ENTRA_TENANT_IDS = "5a3c9e2f-7b41-4d8e-9c6a-2f1e0d4b8a73"
ENTRA_AUDIENCES = "api://identity-broker"
[[vars.POLICY.rules]]
name = "r"
match = { clients = ["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"] }
grant = { origins = ["https://inventory.example.com"], scopes = ["inventory.read"], maxTtlSeconds = 300 }
`;

describe("tools/check-config.ts", () => {
  it("accepts the repository's wrangler.toml", async () => {
    const result = await check([]);
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain(
      "wrangler.toml: ok (1 policy rule(s), forward mode off; BROKER_SIGNING_KEYS not checked",
    );
  });

  it("names every problem of a bad configuration and exits 1", async () => {
    const file = toml(
      "bad.toml",
      `BROKER_ISSUER = "https://broker.example.com/"
ENTRA_TENANT_IDS = "contoso.onmicrosoft.com"
ENTRA_AUDIENCES = "api://identity-broker"
CLOCK_SKEW_SECONDS = "900"
[[vars.POLICY.rules]]
name = "r"
match = { clients = ["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"] }
grant = { origins = ["https://Inventory.example.com/"], scopes = ["inventory.read"], maxTtlSeconds = 300 }
`,
    );
    const result = await check(["--config", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`${file}: 4 problem(s):`);
    expect(result.stderr).toContain('- BROKER_ISSUER is "https://broker.example.com/"');
    expect(result.stderr).toContain('- ENTRA_TENANT_IDS has "contoso.onmicrosoft.com"');
    expect(result.stderr).toContain('- CLOCK_SKEW_SECONDS is "900"');
    expect(result.stderr).toContain('- POLICY rule "r": grant.origins[0]');
  });

  it("refuses signing keys written into [vars]", async () => {
    const file = toml("secret.toml", `BROKER_SIGNING_KEYS = '{"keys":[]}'\n${GOOD_VARS}`);
    const result = await check(["--config", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("BROKER_SIGNING_KEYS is in [vars]");
  });

  it("checks the signing keys when the environment holds them", async () => {
    const file = toml("good.toml", GOOD_VARS);
    const result = await check(["--config", file], { BROKER_SIGNING_KEYS: '{"keys":[{"kty":"oct","k":"AAAA"}]}' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/- BROKER_SIGNING_KEYS /);
    expect((await check(["--config", file])).code).toBe(0);
  });

  it("says when the file cannot be read", async () => {
    const result = await check(["--config", join(dir, "absent.toml")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("absent.toml");
  });
});

describe("npm run deploy", () => {
  it("checks the configuration, then runs wrangler deploy (here with --dry-run)", async () => {
    const out = join(dir, "bundle");
    const { stdout } = await run("npm", ["run", "deploy", "--", "--dry-run", "--outdir", out], {
      cwd: REPO,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    });
    expect(stdout).toMatch(/wrangler\.toml: ok[\s\S]*--dry-run: exiting now/);
  }, 60_000);
});
