import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";

// One `npm start` per state directory: a second one would find every port taken, or worse, with
// other ports, talk to the first one's signers. The lock holds the owner's pid; a lock whose owner
// is gone (killed with SIGKILL, machine rebooted) is stale and taken over.

export interface StartLock {
  readonly file: string;
  release(): void;
}

export interface LockOwner {
  readonly pid: number;
  readonly startedAt: string;
  readonly broker?: string;
}

export type LockResult =
  | { readonly ok: true; readonly lock: StartLock }
  | { readonly ok: false; readonly owner: LockOwner };

export function acquireStartLock(stateDir: string, info: { broker: string }): LockResult {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "start.lock");
  const mine: LockOwner = { pid: process.pid, startedAt: new Date().toISOString(), broker: info.broker };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600); // atomic: exactly one process creates it
      writeSync(fd, `${JSON.stringify(mine)}\n`);
      closeSync(fd);
      return {
        ok: true,
        lock: {
          file,
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
    rmSync(file, { force: true }); // stale: its owner is gone
  }
  const owner = readOwner(file);
  return { ok: false, owner: owner ?? { pid: 0, startedAt: "unknown" } };
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, "utf8")) as LockOwner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
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
