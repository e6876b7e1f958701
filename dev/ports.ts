import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

// Every port the stack will listen on is checked before anything starts, so that a busy port is
// named plainly instead of surfacing as a child's crash (wrangler's "exited before /healthz" and a
// workerd stack dump) after half the stack is up.

/** Enough to recognise the process in an error message without a screenful of flags. */
const MAX_COMMAND_CHARS = 60;

export interface BusyPort {
  readonly port: number;
  readonly role: string;
  /** The process listening there, when it is ours to see (same user): "pid 1234 (workerd)". */
  readonly holder?: string;
  readonly code: string;
}

/** The ports among `wanted` that cannot be bound on 127.0.0.1 right now. */
export async function busyPorts(wanted: ReadonlyArray<{ port: number; role: string }>): Promise<BusyPort[]> {
  const busy: BusyPort[] = [];
  for (const { port, role } of wanted) {
    const code = await tryBind(port);
    if (code) busy.push({ port, role, code, holder: listener(port) });
  }
  return busy;
}

export function describeBusy(busy: readonly BusyPort[]): string {
  return busy
    .map(
      (b) =>
        `port ${b.port}, for ${b.role}, is ${b.code === "EADDRINUSE" ? "in use" : `not usable (${b.code})`}` +
        (b.holder ? ` by ${b.holder}` : ""),
    )
    .join("; ");
}

function tryBind(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Best effort, Linux only: the listening socket's inode from /proc/net/tcp*, then the process
 *  holding it. Other users' processes cannot be seen; the message then names only the port. */
function listener(port: number): string | undefined {
  try {
    const inodes = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text = "";
      try {
        text = readFileSync(table, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const fields = line.trim().split(/\s+/);
        const local = fields[1];
        // state 0A = LISTEN
        if (local && fields[3] === "0A" && Number.parseInt(local.split(":")[1] ?? "", 16) === port)
          inodes.add(fields[9]!);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let target = "";
        try {
          target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) {
          return `pid ${pid} (${commandLine(pid)})`;
        }
      }
    }
  } catch {
    // /proc is absent or unreadable: the port alone is named
  }
  return undefined;
}

/** How a process was started, shortened: Node's main thread is named "MainThread", which says
 *  nothing, while "node dev/start.ts" or "workerd serve" says whose port it is. */
function commandLine(pid: string): string {
  const [program = "", ...args] = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const text = [
    program.split("/").pop(),
    ...args.map((a) => (a.includes("/") ? a.split("/").slice(-2).join("/") : a)),
  ].join(" ");
  return text.length > MAX_COMMAND_CHARS ? `${text.slice(0, MAX_COMMAND_CHARS)}…` : text;
}
