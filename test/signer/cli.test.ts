// The CLI end to end, as a user runs it: the real `broker-signer` process (its shebang, Node 24 type
// stripping), the emulator as Entra ID over HTTPS, and a broker test double for `exchange`.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, lstatSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { X509Certificate } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createSignerClient } from "../../signer/client.ts";
import { startBrokerDouble, type BrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  BROKER_SCOPE,
  CLIENT,
  cleanupTempDirs,
  signerEnv,
  startEntra,
  tempDir,
  tenantFile,
} from "./support/fixtures.ts";

const BIN = resolve(import.meta.dirname, "../../signer/bin/broker-signer.ts");
type Run = { code: number | null; stdout: string; stderr: string };
const outputs: Run[] = [];
const children: ChildProcess[] = [];

/** Runs `broker-signer ...args` through its shebang with Node 24 first on PATH, like `npx broker-signer`. */
function cli(args: string[], env: Record<string, string> = {}, cwd = process.cwd()): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BIN, args, {
      cwd,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const run = { code, stdout, stderr };
      outputs.push(run);
      resolvePromise(run);
    });
  });
}

let dir: string;
let emu: Emulator;
let broker: BrokerDouble;
let keyFile: string;
let certFile: string;
let env: Record<string, string>;
const tokens: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  // The user's first step: create the key and certificate with the CLI itself.
  const created = await cli(["cert", "create", "--subject", "CN=orders-service", "--json"], {}, dir);
  expect(created.code).toBe(0);
  keyFile = join(dir, "broker-signer-key.pem");
  certFile = join(dir, "broker-signer-cert.pem");
  // ...and upload the certificate to the app registration (here: the emulator's tenant file).
  emu = await startEntra(tenantFile({ certificates: [readFileSync(certFile, "utf8")] }), join(dir, "emu"));
  broker = await startBrokerDouble({ allowedResources: ["https://orders.example.com"], expectedAudience: BROKER_APP });
  env = signerEnv(emu, {
    BROKER_SIGNER_KEY_FILE: keyFile,
    BROKER_SIGNER_CERT_FILE: certFile,
    BROKER_SIGNER_BROKER_URL: broker.url,
  });
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await broker?.close();
  await emu?.close();
  // Nothing the CLI printed, on either stream, contains key material; stderr never has a full token.
  const key = existsSync(keyFile) ? readFileSync(keyFile, "utf8") : "";
  const all = outputs.map((o) => o.stdout + o.stderr).join("\n");
  expect(all).not.toMatch(/PRIVATE KEY/);
  for (const line of key.split("\n").filter((l) => l.length > 40)) expect(all).not.toContain(line);
  const stderr = outputs.map((o) => o.stderr).join("\n");
  for (const t of tokens) expect(stderr).not.toContain(t);
  cleanupTempDirs();
});

describe("broker-signer --help", () => {
  it.each([
    [[]],
    [["--help"]],
    [["token", "--help"]],
    [["exchange", "--help"]],
    [["serve", "--help"]],
    [["cert", "create", "--help"]],
    [["cert", "show", "--help"]],
  ])("%j prints usage", async (args) => {
    const r = await cli(args);
    expect(r.stdout).toMatch(/^Usage: broker-signer/);
    expect(r.code).toBe(args.length === 0 ? 2 : 0);
  });

  it("exits 2 with a pointer to --help for an unknown command or option", async () => {
    const a = await cli(["mint"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command "mint"/);
    const b = await cli(["token", "--key", "x"], env);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/Unknown option '--key'.*see `broker-signer token --help`/);
  });
});

describe("broker-signer cert create", () => {
  it("wrote a mode 0600 key and printed thumbprints that match the certificate", async () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const first = outputs[0]!;
    const printed = JSON.parse(first.stdout) as {
      thumbprintSha256: string;
      thumbprintSha1: string;
      certificatePem: string;
    };
    const x = new X509Certificate(readFileSync(certFile));
    expect(printed.thumbprintSha256).toBe(x.fingerprint256.replaceAll(":", ""));
    expect(printed.thumbprintSha1).toBe(x.fingerprint.replaceAll(":", ""));
    expect(printed.certificatePem.trim()).toBe(readFileSync(certFile, "utf8").trim());
  });

  it("never overwrites an existing key", async () => {
    const before = readFileSync(keyFile, "utf8");
    const r = await cli(["cert", "create"], {}, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists/);
    expect(readFileSync(keyFile, "utf8")).toBe(before);
  });

  it("prints the certificate to upload in human form", async () => {
    const d = tempDir();
    const r = await cli(["cert", "create", "--key-file", "k.pem", "--cert-file", "c.pem", "--days", "30"], {}, d);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Thumbprint \(SHA-256\): [0-9A-F]{64}\nThumbprint \(SHA-1\): {3}[0-9A-F]{40}/);
    expect(r.stdout).toMatch(/-----BEGIN CERTIFICATE-----/);
  });
});

describe("broker-signer token", () => {
  it("prints only the access token on stdout, for TOKEN=$(broker-signer token ...)", async () => {
    const r = await cli(["token", "--scope", BROKER_SCOPE], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = r.stdout.trim();
    tokens.push(token);
    expect(decodeJwt(token)).toMatchObject({ aud: BROKER_APP, azp: CLIENT, roles: ["Tokens.Exchange"] });
  });

  it("uses the configured broker scope by default and prints JSON with --json", async () => {
    const r = await cli(["token", "--json"], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { access_token: string; scope: string; expires_on: number };
    tokens.push(out.access_token);
    expect(out.scope).toBe(BROKER_SCOPE);
    expect(out.expires_on).toBeGreaterThan(Date.now() / 1000 + 3000);
  });

  it("writes its audit lines with --log-level info (assertion jti, thumbprint, the calling process), none by default", async () => {
    const quiet = await cli(["token"], env);
    expect(quiet.stderr).not.toMatch(/"level":"audit"/);
    const r = await cli(["token", "--log-level", "info"], env);
    expect(r.code).toBe(0);
    tokens.push(r.stdout.trim());
    const lines = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === "audit");
    const signed = lines.find((l) => l.event === "assertion.signed");
    expect(lines.find((l) => l.event === "token.served")).toMatchObject({
      via: "cli",
      peerPid: process.pid, // the CLI's parent: this test
      assertionJti: signed?.jti,
      thumbprintSha256: expect.stringMatching(/^[0-9A-F]{64}$/),
    });
  });

  it("exits 3 for a group-readable key, saying how to fix it, and prints nothing on stdout", async () => {
    chmodSync(keyFile, 0o640);
    try {
      const r = await cli(["token"], env);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`chmod 600 ${keyFile}`);
    } finally {
      chmodSync(keyFile, 0o600);
    }
  });

  it("exits 3 when a private key is passed through the environment", async () => {
    const r = await cli(["token"], { ...env, SIGNER_KEY: readFileSync(keyFile, "utf8") });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/environment variable SIGNER_KEY contains a private key/);
  });

  it("exits 4 with Entra ID's reason when Entra refuses", async () => {
    const r = await cli(["token", "--scope", "api://no-such-api/.default"], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/AADSTS500011/);
  });

  it("exits 2 naming the missing setting", async () => {
    const r = await cli(["token"], { ...env, BROKER_SIGNER_CLIENT_ID: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/client id: not set; set BROKER_SIGNER_CLIENT_ID/);
  });

  it("exits 6 when Entra ID cannot be reached", async () => {
    const r = await cli(["token", "--authority-host", "https://127.0.0.1:9"], env);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/cannot reach https:\/\/127.0.0.1:9/);
  });
});

describe("broker-signer exchange", () => {
  it("prints the downstream token for one resource", async () => {
    const r = await cli(["exchange", "--resource", "https://orders.example.com", "--scope", "orders.read"], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^downstream\./);
    tokens.push(broker.requests.at(-1)!.get("subject_token")!, r.stdout.trim());
  });

  it("exits 5 with the broker's OAuth error", async () => {
    const r = await cli(["exchange", "--resource", "https://payments.example.com"], env);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/the broker refused the exchange for https:\/\/payments.example.com: invalid_target/);
  });
});

describe("broker-signer serve", () => {
  it("serves tokens on a 0600 socket in a 0700 directory, and removes it on SIGTERM", async () => {
    const socketPath = join(tempDir(), "run", "signer.sock");
    const child = spawn(BIN, ["serve", "--socket", socketPath], {
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    for (let i = 0; i < 100 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 50));
    expect(lstatSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(socketPath)).mode & 0o777).toBe(0o700);
    const t = await createSignerClient(socketPath).getToken(BROKER_SCOPE);
    tokens.push(t.access_token);
    expect(decodeJwt(t.access_token).azp).toBe(CLIENT);
    const x = await createSignerClient(socketPath).exchange("https://orders.example.com");
    tokens.push(x.access_token);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
    outputs.push({ code: 0, stdout: "", stderr });
    // The daemon's log names requests with token hashes only.
    expect(stderr).toMatch(/"event":"request".*"tokenHash":"[0-9a-f]{12}"/);
  });
});

describe("broker-signer cert show", () => {
  it("lists both certificates during rotation and marks the newer one as signing", async () => {
    const d = tempDir();
    const made = await cli(
      ["cert", "create", "--key-file", "next-key.pem", "--cert-file", "next-cert.pem", "--json"],
      {},
      d,
    );
    const next = JSON.parse(made.stdout) as { thumbprintSha256: string };
    const r = await cli(["cert", "show"], {
      ...env,
      BROKER_SIGNER_NEXT_KEY_FILE: join(d, "next-key.pem"),
      BROKER_SIGNER_NEXT_CERT_FILE: join(d, "next-cert.pem"),
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.startsWith("* signing"))).toContain(next.thumbprintSha256);
  });
});
