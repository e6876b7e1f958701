import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

// Child processes of the local stack: each runs in its own process group so that stopping it
// also stops what it started (wrangler starts workerd), and each line it prints is handed on.

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved by line. */
  readonly output: string[];
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** How long a child gets to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/** Every child started here whose process group may still be alive: what `killAllNow` kills. */
const running = new Set<ChildProcess>();

let spawnObserver: ((pid: number, name: string) => void) | undefined;

/** Told of every child as it is spawned: `npm start` notes each process group in its lock file. */
export function observeSpawns(observer: (pid: number, name: string) => void): void {
  spawnObserver = observer;
}

/** Last resort when this process is about to exit (synchronous, so it also works in an `exit`
 *  handler): SIGKILL every child's process group that was not stopped cleanly. */
export function killAllNow(): void {
  for (const child of running) signalGroup(child, "SIGKILL");
  running.clear();
}

export function startChild(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void },
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  running.add(child);
  if (child.pid) spawnObserver?.(child.pid, name);
  child.once("exit", () => {
    // What the child started in its group (wrangler's workerd) has no one left to stop it; and once
    // the group is empty, its id may be reused, so it is forgotten here.
    signalGroup(child, "SIGKILL");
    running.delete(child);
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        options.onLine?.(line);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    name,
    process: child,
    output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        signalGroup(child, "SIGKILL"); // the child is gone; what it started in its group may not be
        running.delete(child);
        return;
      }
      signalGroup(child, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      signalGroup(child, "SIGKILL"); // anything the child left behind in its group
      const deadline = Date.now() + STOP_GRACE_MS;
      while (groupAlive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      running.delete(child);
    },
  };
}

export function groupAlive(child: ChildProcess): boolean {
  try {
    if (child.pid) process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Polls `probe` until it resolves true, the child exits, or the deadline passes. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  child?: Child,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child!.name} exited before ${what}:\n${child!.output.slice(-30).join("\n")}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${child ? `:\n${child.output.slice(-30).join("\n")}` : ""}`,
  );
}

/** A port that was free a moment ago, for processes that cannot report the port they bound. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
