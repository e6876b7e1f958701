/**
 * `exchange --for-origin`: the resource to ask the broker for, read from the origin's RFC 9728
 * protected resource metadata instead of typed by hand. The origin only names itself and its
 * broker; the exchange still goes to this signer's configured broker, and only if the origin trusts it.
 */
import { SignerError } from "./errors.ts";
import type { HttpClient } from "./network.ts";

export const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource";

/** The document is a few hundred bytes; the HTTP client's own cap bounds the read. */
const METADATA_TIMEOUT_MS = 10_000;

export async function resourceForOrigin(http: HttpClient, originUrl: string, brokerUrl: string): Promise<string> {
  let origin: string;
  try {
    const url = new URL(originUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError(url.protocol);
    origin = url.origin;
  } catch {
    throw new SignerError(
      "ERR_USAGE",
      `--for-origin "${originUrl.slice(0, 200)}" is not an http(s) URL; give the origin, like https://api.example.com`,
    );
  }
  const metadataUrl = `${origin}${PROTECTED_RESOURCE_PATH}`;
  const res = await http.request("GET", metadataUrl, { accept: "application/json" }, undefined, METADATA_TIMEOUT_MS);
  if (res.status !== 200) {
    throw new SignerError(
      "ERR_NETWORK",
      `${metadataUrl} answered ${res.status}: the origin does not publish RFC 9728 protected resource metadata; use --resource`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch {
    throw new SignerError("ERR_NETWORK", `${metadataUrl} is not JSON`);
  }
  const { resource, authorization_servers: servers } = (doc ?? {}) as Record<string, unknown>;
  // RFC 9728 §3.3: metadata naming another resource than the one it was fetched for must not be used.
  if (resource !== origin) {
    throw new SignerError(
      "ERR_REQUEST",
      `${metadataUrl} names resource ${JSON.stringify(resource)}, not ${origin}; refusing to use it (RFC 9728 §3.3)`,
    );
  }
  const broker = brokerUrl.replace(/\/+$/, "");
  if (!Array.isArray(servers) || !servers.some((s) => typeof s === "string" && s.replace(/\/+$/, "") === broker)) {
    throw new SignerError(
      "ERR_REQUEST",
      `${origin} accepts tokens from ${JSON.stringify(servers)}, not from this signer's broker ${broker}`,
    );
  }
  return origin;
}
