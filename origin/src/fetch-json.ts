import type { FetchLike } from "./options.ts";
import { err, ok, type Result } from "./result.ts";

// One GET of a small JSON document from the broker, bounded in every direction: a slow, huge or
// redirected answer is a failure with a reason, never a hang or an unbounded read.

/** A slow broker must not hold requests open: the caller gets a 503 instead. */
export const FETCH_TIMEOUT_MS = 5 * 1000;
/** The broker's metadata and JWKS are ~1 KiB; a larger answer is an attack or a misconfiguration. */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

export async function fetchJson(
  fetcher: FetchLike,
  url: string,
  maxBytes = MAX_DOCUMENT_BYTES,
): Promise<Result<unknown, string>> {
  let response: Response;
  try {
    response = await fetcher(url, {
      method: "GET",
      headers: { accept: "application/json" },
      // The discovered URL is the only source: a redirect elsewhere is a failure, not a hint.
      redirect: "manual",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (e) {
    return err(`GET ${url} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      return err(`GET ${url} answered ${response.status}`);
    }
    if (Number(response.headers.get("content-length") ?? "0") > maxBytes) {
      await response.body.cancel();
      return err(`GET ${url} is larger than ${maxBytes} bytes`);
    }
    const bytes = await readCapped(response.body, maxBytes);
    if (!bytes) return err(`GET ${url} is larger than ${maxBytes} bytes`);
    return ok(JSON.parse(new TextDecoder().decode(bytes)) as unknown);
  } catch (e) {
    return err(`GET ${url} is not JSON or was cut off: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function readCapped(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
