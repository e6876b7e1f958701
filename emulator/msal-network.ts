// An msal-node network client (INetworkModule) over node:https that trusts a given CA.
// msal's default client uses fetch, which reads NODE_EXTRA_CA_CERTS only at process start; a test
// that starts the emulator in-process hands its CA to msal through `system.networkClient` instead.
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";

/** Largest response accepted (discovery documents and token responses are a few KB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Default timeout when msal passes none (it passes one for discovery GETs, none for token POSTs). */
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface MsalNetworkClientOptions {
  /** PEM CA certificate(s) to trust for https URLs (e.g. the emulator's caCertPem). */
  ca: string | string[];
}

export function createMsalNetworkClient(opts: MsalNetworkClientOptions): INetworkModule {
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) =>
      send<T>("GET", url, opts.ca, options, timeout),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>("POST", url, opts.ca, options),
  };
}

function send<T>(
  method: "GET" | "POST",
  url: string,
  ca: string | string[],
  options: NetworkRequestOptions | undefined,
  timeout?: number,
): Promise<NetworkResponse<T>> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = { ...(options?.headers ?? {}) };
    const body = method === "POST" ? (options?.body ?? "") : undefined;
    if (body !== undefined) headers["Content-Length"] = Buffer.byteLength(body);
    const common = { method, headers, timeout: timeout ?? DEFAULT_TIMEOUT_MS };
    const req = u.protocol === "https:" ? httpsRequest(u, { ...common, ca }) : httpRequest(u, common);
    req.on("timeout", () => req.destroy(new Error(`Request timeout: ${method} ${url}`)));
    req.on("error", (e) => reject(new Error(`Network request failed: ${e.message}`)));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) return void req.destroy(new Error("response too large"));
        chunks.push(c);
      });
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({
            status: res.statusCode ?? 0,
            headers: flatten(res.headers),
            body: (text === "" ? {} : JSON.parse(text)) as T,
          });
        } catch {
          reject(new Error(`Failed to parse response from ${url} (status ${res.statusCode})`));
        }
      });
      res.on("error", reject);
    });
    req.end(body);
  });
}

/** msal wants lower-case header names with single string values. */
function flatten(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}
