/**
 * The daemon's local API: HTTP over a unix socket whose file is mode 0600 inside a directory of mode
 * 0700, so only the signer's own user can connect. Never an abstract socket (no permissions) and
 * never TCP (any local user, or the network, could connect).
 *
 *   GET  /token?scope=<scope>           → {access_token, token_type, expires_in, expires_on, scope}
 *   POST /exchange  {resource, scope?, subject_token?}
 *                                       → {access_token, issued_token_type, token_type, expires_in, scope}
 *   POST /dpop      {method, url, access_token?}  → {proof, jkt}   (RFC 9449, with "dpop": true)
 *   GET  /health                        → {status, credential}
 *   errors                              → {error, error_description, code}
 */
import { chmodSync, statSync, unlinkSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { dirname } from "node:path";
import { validateSocketPath } from "./config-values.ts";
import { readDpopRequest } from "./dpop.ts";
import { SignerError, type SignerErrorCode } from "./errors.ts";
import { tokenHash, type Logger } from "./log.ts";
import { socketPeer } from "./peer.ts";
import { clearStaleSocket, prepareDirectory } from "./socket-file.ts";
import type { SignerService } from "./service.ts";

/** Requests are a resource and a scope; anything bigger is a mistake or an attack on memory. */
const MAX_REQUEST_BODY_BYTES = 8 * 1024;

/** A local caller sends its request at once; a connection that dawdles is holding a slot for nothing. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
/**
 * Node checks the two timeouts above only on this timer (30 s by default), so a 5 s header timeout
 * would really be up to 35 s. Once a second keeps them what they say.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

const SOCKET_MODE = 0o600;

export type SocketServer = { readonly socketPath: string; close(): Promise<void> };

function statusFor(code: SignerErrorCode): { status: number; error: string } {
  switch (code) {
    case "ERR_REQUEST":
    case "ERR_USAGE":
      return { status: 400, error: "invalid_request" };
    case "ERR_EXCHANGE":
      return { status: 400, error: "exchange_refused" };
    case "ERR_TOKEN":
      return { status: 502, error: "token_unavailable" };
    case "ERR_NETWORK":
      return { status: 502, error: "upstream_unreachable" };
    case "ERR_TIMEOUT":
      return { status: 504, error: "upstream_timeout" };
    case "ERR_CONFIG":
    case "ERR_CREDENTIAL":
    case "ERR_KEY_UNSAFE":
    case "ERR_SOCKET":
      return { status: 500, error: "signer_misconfigured" };
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

class BodyTooLarge extends SignerError {
  constructor() {
    super("ERR_REQUEST", `request body larger than ${MAX_REQUEST_BODY_BYTES} bytes`);
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    // A declared length over the cap is refused before a byte is read.
    if (Number(req.headers["content-length"] ?? 0) > MAX_REQUEST_BODY_BYTES) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY_BYTES) {
        // Stop buffering but keep draining (bounded by the request timeout), so the caller can
        // finish sending and read the 413 instead of seeing a reset connection.
        req.off("data", onData);
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function handle(
  req: http.IncomingMessage,
  service: SignerService,
  now: () => number,
): Promise<{ status: number; body: unknown; log: Record<string, string | number> }> {
  const url = new URL(req.url ?? "/", "http://signer.invalid");
  if (url.pathname === "/token") {
    if (req.method !== "GET")
      return {
        status: 405,
        body: { error: "invalid_request", error_description: "use GET /token?scope=<scope>", code: "ERR_REQUEST" },
        log: {},
      };
    const scopes = url.searchParams.getAll("scope");
    if (scopes.length !== 1 || !scopes[0])
      throw new SignerError("ERR_REQUEST", "give exactly one scope: GET /token?scope=api://<app>/.default");
    const t = await service.getToken(scopes[0], socketPeer(req.socket));
    const expiresIn = Math.max(0, Math.floor((t.expiresOn.getTime() - now()) / 1000));
    return {
      status: 200,
      body: {
        access_token: t.accessToken,
        token_type: "Bearer",
        expires_in: expiresIn,
        expires_on: Math.floor(t.expiresOn.getTime() / 1000),
        scope: t.scope,
      },
      log: { scope: t.scope, tokenHash: tokenHash(t.accessToken) },
    };
  }
  if (url.pathname === "/exchange") {
    if (req.method !== "POST")
      return {
        status: 405,
        body: {
          error: "invalid_request",
          error_description: "use POST /exchange with JSON {resource, scope?}",
          code: "ERR_REQUEST",
        },
        log: {},
      };
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
      throw new SignerError("ERR_REQUEST", "POST /exchange needs content-type: application/json");
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBody(req));
    } catch (e) {
      if (e instanceof SignerError) throw e;
      throw new SignerError("ERR_REQUEST", "POST /exchange body is not JSON");
    }
    const {
      resource,
      scope,
      subject_token: subjectToken,
    } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
      resource?: unknown;
      scope?: unknown;
      subject_token?: unknown;
    };
    if (typeof resource !== "string")
      throw new SignerError("ERR_REQUEST", 'POST /exchange needs a string "resource" (the downstream origin)');
    if (scope !== undefined && typeof scope !== "string")
      throw new SignerError("ERR_REQUEST", '"scope" must be a string (space-separated scopes)');
    // Delegation: the broker token this service's caller sent it; the signer's identity is the actor.
    if (subjectToken !== undefined && typeof subjectToken !== "string")
      throw new SignerError("ERR_REQUEST", '"subject_token" must be a string (the broker token you received)');
    const out = await service.exchange(resource, scope, socketPeer(req.socket), { subjectToken });
    return { status: 200, body: out, log: { resource, tokenHash: tokenHash(out.access_token) } };
  }
  if (url.pathname === "/dpop") {
    if (req.method !== "POST" || !/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
      throw new SignerError("ERR_REQUEST", "use POST /dpop with JSON {method, url, access_token?}");
    const { method, url: target, accessToken } = readDpopRequest(await readBody(req));
    const made = await service.dpopProof(method, target, accessToken);
    return { status: 200, body: made, log: { jkt: made.jkt } };
  }
  if (url.pathname === "/health" && req.method === "GET") {
    return { status: 200, body: { status: "ok", credential: service.describe(), stats: service.stats() }, log: {} };
  }
  return {
    status: 404,
    body: {
      error: "not_found",
      error_description: "endpoints: GET /token?scope=, POST /exchange, POST /dpop, GET /health",
      code: "ERR_REQUEST",
    },
    log: {},
  };
}

export async function startSocketServer(options: {
  socketPath: string;
  service: SignerService;
  log: Logger;
  now?: () => number;
}): Promise<SocketServer> {
  const { service, log } = options;
  const now = options.now ?? (() => Date.now());
  const socketPath = validateSocketPath(options.socketPath, "socket path");
  prepareDirectory(dirname(socketPath));
  await clearStaleSocket(socketPath);

  const server = http.createServer(
    {
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (req, res) => {
      const started = Date.now();
      handle(req, service, now)
        // The answer waits for the peer lookup (started when the connection opened; bounded): a caller
        // that exits as soon as it has its token would otherwise be gone before the kernel is asked.
        .then(async (answer) => {
          await socketPeer(req.socket);
          return answer;
        })
        .then(({ status, body, log: fields }) => {
          send(res, status, body);
          log.info("request", {
            method: req.method ?? "",
            path: (req.url ?? "").split("?")[0] ?? "",
            status,
            ms: Date.now() - started,
            ...fields,
          });
        })
        .catch((e: unknown) => {
          if (e instanceof SignerError) {
            if (e instanceof BodyTooLarge) res.setHeader("connection", "close");
            const mapped = e instanceof BodyTooLarge ? { status: 413, error: "invalid_request" } : statusFor(e.code);
            // The broker's own OAuth status and error code are the useful ones for an exchange refusal.
            const status = e.code === "ERR_EXCHANGE" && e.status !== undefined ? e.status : mapped.status;
            const error =
              (e.code === "ERR_EXCHANGE" || e.code === "ERR_TOKEN") && e.oauthError ? e.oauthError : mapped.error;
            send(res, status, { error, error_description: e.message, code: e.code });
            log.warn("request.failed", {
              method: req.method ?? "",
              path: (req.url ?? "").split("?")[0] ?? "",
              status,
              code: e.code,
              message: e.message,
            });
          } else {
            send(res, 500, {
              error: "server_error",
              error_description: "internal error (see the signer's log)",
              code: "ERR_INTERNAL",
            });
            log.error("request.crashed", { message: e instanceof Error ? e.message : "unknown" });
          }
        });
    },
  );

  // The umask makes the socket file 0600 from its first moment; the chmod below is belt and braces.
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(
          new SignerError(
            "ERR_SOCKET",
            `cannot listen on ${socketPath}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
          ),
        ),
      );
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(socketPath, SOCKET_MODE);
  if ((statSync(socketPath).mode & 0o777) !== SOCKET_MODE) {
    server.close();
    throw new SignerError("ERR_SOCKET", `could not make ${socketPath} mode 0600`);
  }
  // Who connected is asked while they are surely still there: at connection time.
  server.on("connection", (socket: net.Socket) => void socketPeer(socket));
  log.info("socket.listening", { socketPath });

  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          try {
            unlinkSync(socketPath);
          } catch {
            // Already gone: nothing to clean up.
          }
          resolve();
        });
      }),
  };
}
