/**
 * The client library for Node services: ask the local signer daemon for tokens over its unix socket.
 *
 *   import { getToken, exchange } from "@identity-broker/signer";
 *   const { access_token } = await getToken("api://broker/.default");
 *   const downstream = await exchange("https://api.example.com", "orders.read");
 *   const res = await createSignerClient().fetch("https://api.example.com/orders", {}, { scope: "orders.read" });
 *
 * The socket path comes from the argument, else BROKER_SIGNER_SOCKET, else the daemon's default.
 * Failures throw SignerError with the daemon's stable `code` (and the OAuth `error` as oauthError).
 */
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIENT_TIMEOUT_MS } from "./deadline.ts";
import { isSignerErrorCode, SignerError } from "./errors.ts";

// What a caller needs to branch on failures: the error class and its stable codes.
export { SIGNER_ERROR_CODES, SignerError, type SignerErrorCode } from "./errors.ts";

export type TokenResponse = {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_on: number;
  scope: string;
};
export type ExchangeResponse = {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
};

/** Signer responses are one token plus a few fields. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** $XDG_RUNTIME_DIR is per-user and 0700 by design; otherwise a per-uid directory under the temp dir. */
export function defaultSocketPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime) return join(runtime, "broker-signer", "signer.sock");
  return join(tmpdir(), `broker-signer-${process.getuid?.() ?? "user"}`, "signer.sock");
}

export type SignerClient = {
  getToken(scope: string): Promise<TokenResponse>;
  /** With `subjectToken` (the broker token your caller sent you): a token on the caller's behalf (delegation). */
  exchange(resource: string, scope?: string, options?: { subjectToken?: string }): Promise<ExchangeResponse>;
  /** A DPoP proof (RFC 9449) for one request with the daemon's bound token for the URL's origin (or `accessToken`). */
  dpop(method: string, url: string, accessToken?: string): Promise<{ proof: string; jkt: string }>;
  /**
   * `fetch` with a broker token for the URL's origin: `Authorization: DPoP <token>` plus a fresh `DPoP` proof
   * when the daemon binds its tokens, `Authorization: Bearer <token>` otherwise.
   */
  fetch(input: string | URL, init?: RequestInit, options?: BrokerFetchOptions): Promise<Response>;
  /** Liveness, the credential's public facts and counters (token requests sent, exchanges at the broker, cache hits). */
  health(): Promise<{ status: string; credential: unknown; stats: Record<string, number> }>;
};

export type BrokerFetchOptions = {
  /** Scopes to narrow the grant to. */
  scope?: string;
  /** Delegation: the broker token your caller sent you; the request is made on the caller's behalf. */
  subjectToken?: string;
};

export function createSignerClient(
  socketPath: string = process.env.BROKER_SIGNER_SOCKET || defaultSocketPath(),
): SignerClient {
  const call = <T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath,
          method,
          path,
          timeout: CLIENT_TIMEOUT_MS,
          headers:
            payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES)
              req.destroy(new SignerError("ERR_SOCKET", "the signer sent an oversized response"));
            else chunks.push(c);
          });
          res.on("end", () => {
            let parsed: Record<string, unknown>;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
            } catch {
              reject(
                new SignerError(
                  "ERR_SOCKET",
                  `the process on ${socketPath} did not answer like a signer (status ${res.statusCode})`,
                ),
              );
              return;
            }
            if (res.statusCode === 200) {
              resolve(parsed as T);
              return;
            }
            const code = isSignerErrorCode(parsed.code) ? parsed.code : "ERR_TOKEN";
            const message =
              typeof parsed.error_description === "string"
                ? parsed.error_description
                : `signer answered ${res.statusCode}`;
            const oauthError = typeof parsed.error === "string" ? parsed.error : undefined;
            reject(
              new SignerError(code, message, {
                ...(oauthError ? { oauthError } : {}),
                ...(res.statusCode ? { status: res.statusCode } : {}),
              }),
            );
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(
          new SignerError("ERR_SOCKET", `the signer on ${socketPath} did not answer within ${CLIENT_TIMEOUT_MS} ms`),
        ),
      );
      req.on("error", (e) => {
        if (e instanceof SignerError) reject(e);
        else
          reject(
            new SignerError(
              "ERR_SOCKET",
              `cannot reach the signer on ${socketPath} (${(e as NodeJS.ErrnoException).code ?? e.message}); is \`broker-signer serve\` running?`,
            ),
          );
      });
      req.end(payload);
    });

  const exchangeFor = (resource: string, scope?: string, options: { subjectToken?: string } = {}) =>
    call<ExchangeResponse>("POST", "/exchange", {
      resource,
      ...(scope !== undefined && { scope }),
      ...(options.subjectToken !== undefined && { subject_token: options.subjectToken }),
    });
  const dpop = (method: string, url: string, accessToken?: string) =>
    call<{ proof: string; jkt: string }>("POST", "/dpop", {
      method,
      url,
      ...(accessToken !== undefined && { access_token: accessToken }),
    });
  return {
    getToken: (scope) => call<TokenResponse>("GET", `/token?${new URLSearchParams({ scope })}`),
    exchange: exchangeFor,
    dpop,
    async fetch(input, init = {}, options = {}) {
      const url = new URL(input);
      const method = (init.method ?? "GET").toUpperCase();
      const token = await exchangeFor(url.origin, options.scope, { subjectToken: options.subjectToken });
      const headers = new Headers(init.headers);
      if (token.token_type.toLowerCase() === "dpop") {
        headers.set("authorization", `DPoP ${token.access_token}`);
        headers.set("dpop", (await dpop(method, url.href, token.access_token)).proof);
      } else headers.set("authorization", `Bearer ${token.access_token}`);
      return globalThis.fetch(url, { ...init, method, headers });
    },
    health: () => call("GET", "/health"),
  };
}

let shared: SignerClient | undefined;

/** An Entra ID access token for `scope` from the local signer (default socket). */
export function getToken(scope: string): Promise<TokenResponse> {
  shared ??= createSignerClient();
  return shared.getToken(scope);
}

/** A broker-issued token for one downstream `resource` (origin), optionally narrowed to `scope`. */
export function exchange(
  resource: string,
  scope?: string,
  options?: { subjectToken?: string },
): Promise<ExchangeResponse> {
  shared ??= createSignerClient();
  return shared.exchange(resource, scope, options);
}

/** `fetch` with a broker token (DPoP-bound when the daemon binds) for the URL's origin, from the local signer. */
export function brokerFetch(input: string | URL, init?: RequestInit, options?: BrokerFetchOptions): Promise<Response> {
  shared ??= createSignerClient();
  return shared.fetch(input, init, options);
}
