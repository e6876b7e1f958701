import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/processes.ts";
import type { StackPorts } from "../../dev/stack.ts";
import { adapt, lineMatches, repositoryTranscripts, type Transcript } from "../../dev/walkthrough.ts";

// The docs' walk-through, run as a reader would: `npm start` (node dev/start.ts) on free ports,
// then every marked command of README.md and docs/*.md in bash, one session per block, with the
// output compared line by line ("…" matches anything). The commands are written for the default
// ports and .dev/; the test rewrites both, exactly as `npm start` does when it prints them.

const REPO = resolve(import.meta.dirname, "../..");
const DOCS = readdirSync(join(REPO, "docs"))
  .filter((f) => f.endsWith(".md"))
  .sort()
  .map((f) => `docs/${f}`);
const transcripts = repositoryTranscripts(REPO, DOCS);

let stateDir: string;
let ports: StackPorts;
let stack: ChildProcess;
let stackOutput = "";

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "broker-walkthrough-"));
  const taken = new Set<number>();
  const next = async () => {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    return port;
  };
  ports = {
    emulatorHttps: await next(),
    emulatorHttp: await next(),
    broker: await next(),
    brokerInspector: await next(),
    inventory: await next(),
    deploy: await next(),
  };
  stack = spawn(
    process.execPath,
    [
      "dev/start.ts",
      "--state-dir",
      stateDir,
      ...["emulator-port", ports.emulatorHttps, "emulator-http-port", ports.emulatorHttp, "broker-port", ports.broker]
        .concat([
          "inspector-port",
          ports.brokerInspector,
          "inventory-port",
          ports.inventory,
          "deploy-port",
          ports.deploy,
        ])
        .map((v, i) => (i % 2 === 0 ? `--${v}` : String(v))),
    ],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  stack.stdout!.on("data", (d) => (stackOutput += d));
  stack.stderr!.on("data", (d) => (stackOutput += d));
  const deadline = Date.now() + 150_000;
  while (!stackOutput.includes("Ctrl-C stops everything")) {
    if (stack.exitCode !== null) throw new Error(`npm start exited:\n${stackOutput}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${stackOutput}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 180_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once("exit", r));
    stack.kill("SIGTERM");
    await exited;
  }
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

/** Runs a block's commands in one bash session; returns each command's output lines. */
async function runBlock(block: Transcript): Promise<string[][]> {
  const marker = (i: number) => `@@walkthrough step ${i}@@`;
  const script = [
    "exec 2>&1",
    ...block.steps.flatMap((step, i) => [`printf '\\n%s\\n' '${marker(i)}'`, adapt(step.command, ports, stateDir)]),
    `printf '\\n%s\\n' '${marker(block.steps.length)}'`,
  ].join("\n");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BROKER_SIGNER_")));
  const { stdout } = await promisify(execFile)("bash", ["-c", script], { cwd: REPO, env, timeout: 120_000 });
  return block.steps.map((_, i) => {
    const start = stdout.indexOf(`${marker(i)}\n`) + marker(i).length + 1;
    const end = stdout.indexOf(`\n${marker(i + 1)}`);
    const text = stdout.slice(start, end).replace(/\r/g, "").replace(/\n+$/, "");
    return text === "" ? [] : text.split("\n");
  });
}

describe.each(transcripts.filter((t) => t.kind === "commands").map((t) => [`${t.file}:${t.line}`, t] as const))(
  "the commands at %s",
  (_, block) => {
    it("print what the docs show", async () => {
      const outputs = await runBlock(block);
      block.steps.forEach((step, i) => {
        const expected = step.expected.map((l) => adapt(l, ports, stateDir));
        const actual = outputs[i]!;
        const shown = `$ ${step.command}\nexpected:\n${expected.join("\n")}\nactual:\n${actual.join("\n")}`;
        expect(actual.length, shown).toBe(expected.length);
        expected.forEach((line, j) => expect(lineMatches(line, actual[j]!), shown).toBe(true));
      });
    }, 150_000);
  },
);

describe.each(transcripts.filter((t) => t.kind === "log").map((t) => [`${t.file}:${t.line}`, t] as const))(
  "the npm start output at %s",
  (_, block) => {
    it("is printed by npm start once the commands have run", async () => {
      for (const line of block.lines.map((l) => adapt(l, ports, stateDir))) {
        // The broker's lines reach npm start through wrangler's log forwarding, a moment later.
        const deadline = Date.now() + 5_000;
        const printed = () => stackOutput.split("\n").some((p) => lineMatches(line, p));
        while (!printed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(printed(), `npm start never printed:\n${line}\n\nit printed:\n${stackOutput}`).toBe(true);
      }
    }, 30_000);
  },
);

it("npm start printed the walk-through's commands for its own ports and state directory", () => {
  const printed = transcripts.filter(
    (t) => t.kind === "commands" && ["README.md", "docs/forward-mode.md"].includes(t.file),
  );
  expect(printed.length).toBe(2);
  for (const step of printed.flatMap((t) => t.steps))
    expect(stackOutput).toContain(adapt(step.command, ports, stateDir));
  expect(stackOutput).not.toContain("127.0.0.1:8787");
});

it("the docs have walk-through blocks to run", () => {
  expect(transcripts.filter((t) => t.kind === "commands").length).toBeGreaterThan(0);
  expect(transcripts.filter((t) => t.kind === "log").length).toBeGreaterThan(0);
});
