import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { addKey, promoteKey } from "../../tools/key-rotation.ts";
import { JWKS_MAX_AGE_SECONDS } from "../../worker/jwks-max-age.ts";
import { scenario } from "./support/scenario.ts";

// What `npm run keys` writes is what the Worker loads, and the JWKS says how long it may be cached
// in exactly the terms the tool assumes when it allows a promotion.

async function jwks(keys: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request("https://broker.test/.well-known/jwks.json"),
    scenario().env({ BROKER_SIGNING_KEYS: keys }),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("GET /.well-known/jwks.json and the key tool", () => {
  it("sends Cache-Control max-age equal to the JWKS cache lifetime the tool assumes", async () => {
    const one = await addKey({ keys: [] }, "ES256", 1_000);
    const response = await jwks(JSON.stringify(one.set));
    expect(response.headers.get("cache-control")).toBe(`public, max-age=${JWKS_MAX_AGE_SECONDS}`);
  });

  it("serves a rotated set: the promoted key first, the previous one still published, no bookkeeping or private members", async () => {
    const one = await addKey({ keys: [] }, "ES256", 1_000);
    const two = await addKey(one.set, "EdDSA", 2_000);
    const rotated = promoteKey(two.set, two.kid, 2_000 + 10_000, { maxTokenTtlSeconds: 900, jwksMaxAgeSeconds: 300 });
    const response = await jwks(JSON.stringify(rotated));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.map((k) => k.kid)).toEqual([two.kid, one.kid]);
    for (const key of body.keys) {
      expect(Object.keys(key)).not.toContain("d");
      expect(Object.keys(key)).not.toContain("published_at");
      expect(Object.keys(key)).not.toContain("signed_until");
    }
  });
});
