// The installable package as a CI pipeline or a service gets it: `npm run pack` builds the tarball,
// npm on plain Node 20 (not the pinned Node 24) installs it into an empty project, and the installed
// `broker-signer` and client library run there against the emulator as Entra ID.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import {
  BROKER_SCOPE,
  CLIENT,
  cleanupTempDirs,
  signerEnv,
  startEntra,
  tempDir,
  tenantFile,
} from "./support/fixtures.ts";

const REPO = resolve(import.meta.dirname, "../..");
const NODE20 = "/usr/bin/node";
const NPM = "/usr/bin/npm";
/** Node 20 first on PATH, so `npx` and the bin's `#!/usr/bin/env node` run on it. */
const PATH20 = "/usr/bin:/bin";
const { version } = JSON.parse(readFileSync(join(REPO, "signer/package.json"), "utf8")) as { version: string };
const TARBALL = join(REPO, "dist", `identity-broker-signer-${version}.tgz`);

type Run = { code: number | null; stdout: string; stderr: string };

function run(file: string, args: string[], o: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      {
        cwd: o.cwd,
        env: { PATH: PATH20, HOME: process.env.HOME ?? "/root", ...o.env },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 120_000,
      },
      (error, stdout, stderr) =>
        resolvePromise({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let project: string;

beforeAll(async () => {
  const packed = await run(process.execPath, [join(REPO, "tools/pack.ts")], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "" },
  });
  expect(packed.stderr).toBe("");
  expect(packed.stdout.split("\n")).toContain(`dist/identity-broker-signer-${version}.tgz`);
  project = tempDir("signer-package-");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // The machine's npm cache holds every dependency (from npm ci); --prefer-offline uses it first.
  const installed = await run(NODE20, [NPM, "install", TARBALL, "--prefer-offline", "--no-audit", "--no-fund"], {
    cwd: project,
  });
  expect(installed.code, installed.stderr).toBe(0);
}, 180_000);

afterAll(cleanupTempDirs);

describe("@identity-broker/signer installed from its tarball on Node 20", () => {
  it("is built JavaScript with type declarations, no TypeScript sources", () => {
    const root = join(project, "node_modules/@identity-broker/signer");
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      name: string;
      bin: Record<string, string>;
      exports: { ".": { types: string; default: string } };
    };
    expect(manifest.name).toBe("@identity-broker/signer");
    expect(existsSync(join(root, manifest.bin["broker-signer"]!))).toBe(true);
    expect(existsSync(join(root, manifest.exports["."].types))).toBe(true);
    expect(existsSync(join(root, manifest.exports["."].default))).toBe(true);
    const out = readFileSync(join(root, "build/signer/exchange.js"), "utf8");
    expect(out).not.toMatch(/from "[^"]+\.ts"/);
  });

  it("type-checks a consumer that imports the client library by name (declarations, no @types/node needed)", async () => {
    writeFileSync(
      join(project, "check.ts"),
      `import { createSignerClient, SIGNER_ERROR_CODES, SignerError, type SignerErrorCode, type TokenResponse } from "@identity-broker/signer";
const pending: Promise<TokenResponse> = createSignerClient().getToken("api://broker/.default");
const code: SignerErrorCode = SIGNER_ERROR_CODES[0];
// @ts-expect-error: codes are a closed set
const wrong: SignerErrorCode = "ERR_NOPE";
export { pending, code, wrong, SignerError };
`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, types: [] },
        files: ["check.ts"],
      }),
    );
    const r = await run(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", project], {
      cwd: project,
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("npx broker-signer --help prints the usage", async () => {
    const r = await run("/usr/bin/npx", ["broker-signer", "--help"], { cwd: project });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: broker-signer <command>/);
  });

  describe("against the emulator as Entra ID", () => {
    let emu: Emulator;
    let env: Record<string, string>;

    beforeAll(async () => {
      const made = await run("/usr/bin/npx", ["broker-signer", "cert", "create", "--json"], { cwd: project });
      expect(made.code, made.stderr).toBe(0);
      const keyFile = join(project, "broker-signer-key.pem");
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const certPem = readFileSync(join(project, "broker-signer-cert.pem"), "utf8");
      emu = await startEntra(tenantFile({ certificates: [certPem] }), join(tempDir(), "emu"));
      env = signerEnv(emu, {
        BROKER_SIGNER_KEY_FILE: keyFile,
        BROKER_SIGNER_CERT_FILE: join(project, "broker-signer-cert.pem"),
      });
    }, 60_000);
    afterAll(() => emu?.close());

    it("npx broker-signer token gets an app-only token (msal-node and jose on Node 20)", async () => {
      const r = await run("/usr/bin/npx", ["broker-signer", "token", "--scope", BROKER_SCOPE], { cwd: project, env });
      expect(r.code, r.stderr).toBe(0);
      expect(decodeJwt(r.stdout.trim())).toMatchObject({ azp: CLIENT, azpacr: "2" });
    });

    it("the client library, imported by name on Node 20, gets a token from `broker-signer serve`", async () => {
      const socketPath = join(tempDir(), "run", "signer.sock");
      const daemon = spawn("/usr/bin/npx", ["broker-signer", "serve", "--socket", socketPath], {
        cwd: project,
        env: { PATH: PATH20, HOME: process.env.HOME ?? "/root", ...env },
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      });
      let stderr = "";
      daemon.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      try {
        for (let i = 0; i < 200 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 50));
        const script = join(project, "call.mjs");
        writeFileSync(
          script,
          `import { createSignerClient, SignerError } from "@identity-broker/signer";
const client = createSignerClient(${JSON.stringify(socketPath)});
const { access_token } = await client.getToken(${JSON.stringify(BROKER_SCOPE)});
let refused;
try { await client.getToken("api://broker/not-default"); } catch (e) { refused = e instanceof SignerError && e.code; }
console.log(JSON.stringify({ access_token, refused }));`,
        );
        const r = await run(NODE20, [script], { cwd: project });
        expect(r.code, r.stderr + stderr).toBe(0);
        const out = JSON.parse(r.stdout) as { access_token: string; refused: string };
        expect(decodeJwt(out.access_token).azp).toBe(CLIENT);
        expect(out.refused).toBe("ERR_REQUEST");
      } finally {
        process.kill(-daemon.pid!, "SIGTERM");
      }
    });
  });
});
