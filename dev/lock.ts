import { mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";

// One `npm start` per state directory: a second one would find every port taken, or worse, with
// other ports, talk to the first one's signers. The lock holds the owner's pid and the process
// group of each child it started; a lock whose owner is gone (killed with SIGKILL, machine
// rebooted) is stale and taken over, and the children it names that still run are its leftovers.

export interface StartLock {
  readonly file: string;
  /** Notes a child's process group, so that a successor can find it if this process is killed. */
  recordChild(pid: number, name: string): void;
  release(): void;
}

export interface LockedChild {
  readonly pid: number;
  readonly name: string;
}

export interface LockOwner {
  readonly pid: number;
  readonly startedAt: string;
  readonly broker?: string;
  readonly children?: readonly LockedChild[];
}

export interface Leftover extends LockedChild {
  /** Its command line names this state directory: certainly ours, safe to stop. */
  readonly ours: boolean;
}

export type LockResult =
  | { readonly ok: true; readonly lock: StartLock; readonly previous?: LockOwner; readonly leftovers: Leftover[] }
  | { readonly ok: false; readonly owner: LockOwner };

export function acquireStartLock(stateDir: string, info: { broker: string }): LockResult {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "start.lock");
  const mine = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    broker: info.broker,
    children: [] as LockedChild[],
  };
  let previous: LockOwner | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600); // atomic: exactly one process creates it
      writeSync(fd, `${JSON.stringify(mine)}\n`);
      closeSync(fd);
      const leftovers = (previous?.children ?? [])
        .filter((c) => groupAlive(c.pid))
        .map((c) => ({ ...c, ours: commandLine(c.pid).includes(stateDir) }));
      return {
        ok: true,
        previous,
        leftovers,
        lock: {
          file,
          recordChild(pid, name) {
            mine.children.push({ pid, name });
            const temp = `${file}.${process.pid}`;
            writeFileSync(temp, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
            renameSync(temp, file); // a reader sees the old list or the new one, never half
          },
          release() {
            // Only our own lock: a stale-lock takeover by another start may have replaced it.
            if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
          },
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = readOwner(file);
    if (owner && alive(owner.pid)) return { ok: false, owner };
    previous = owner;
    rmSync(file, { force: true }); // stale: its owner is gone
  }
  const owner = readOwner(file);
  return { ok: false, owner: owner ?? { pid: 0, startedAt: "unknown" } };
}

/** SIGTERM, then SIGKILL after `graceMs`, to each leftover's process group. */
export async function stopLeftovers(leftovers: readonly Leftover[], graceMs: number): Promise<void> {
  for (const l of leftovers) signalGroup(l.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (leftovers.some((l) => groupAlive(l.pid)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  for (const l of leftovers) signalGroup(l.pid, "SIGKILL");
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, "utf8")) as LockOwner;
    if (!Number.isInteger(owner.pid) || owner.pid <= 0) return undefined;
    const children = Array.isArray(owner.children)
      ? owner.children.filter((c) => Number.isInteger(c?.pid) && c.pid > 1 && typeof c.name === "string")
      : [];
    return { ...owner, children };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return ""; // the group's leader is gone (or this is not Linux): cannot tell whose it is
  }
}
