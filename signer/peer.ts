/**
 * Who is on the other end of a daemon connection, for the audit trail. Node has no SO_PEERCRED API,
 * and the peer of a unix socket is not visible in /proc/net/unix, so on Linux the kernel's own answer
 * is read through `ss` (iproute2, sock_diag): our end's inode (from /proc/self/fd) gives the peer's
 * inode, and the process holding that inode is the caller. Its uid is the owner of /proc/<pid>.
 * Where that is not possible (not Linux, no `ss`, too many lookups at once) the line says why instead
 * of guessing; file permissions (0600 socket in a 0700 directory) still limit callers to this user and root.
 */
import { execFile } from "node:child_process";
import { readlink, stat } from "node:fs/promises";
import type net from "node:net";

export type Caller = {
  readonly via: "socket" | "cli";
  readonly peerPid?: number;
  readonly peerUid?: number;
  /** Why the peer could not be named, when it could not. */
  readonly peerUnresolved?: string;
};

/** One lookup walks every process's descriptors (~20 ms); a flood of new connections must not fork a flood of `ss`. */
const MAX_LOOKUPS_IN_FLIGHT = 4;
/**
 * `ss` answers in tens of milliseconds; beyond this the audit line goes out without the peer. The
 * first answer on a connection waits for the lookup, so this also bounds that delay.
 */
const LOOKUP_TIMEOUT_MS = 1_000;
const SS_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

let inFlight = 0;

/** The caller on `socket`, looked up once per connection. Never throws. */
export function socketPeer(socket: net.Socket): Promise<Caller> {
  let known = peers.get(socket);
  if (known === undefined) {
    known = lookup(socket).catch((e: unknown) => ({
      via: "socket" as const,
      peerUnresolved: e instanceof Error ? e.message.slice(0, 120) : "lookup failed",
    }));
    peers.set(socket, known);
  }
  return known;
}

const peers = new WeakMap<net.Socket, Promise<Caller>>();

async function lookup(socket: net.Socket): Promise<Caller> {
  if (process.platform !== "linux") return { via: "socket", peerUnresolved: `not available on ${process.platform}` };
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return { via: "socket", peerUnresolved: "no descriptor" };
  const ours = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`))?.[1];
  if (ours === undefined) return { via: "socket", peerUnresolved: "not a socket descriptor" };
  if (inFlight >= MAX_LOOKUPS_IN_FLIGHT) return { via: "socket", peerUnresolved: "too many lookups at once" };
  inFlight++;
  let table: string;
  try {
    table = await new Promise<string>((resolve, reject) =>
      execFile("ss", ["-xpnH"], { timeout: LOOKUP_TIMEOUT_MS, maxBuffer: SS_MAX_OUTPUT_BYTES }, (error, stdout) =>
        error ? reject(new Error(`ss: ${error.message.split("\n")[0]}`)) : resolve(stdout),
      ),
    );
  } finally {
    inFlight--;
  }
  const pid = peerPid(table, ours);
  if (pid === undefined) return { via: "socket", peerUnresolved: "peer not found (it may have exited)" };
  const uid = await stat(`/proc/${pid}`).then(
    (st) => st.uid,
    () => undefined,
  );
  return uid === undefined ? { via: "socket", peerPid: pid } : { via: "socket", peerPid: pid, peerUid: uid };
}

/**
 * From `ss -xpnH` (netid, state, recv-q, send-q, local address, local inode, peer address, peer inode,
 * users:(("name",pid=N,fd=M))): the pid holding the other end of our socket with inode `ours`.
 */
export function peerPid(table: string, ours: string): number | undefined {
  const rows = table
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8);
  const peerInode = rows.find((f) => f[5] === ours)?.[7];
  if (peerInode === undefined) return undefined;
  const users =
    rows
      .find((f) => f[5] === peerInode)
      ?.slice(8)
      .join(" ") ?? "";
  const pid = /pid=(\d+)/.exec(users)?.[1];
  return pid === undefined ? undefined : Number(pid);
}
