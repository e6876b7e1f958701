/**
 * HTTPS for msal-node and the broker with a configurable CA (the emulator's local CA, a corporate TLS
 * proxy). Node's fetch reads NODE_EXTRA_CA_CERTS only at process start, so a CA from the signer's own
 * config needs its own client: this one, built on node:https.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { HTTP_ATTEMPT_TIMEOUT_MS } from "./deadline.ts";
import { SignerError } from "./errors.ts";

/** Token responses are a few KiB; a cap stops a misbehaving peer from filling memory. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export type HttpResponse = { status: number; headers: Record<string, string>; body: string };

export type HttpClient = {
  request(
    method: "GET" | "POST" | "DELETE",
    url: string,
    headers: Record<string, string>,
    body?: string,
    timeoutMs?: number,
  ): Promise<HttpResponse>;
};

export function readCaFile(caFile: string | undefined): string | undefined {
  if (caFile === undefined) return undefined;
  try {
    return readFileSync(caFile, "utf8");
  } catch (e) {
    throw new SignerError(
      "ERR_CONFIG",
      `CA file ${caFile}: cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

export function createHttpClient(caPem: string | undefined): HttpClient {
  // Keep-alive: the signer talks to one or two hosts over and over.
  const agent = new https.Agent({ keepAlive: true, ...(caPem ? { ca: [...tlsRootCertificates(), caPem] } : {}) });
  const httpAgent = new http.Agent({ keepAlive: true });
  return {
    request(method, url, headers, body, timeoutMs = HTTP_ATTEMPT_TIMEOUT_MS) {
      const u = new URL(url);
      const mod = u.protocol === "https:" ? https : http;
      return new Promise((resolvePromise, reject) => {
        const req = mod.request(
          u,
          {
            method,
            headers: body !== undefined ? { ...headers, "content-length": String(Buffer.byteLength(body)) } : headers,
            agent: u.protocol === "https:" ? agent : httpAgent,
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (chunk: Buffer) => {
              size += chunk.length;
              if (size > MAX_RESPONSE_BYTES) {
                req.destroy(
                  new SignerError("ERR_NETWORK", `${u.origin} sent a response larger than ${MAX_RESPONSE_BYTES} bytes`),
                );
                return;
              }
              chunks.push(chunk);
            });
            res.on("end", () => {
              const out: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers))
                if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
              resolvePromise({
                status: res.statusCode ?? 0,
                headers: out,
                body: Buffer.concat(chunks).toString("utf8"),
              });
            });
            res.on("error", reject);
          },
        );
        req.on("timeout", () =>
          req.destroy(new SignerError("ERR_NETWORK", `${u.origin} did not answer within ${timeoutMs} ms`)),
        );
        req.on("error", (e) => {
          if (e instanceof SignerError) reject(e);
          else
            reject(
              new SignerError(
                "ERR_NETWORK",
                `cannot reach ${u.origin}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
              ),
            );
        });
        req.end(body);
      });
    },
  };
}

/** Adding a CA must not drop the public roots: a corporate proxy's CA comes in addition to them. */
function tlsRootCertificates(): string[] {
  return [...rootCertificates];
}

/** msal-node's INetworkModule over createHttpClient. */
export function createMsalNetworkClient(client: HttpClient): INetworkModule {
  const toMsal = <T>(res: HttpResponse): NetworkResponse<T> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // msal-node turns a non-JSON body into a clear error of its own; hand it an empty object.
      parsed = {};
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  return {
    async sendGetRequestAsync<T>(
      url: string,
      options?: NetworkRequestOptions,
      timeout?: number,
    ): Promise<NetworkResponse<T>> {
      return toMsal<T>(await client.request("GET", url, options?.headers ?? {}, undefined, timeout));
    },
    async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
      return toMsal<T>(await client.request("POST", url, options?.headers ?? {}, options?.body ?? ""));
    },
  };
}
