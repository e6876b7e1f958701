/**
 * The deadline budget, from the caller's side inwards. Each layer gives up before the one outside it,
 * so a caller always learns what actually went wrong ("Entra ID did not answer") instead of its own
 * timeout ("the signer did not answer"):
 *
 *   client library (CLIENT_TIMEOUT_MS, 15 s)
 *     > daemon / CLI per request (OPERATION_DEADLINE_MS, 10 s: Entra token + broker exchange together)
 *       >= one HTTP attempt to Entra ID or the broker (HTTP_ATTEMPT_TIMEOUT_MS, 10 s)
 *
 * A request that runs out of budget is answered ERR_TIMEOUT (socket: 504, CLI: exit 6). The work it
 * started is not abandoned: other callers waiting on the same token share it, and it still lands in
 * the cache if it completes.
 */
import { SignerError } from "./errors.ts";

/** How long the daemon or the CLI spends on one request before answering with ERR_TIMEOUT. */
export const OPERATION_DEADLINE_MS = 10_000;

/** One HTTP attempt; msal may retry, which the operation deadline still bounds. */
export const HTTP_ATTEMPT_TIMEOUT_MS = OPERATION_DEADLINE_MS;

/** The client library's socket timeout: the daemon's deadline plus room for queueing and the socket. */
export const CLIENT_TIMEOUT_MS = OPERATION_DEADLINE_MS + 5_000;

/** `work`, or ERR_TIMEOUT naming `what` once `ms` have passed, whichever comes first. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SignerError(
            "ERR_TIMEOUT",
            `${what} did not complete within ${ms / 1000} s; is Entra ID (or the broker) reachable from here?`,
          ),
        ),
      ms,
    );
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
