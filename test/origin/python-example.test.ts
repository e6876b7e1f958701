// The Python example of docs/origin-kit.md, run as written, against the kit's adversarial table:
// a non-JavaScript origin following the docs refuses what the kit refuses.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADVERSARIAL_CASES } from "./support/adversarial-table.ts";
import { pythonExampleFile } from "./support/docs-example.ts";
import { AUDIENCE, CLIENT_ID, type StandInBroker } from "./support/stand-in-broker.ts";
import { standInBrokerOverHttp } from "./support/stand-in-broker-http.ts";

/** Rows about the kit's own resource limits, which the example leaves to the web server. */
const KIT_ONLY = new Set(["a JWT far over the size cap"]);

let stub: Awaited<ReturnType<typeof standInBrokerOverHttp>>;
let broker: StandInBroker;
let script: string;

beforeAll(async () => {
  stub = await standInBrokerOverHttp();
  broker = stub.broker;
  script = pythonExampleFile();
});

afterAll(() => stub?.close());

/** Asynchronously: the stand-in broker answers Python's fetches from this very process. */
function verifyWithPython(token: string, scopes: string[] = ["inventory.read"]) {
  const child = spawn("/usr/bin/python3", [script, broker.issuer, AUDIENCE, ...scopes], { timeout: 30_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(token);
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) =>
    child.on("close", (status) => done({ status, stdout, stderr })),
  );
}

describe("the PyJWT example in docs/origin-kit.md", () => {
  it("accepts an ES256 broker token and prints its claims", async () => {
    const run = await verifyWithPython(await broker.token());
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ client_id: CLIENT_ID, aud: AUDIENCE });
  });

  it("accepts an EdDSA broker token", async () => {
    const kid = await broker.addKey("EdDSA");
    const run = await verifyWithPython(await broker.token({ kid }));
    expect(run.status, run.stderr).toBe(0);
  });

  for (const row of ADVERSARIAL_CASES.filter((r) => !KIT_ONLY.has(r.name))) {
    it(`refuses ${row.name}`, async () => {
      const run = await verifyWithPython(await row.make(broker, Math.floor(Date.now() / 1000)));
      expect(run.status, run.stdout).toBe(1);
      expect(run.stderr).toMatch(/^[A-Za-z]+(Error|Scope): /);
    });
  }
});
