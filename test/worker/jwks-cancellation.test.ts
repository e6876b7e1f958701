import { env, exports } from "cloudflare:workers";
import { expect, it, vi } from "vitest";
import { hits, hostileOrigin, publicJwk, script } from "../adversarial/support/adversary.ts";
import { scenario } from "./support/scenario.ts";

// worker/jwks.ts under a real client disconnect, in workerd: each POST /token here is its own
// request through the Worker's entry point (exports.default.fetch), so aborting one cancels that
// request as a disconnecting client would. The first request starts the key fetch and is aborted
// while the key endpoint is still answering; the requests that came meanwhile must neither fail,
// hang nor start a backoff. (With a key fetch shared as one promise across requests, they hang.)
//
// Its own file: the entry point reads the isolate's env, which this test points at its scenario.

const KEY_ENDPOINT_DELAY_MS = 1_500;

it("a request whose client disconnects while the key fetch is pending does not fail, stall or back off the others", async () => {
  const s = scenario();
  const keysPath = `/${s.tid}/discovery/v2.0/keys`;
  await script(keysPath, { body: JSON.stringify({ keys: [publicJwk()] }), delayMs: KEY_ENDPOINT_DELAY_MS });
  Object.assign(env as object, s.env({ ENTRA_JWKS_ORIGIN: hostileOrigin }));
  const logs: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));

  const token = await s.token();
  const exchange = (signal?: AbortSignal): Promise<Response> =>
    (exports as unknown as { default: Fetcher }).default.fetch("https://broker.test/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: "https://inventory.example.com",
        subject_token: token,
      }),
      signal,
    });

  const client = new AbortController();
  const first = exchange(client.signal).then(
    () => "answered",
    (error: unknown) => (error as Error).name,
  );
  await new Promise((resolve) => setTimeout(resolve, 300)); // its key fetch is under way
  const started = Date.now();
  const others = Promise.all([exchange(), exchange()]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  client.abort(); // the first client goes away while the key endpoint has not answered yet

  expect(await first).toBe("AbortError");
  const answers = await others;
  expect(answers.map((r) => r.status)).toEqual([200, 200]);
  expect(Date.now() - started).toBeLessThan(KEY_ENDPOINT_DELAY_MS + 1_000); // no stall beyond the endpoint's own delay
  expect(await hits(keysPath)).toBe(1);
  expect((await exchange()).status).toBe(200); // no backoff, no refetch
  expect(await hits(keysPath)).toBe(1);
  const reasons = logs.map((l) => (JSON.parse(l) as { reason?: string }).reason);
  expect(reasons).not.toContain("jwks_unavailable");
}, 10_000);
