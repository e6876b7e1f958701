import {
  type OriginKitBench,
  type OriginKitCase,
  ORIGIN_KIT_CASES,
  prepareOriginKitBench,
  type OriginKitSetup,
} from "../origin-kit-cases.ts";

// Bench-only Worker for section 6: the origin kit's verification per request inside workerd.
// Local workerd lets performance.now() advance (deployed Workers freeze it between I/O), so each
// operation is timed inside the isolate.

let bench: OriginKitBench | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/ready") return new Response("ok");
    if (url.pathname === "/setup" && request.method === "POST") {
      bench = await prepareOriginKitBench((await request.json()) as OriginKitSetup);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/run") {
      if (!bench) return new Response("POST /setup first", { status: 409 });
      const name = url.searchParams.get("case") as OriginKitCase;
      if (!ORIGIN_KIT_CASES.includes(name)) return new Response(`unknown case ${name}`, { status: 404 });
      const samples = await bench.run(name, Number(url.searchParams.get("n")), Number(url.searchParams.get("offset")));
      return Response.json({ samples });
    }
    return new Response("not found", { status: 404 });
  },
};
