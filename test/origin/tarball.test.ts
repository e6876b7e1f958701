// The published package as an adopter gets it: `npm run pack` builds the tarball, which is installed
// into an empty project by plain Node 20's npm and serves a verified request with requireBrokerToken
// on node:http, against a broker stand-in reached over real HTTP.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ID, type StandInBroker } from "./support/stand-in-broker.ts";
import { standInBrokerOverHttp } from "./support/stand-in-broker-http.ts";

const REPO = resolve(import.meta.dirname, "../..");
const NODE20 = "/usr/bin/node";
const NPM20 = "/usr/bin/npm";
const PLAIN_PATH = "/usr/bin:/bin"; // Node 20 first: no repo node_modules/.bin, no Node 24

const SERVER = `
import { createServer } from "node:http";
import { protectedResourceMetadata, requireBrokerToken } from "@identity-broker/origin";

const issuer = process.env.BROKER_ISSUER;
let handle = (_req, res) => res.writeHead(503).end();
const server = createServer((req, res) => handle(req, res));
server.listen(0, "127.0.0.1", () => {
  const audience = "http://127.0.0.1:" + server.address().port;
  const metadata = protectedResourceMetadata({ resource: audience, issuer, scopes: ["inventory.read"] });
  const guard = requireBrokerToken({ issuer, audience, scopes: ["inventory.read"] });
  handle = (req, res) =>
    metadata(req, res, () =>
      guard(req, res, () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ client: req.brokerToken.clientId, node: process.version }));
      }),
    );
  console.log(JSON.stringify({ origin: audience }));
});
`;

let project: string;
let stub: Awaited<ReturnType<typeof standInBrokerOverHttp>> | undefined;
let broker: StandInBroker;
let child: ChildProcess | undefined;

beforeAll(async () => {
  const packed = execFileSync(process.execPath, [join(REPO, "tools/pack.ts")], { cwd: REPO, encoding: "utf8" });
  const tarball = packed.split("\n").find((line) => /identity-broker-origin-\d+\.\d+\.\d+\.tgz$/.test(line));
  expect(tarball, packed).toBeDefined();
  project = mkdtempSync(join(tmpdir(), "origin-kit-adopter-"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "adopter", private: true, type: "module" }));
  execFileSync(NPM20, ["install", "--prefer-offline", "--no-audit", "--no-fund", join(REPO, tarball!)], {
    cwd: project,
    env: { PATH: PLAIN_PATH, HOME: process.env.HOME ?? "/tmp" },
    stdio: "pipe",
  });
  writeFileSync(join(project, "server.mjs"), SERVER);

  // The broker's metadata and JWKS over real HTTP on loopback.
  stub = await standInBrokerOverHttp();
  broker = stub.broker;
}, 180_000);

afterAll(async () => {
  child?.kill("SIGTERM");
  await stub?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

async function startAdopter(): Promise<string> {
  child = spawn(NODE20, ["server.mjs"], {
    cwd: project,
    env: { PATH: PLAIN_PATH, BROKER_ISSUER: broker.issuer },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((done, fail) => {
    child!.stdout!.once("data", (d: Buffer) => done((JSON.parse(d.toString()) as { origin: string }).origin));
    child!.once("exit", (code) => fail(new Error(`adopter exited ${code}: ${stderr}`)));
  });
}

describe("the packed @identity-broker/origin", () => {
  it("installs as built JavaScript with jose as its only dependency", () => {
    const installed = join(project, "node_modules/@identity-broker/origin");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.dependencies).toEqual({ jose: expect.any(String) });
    expect(existsSync(join(installed, "build/index.js"))).toBe(true);
    expect(existsSync(join(installed, "build/index.d.ts"))).toBe(true);
    expect(readdirSync(join(installed, "build")).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(existsSync(join(project, "node_modules/hono"))).toBe(false); // an optional peer
  });

  it("serves a verified request with requireBrokerToken on Node 20's node:http", async () => {
    const origin = await startAdopter();
    const token = await broker.token({ claims: { aud: origin, scope: "inventory.read" } });
    const ok = await fetch(`${origin}/items`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { client: string; node: string };
    expect(body).toEqual({ client: CLIENT_ID, node: expect.stringMatching(/^v20\./) });

    const refused = await fetch(`${origin}/items`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain(
      `resource_metadata="${origin}/.well-known/oauth-protected-resource"`,
    );
    const metadata = await fetch(`${origin}/.well-known/oauth-protected-resource`);
    expect(await metadata.json()).toMatchObject({ resource: origin, authorization_servers: [broker.issuer] });
  });
});
