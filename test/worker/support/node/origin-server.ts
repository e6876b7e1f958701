import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Echo } from "../origin-echo.ts";

// A stand-in origin behind the gateway, for the forward-mode tests. By default it echoes what
// arrived (method, path, query, headers, body) as JSON, so a test can see exactly what the
// broker forwarded. Special paths (matched at the end of any path, so they work under any route
// prefix) show the behaviours a real origin has:
//   …/__stream/{id}   sends one chunk, then holds the response open until POST /__release/{id}
//   …/__upload/{id}   counts request body chunks as they arrive (GET /__uploads/{id} reads them)
//   …/__slow          never answers
//   …/__status/{code} answers with that status, a Location, Set-Cookies and hop-by-hop headers

export interface OriginServer {
  readonly origin: string;
  /** An origin on a port nothing listens on: connections are refused. */
  readonly closedOrigin: string;
  close(): Promise<void>;
}

export async function startOriginServer(): Promise<OriginServer> {
  const releases = new Map<string, () => void>();
  const released = new Set<string>();
  const uploads = new Map<string, { chunks: number; bytes: number; done: boolean }>();

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://origin.invalid");
    const path = url.pathname;
    let m: RegExpExecArray | null;

    if ((m = /^\/__release\/([^/]+)$/.exec(path))) {
      released.add(m[1]!);
      releases.get(m[1]!)?.();
      res.end("released");
      return;
    }
    if ((m = /^\/__uploads\/([^/]+)$/.exec(path))) {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(uploads.get(m[1]!) ?? { chunks: 0, bytes: 0, done: false }));
      return;
    }
    if ((m = /\/__stream\/([^/]+)$/.exec(path))) {
      const id = m[1]!;
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("chunk-1\n");
      const finish = () => res.end("chunk-2\n");
      if (released.has(id)) finish();
      else releases.set(id, finish);
      return;
    }
    if ((m = /\/__upload\/([^/]+)$/.exec(path))) {
      const state = { chunks: 0, bytes: 0, done: false };
      uploads.set(m[1]!, state);
      for await (const chunk of req) {
        state.chunks++;
        state.bytes += (chunk as Buffer).byteLength;
      }
      state.done = true;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(state));
      return;
    }
    if (/\/__slow$/.test(path)) return; // never answers; closed at teardown
    if ((m = /\/__status\/(\d{3})$/.exec(path))) {
      res.statusCode = Number(m[1]);
      res.setHeader("location", "https://elsewhere.example/next");
      res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"]);
      res.setHeader("connection", "x-hop-origin");
      res.setHeader("x-hop-origin", "1");
      res.setHeader("keep-alive", "timeout=5");
      res.setHeader("x-kept", "yes");
      res.end(`status ${m[1]}`);
      return;
    }

    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const echo: Echo = {
      method: req.method ?? "",
      path,
      query: url.search,
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
      bodyBase64: Buffer.concat(chunks).toString("base64"),
    };
    res.setHeader("content-type", "application/json");
    res.setHeader("x-origin", "test-origin");
    res.end(JSON.stringify(echo));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const closedOrigin = await unusedOrigin();
  return {
    origin: originOf(server),
    closedOrigin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function originOf(server: Server): string {
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("origin server has no port");
  return `http://127.0.0.1:${address.port}`;
}

/** Binds a port, then frees it: nothing listens there for the rest of the run. */
async function unusedOrigin(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const origin = originOf(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return origin;
}
