import { err, ok, type Result } from "../result.ts";
import { toCallerHeaders } from "./headers.ts";

// Sends the rebuilt request to the origin and hands its response back as a stream. The timeout
// covers the wait for response headers only: once the origin answers, a long streaming body is
// the caller's business, not a hang.

export interface UpstreamProblem {
  readonly reason: "origin_timeout" | "origin_unreachable";
}

export interface OutboundRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
}

export async function sendToOrigin(
  outbound: OutboundRequest,
  timeoutMs: number,
): Promise<Result<Response, UpstreamProblem>> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("origin did not answer in time", "TimeoutError")),
    timeoutMs,
  );
  let response: Response;
  try {
    response = await fetch(outbound.url, {
      method: outbound.method,
      headers: outbound.headers,
      body: outbound.method === "GET" || outbound.method === "HEAD" ? null : outbound.body,
      // A redirect is the origin's answer to the caller, who decides whether to follow it;
      // following it here would carry the minted token to wherever Location points.
      redirect: "manual",
      signal: controller.signal,
    });
  } catch {
    return err({ reason: controller.signal.aborted ? "origin_timeout" : "origin_unreachable" });
  } finally {
    clearTimeout(timer);
  }
  return ok(
    new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers: toCallerHeaders(response.headers),
    }),
  );
}
