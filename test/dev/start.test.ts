import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../dev/processes.ts";

// `npm start` as a user runs it (node dev/start.ts), on free ports: it refuses busy ports and a
// second start up front, and a stop during start-up leaves no process and no port behind.

const REPO = resolve(import.meta.dirname, "../..");
const PORT_FLAGS = [
  "emulator-port",
  "emulator-http-port",
  "broker-port",
  "inspector-port",
  "inventory-port",
  "deploy-port",
];

interface Run {
  readonly child: ChildProcess;
  readonly marker: string;
  readonly ports: Record<string, number>;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePorts(): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  const taken = new Set<number>();
  for (const flag of PORT_FLAGS) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[flag] = port;
  }
  return ports;
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "broker-start-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(
  dir: string,
  ports: Record<string, number>,
  options: { env?: Record<string, string>; flags?: string[]; omit?: string[] } = {},
): Run {
  // Every process of the stack inherits this variable: how the test finds any that outlive it.
  const marker = `start-test-${randomUUID()}`;
  const args = [
    "dev/start.ts",
    "--verbose",
    "--state-dir",
    dir,
    ...PORT_FLAGS.filter((f) => !options.omit?.includes(f)).flatMap((f) => [`--${f}`, String(ports[f])]),
    ...(options.flags ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, ...options.env, BROKER_START_TEST_MARKER: marker },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: Run = {
    child,
    marker,
    ports,
    stdout: "",
    stderr: "",
    exited: new Promise((r) => child.once("exit", (code) => r(code))),
  };
  child.stdout!.on("data", (d) => (run.stdout += d));
  child.stderr!.on("data", (d) => (run.stderr += d));
  cleanups.push(async () => {
    // A failing test must not leave a stack behind for the next one.
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const pid of processesMarked(marker)) killQuietly(pid);
  });
  return run;
}

function processesMarked(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`BROKER_START_TEST_MARKER=${marker}`))
        pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

function killQuietly(pid: number) {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function waitFor(run: Run, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.stdout)) {
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.stdout}\n${run.stderr}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${run.stdout}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function listen(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return server;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((r) => {
    server.once("error", () => r(false));
    server.listen(port, "127.0.0.1", () => server.close(() => r(true)));
  });
}

async function expectNothingLeft(run: Run) {
  // Process groups are signalled before start.ts exits; give the kernel a moment to reap.
  const deadline = Date.now() + 5_000;
  while (processesMarked(run.marker).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(processesMarked(run.marker), "processes of the stack still running").toEqual([]);
  for (const [flag, port] of Object.entries(run.ports)) expect(await portIsFree(port), `${flag} ${port}`).toBe(true);
}

describe("npm start: ports", () => {
  it("refuses to start when a port is busy, naming the port, what it is for and how to choose another", async () => {
    const ports = await freePorts();
    await listen(ports["broker-port"]!);
    const dir = stateDir();
    const run = start(dir, ports);
    expect(await run.exited).toBe(1);
    expect(run.stderr).toContain(
      `port ${ports["broker-port"]}, for the broker (wrangler dev), is in use by pid ${process.pid}`,
    );
    expect(run.stderr).toContain("--broker-port N (or DEV_BROKER_PORT=N)");
    expect(run.stdout).not.toContain("Starting");
    expect(existsSync(join(dir, "start.lock")), "lock released").toBe(false);
  });

  it("takes ports from DEV_*_PORT variables when no flag is given, and names every busy one", async () => {
    const ports = await freePorts();
    await listen(ports["inventory-port"]!);
    await listen(ports["inspector-port"]!);
    const run = start(stateDir(), ports, {
      omit: ["inventory-port", "inspector-port"],
      env: { DEV_INVENTORY_PORT: String(ports["inventory-port"]), DEV_INSPECTOR_PORT: String(ports["inspector-port"]) },
    });
    expect(await run.exited).toBe(1);
    expect(run.stderr).toContain(`port ${ports["inspector-port"]}, for the broker's inspector`);
    expect(run.stderr).toContain(`port ${ports["inventory-port"]}, for the inventory sample origin`);
    expect(run.stderr).not.toContain(`port ${ports["broker-port"]}`);
  });

  it("refuses one port given to two parts, and a port that is not a port", async () => {
    const ports = await freePorts();
    const same = start(stateDir(), { ...ports, "deploy-port": ports["inventory-port"]! });
    expect(await same.exited).toBe(2);
    expect(same.stderr).toContain(
      `port ${ports["inventory-port"]} is given to both the inventory sample origin and the deploy sample origin`,
    );
    const bad = start(stateDir(), ports, { omit: ["broker-port"], env: { DEV_BROKER_PORT: "87a7" } });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr).toContain('DEV_BROKER_PORT is "87a7": give a port from 1 to 65535');
  });
});

describe("npm start: one at a time", () => {
  it("says so when another npm start runs for the same state directory, and starts nothing", async () => {
    const dir = stateDir();
    // A live owner: this test process stands in for the first npm start.
    writeFileSync(
      join(dir, "start.lock"),
      JSON.stringify({ pid: process.pid, startedAt: "2026-01-01T00:00:00.000Z", broker: "http://127.0.0.1:8787" }),
    );
    const ports = await freePorts();
    const run = start(dir, ports);
    expect(await run.exited).toBe(1);
    expect(run.stderr).toContain(`npm start is already running for ${dir}/ (pid ${process.pid}`);
    expect(run.stderr).toContain(`kill ${process.pid}`);
    expect(JSON.parse(readFileSync(join(dir, "start.lock"), "utf8")).pid, "the owner's lock is kept").toBe(process.pid);
  });

  it("takes over the lock of an npm start that is gone (killed with SIGKILL)", async () => {
    const dir = stateDir();
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => gone.once("exit", r));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "start.lock"), JSON.stringify({ pid: gone.pid, startedAt: "2026-01-01T00:00:00.000Z" }));
    const ports = await freePorts();
    await listen(ports["deploy-port"]!); // stop it right after the lock, before anything starts
    const run = start(dir, ports);
    expect(await run.exited).toBe(1);
    expect(run.stderr).not.toContain("already running");
    expect(run.stderr).toContain(`port ${ports["deploy-port"]}, for the deploy sample origin, is in use`);
  });
});

describe("npm start: stopping during start-up", () => {
  it("SIGTERM while wrangler is starting leaves no process of the stack and frees every port", async () => {
    const dir = stateDir();
    const ports = await freePorts();
    const run = start(dir, ports);
    await waitFor(run, /^\[broker\] /m, 60_000); // wrangler is up and printing; workerd is on its way
    expect(processesMarked(run.marker).length).toBeGreaterThan(1);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.stdout).toContain("SIGTERM: stopping");
    await expectNothingLeft(run);
    expect(existsSync(join(dir, "start.lock")), "lock released").toBe(false);
  }, 90_000);

  it("Ctrl-C (SIGINT) while the signer daemons start leaves no process of the stack and frees every port", async () => {
    const ports = await freePorts();
    const run = start(stateDir(), ports);
    await waitFor(run, /^\[signer:orders\] /m, 150_000);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.stdout).not.toContain("Ctrl-C stops everything"); // it never finished starting
    await expectNothingLeft(run);
  }, 180_000);

  it("stops what an npm start killed with SIGKILL left running, then starts", async () => {
    const dir = stateDir();
    const ports = await freePorts();
    const first = start(dir, ports);
    await waitFor(first, /^\[signer:orders\] /m, 150_000);
    first.child.kill("SIGKILL"); // no handler runs: wrangler, workerd and the signer are orphaned
    await first.exited;
    expect(processesMarked(first.marker).length, "leftovers of the killed start").toBeGreaterThan(1);

    const second = start(dir, ports);
    await waitFor(
      second,
      /An earlier npm start \(pid \d+\) ended without stopping its processes; stopping broker \(pid \d+\), signer:orders \(pid \d+\)/,
      30_000,
    );
    await waitFor(second, /^\[broker\] /m, 60_000); // the ports were free again: it is starting
    expect(processesMarked(first.marker), "leftovers of the killed start").toEqual([]);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    await expectNothingLeft(second);
  }, 240_000);
});
