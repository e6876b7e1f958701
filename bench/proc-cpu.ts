import { readdirSync, readFileSync } from "node:fs";

// CPU time of processes, from Linux's per-thread scheduler statistics (nanoseconds on a CPU),
// so that a figure is what the runtime spent computing: time spent waiting (a full log pipe, a
// noisy neighbour holding the core) does not count, as it does not count on Cloudflare's bill.

/** Pids of `root`'s descendants whose command name is `name` (e.g. every workerd wrangler started). */
export function descendantsNamed(root: number, name: string): number[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces or parentheses: take the last ')'.
      const close = stat.lastIndexOf(")");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  for (const [pid, comm] of names) {
    if (comm !== name) continue;
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** Total on-CPU nanoseconds of every thread of these processes. */
export function cpuNanos(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // thread exited
      }
    }
  }
  return total;
}
