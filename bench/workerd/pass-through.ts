// Bench-only Worker: forward mode's floor. It forwards a request to the origin and streams the
// answer back, and does nothing else: no token, no policy, no header filtering. What forward mode
// costs beyond this is the broker's own work.

interface PassThroughEnv {
  readonly ORIGIN: string;
  readonly PREFIX: string;
}

export default {
  async fetch(request: Request, env: PassThroughEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const path = url.pathname.startsWith(env.PREFIX) ? url.pathname.slice(env.PREFIX.length) || "/" : url.pathname;
    return fetch(`${env.ORIGIN}${path}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
