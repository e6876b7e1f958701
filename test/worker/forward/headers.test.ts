import { describe, expect, it } from "vitest";
import { toOriginHeaders } from "../../../worker/forward/headers.ts";

// worker/forward/headers.ts: what crosses the gateway (each stripped family also has its own case in
// test/adversarial/worker/forward.test.ts).

describe("headers to the origin", () => {
  it("drops headers named by Connection and replaces Authorization with the minted token", () => {
    const headers = toOriginHeaders(
      new Headers({
        connection: "keep-alive, x-secret",
        "x-secret": "1",
        "x-fine": "2",
        authorization: "Bearer caller",
      }),
      "minted",
    );
    expect([...headers]).toEqual([
      ["authorization", "Bearer minted"],
      ["x-fine", "2"],
    ]);
  });
});
