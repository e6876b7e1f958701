import {
  type OriginKitBench,
  type OriginKitCase,
  ORIGIN_KIT_CASES,
  prepareOriginKitBench,
  type OriginKitSetup,
} from "../origin-kit-cases.ts";

// Bench-only Worker for section 6: the origin kit's verification inside workerd. Its clock does
// not resolve single operations, so the harness measures workerd's CPU time per batch (/run) and,
// for per-request latency, one verification per HTTP request (/one) against a no-op request (/noop).

let bench: OriginKitBench | undefined;

function caseOf(url: URL): OriginKitCase | undefined {
  const name = url.searchParams.get("case") as OriginKitCase;
  return ORIGIN_KIT_CASES.includes(name) ? name : undefined;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/ready" || url.pathname === "/noop") return new Response("ok");
    if (url.pathname === "/setup" && request.method === "POST") {
      bench = await prepareOriginKitBench((await request.json()) as OriginKitSetup);
      return new Response("ok");
    }
    if (!bench) return new Response("POST /setup first", { status: 409 });
    const name = caseOf(url);
    if (!name) return new Response("unknown case", { status: 404 });
    const offset = Number(url.searchParams.get("offset"));
    if (url.pathname === "/run") await bench.run(name, Number(url.searchParams.get("n")), offset, false);
    else if (url.pathname === "/one") await bench.run(name, 1, offset, false);
    else return new Response("not found", { status: 404 });
    return new Response("ok");
  },
};
