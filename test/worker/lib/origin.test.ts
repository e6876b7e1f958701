import { describe, expect, it } from "vitest";
import { canonicalOrigin } from "../../../worker/lib/origin.ts";

// worker/lib/origin.ts: an origin is accepted only in its one canonical spelling, never "cleaned up".

const table: Array<[string, string]> = [
  ["https://api.example.com", "ok"],
  ["https://api.example.com:8443", "ok"],
  ["http://127.0.0.1:8787", "ok"],
  ["http://localhost:8080", "ok"],
  ["http://[::1]:8080", "ok"],
  ["https://10.0.0.1", "ok"],
  ["https://[2001:db8::1]", "ok"],
  ["https://xn--bcher-kva.example", "ok"],
  ["", "not_a_url"],
  ["api.example.com", "not_a_url"],
  [`https://${"a".repeat(300)}.example`, "not_a_url"],
  ["ftp://api.example.com", "scheme_not_allowed"],
  ["https://API.example.com", "not_canonical"],
  ["https://api.example.com/", "not_canonical"],
  ["https://api.example.com/path", "not_canonical"],
  ["https://api.example.com:443", "not_canonical"],
  ["https://user@api.example.com", "not_canonical"],
  ["https://api.example.com?x", "not_canonical"],
  ["https://api.example.com#f", "not_canonical"],
  ["https://bücher.example", "not_canonical"],
  ["https://api.example.com.", "trailing_dot"],
  ["https://*.example.com", "host_not_ldh"],
  ["https://a_b.example.com", "host_not_ldh"],
  ["http://api.example.com", "http_not_loopback"],
  ["http://10.0.0.1", "http_not_loopback"],
];

describe("canonicalOrigin", () => {
  for (const [input, want] of table) {
    it(`${JSON.stringify(input).slice(0, 60)} → ${want}`, () => {
      const result = canonicalOrigin(input);
      if (want === "ok") expect(result).toEqual({ ok: true, value: input });
      else expect(result).toEqual({ ok: false, error: { reason: want } });
    });
  }
});
