/**
 * The socket file's surroundings: a directory of our own closed to everyone else, and no stale or
 * foreign file where the socket goes.
 */
import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { SignerError } from "./errors.ts";

const DIR_MODE = 0o700;

/** Make sure the socket's directory exists, is ours and is closed to everyone else. */
export function prepareDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: DIR_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST")
      throw new SignerError(
        "ERR_SOCKET",
        `cannot create socket directory ${dir} (${(e as NodeJS.ErrnoException).code}); its parent must exist`,
      );
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new SignerError("ERR_SOCKET", `socket directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new SignerError(
      "ERR_SOCKET",
      `socket directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); use a directory of your own`,
    );
  if ((st.mode & 0o077) !== 0) {
    throw new SignerError(
      "ERR_SOCKET",
      `socket directory ${dir} has mode ${(st.mode & 0o777).toString(8)}; other users could reach the socket: run \`chmod 700 ${dir}\``,
    );
  }
}

/** A leftover socket file from a crashed daemon is removed; a live one means another signer is running. */
export async function clearStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new SignerError(
      "ERR_SOCKET",
      `${socketPath} exists and is not a socket; remove it or choose another socket path`,
    );
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(socketPath);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
  if (live)
    throw new SignerError(
      "ERR_SOCKET",
      `another process is already listening on ${socketPath}; stop it or choose another socket path`,
    );
  unlinkSync(socketPath);
}
