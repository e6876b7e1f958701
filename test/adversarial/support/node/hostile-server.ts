import { createServer, type Server, type ServerResponse } from "node:http";
import type { Script } from "../hostile-script.ts";

// A scriptable, hostile HTTP endpoint for the adversarial suite. Tests script the exact answer for a
// path (status, headers, body, delays, streams that never end, redirects, dropped connections) and read
// back how often each path was requested. Every request is counted, scripted or not, so a test can
// prove that a URL planted in a token (jku, x5u) was never fetched.

export interface HostileServer {
  readonly origin: string;
  close(): Promise<void>;
}

export async function startHostileServer(): Promise<HostileServer> {
  const scripts = new Map<string, Script>();
  const hits = new Map<string, number>();
  const stalled = new Set<ServerResponse>();

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/__script" && req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      const { path, ...script } = JSON.parse(body) as Script & { path: string };
      scripts.set(path, script);
      res.end("{}");
      return;
    }
    if (url.pathname === "/__hits") {
      const prefix = url.searchParams.get("prefix") ?? "/";
      let total = 0;
      for (const [path, n] of hits) if (path.startsWith(prefix)) total += n;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ total }));
      return;
    }
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const script = scripts.get(url.pathname);
    if (!script) {
      res.statusCode = 404;
      res.end();
      return;
    }
    if (script.delayMs) await new Promise((resolve) => setTimeout(resolve, script.delayMs).unref());
    if (script.destroy) {
      req.socket.destroy();
      return;
    }
    res.statusCode = script.status ?? 200;
    for (const [name, value] of Object.entries(script.headers ?? {})) res.setHeader(name, value);
    if (script.stallBody) {
      res.setHeader("content-type", "application/json");
      res.write('{"keys":[');
      stalled.add(res);
      res.on("close", () => stalled.delete(res));
      return;
    }
    if (script.streamBytes !== undefined) {
      const chunk = Buffer.alloc(16 * 1024, "[");
      let left = script.streamBytes;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("error", () => {});
      pump();
      return;
    }
    if (script.chunked) {
      const body = script.body ?? "";
      for (let i = 0; i < body.length; i += 4096) res.write(body.slice(i, i + 4096));
      res.end();
      return;
    }
    res.end(script.bodyBase64 !== undefined ? Buffer.from(script.bodyBase64, "base64") : (script.body ?? ""));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("hostile server has no port");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
