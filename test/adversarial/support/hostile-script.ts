// What a test can script the hostile endpoint to answer: shared by the endpoint (Node) and the
// tests that script it (workerd), so the two cannot drift. Types only: no runtime imports.
export interface Script {
  status?: number;
  headers?: Record<string, string>;
  /** Response body as text. */
  body?: string;
  /** Response body as base64 (for bytes that are not valid UTF-8). */
  bodyBase64?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the headers, then stall: the body never completes (a slowloris key endpoint). */
  stallBody?: boolean;
  /** Stream this many bytes of `[` without a Content-Length. */
  streamBytes?: number;
  /** Send `body` with chunked transfer encoding: no Content-Length to check in advance. */
  chunked?: boolean;
  /** Drop the connection without an answer. */
  destroy?: boolean;
}
