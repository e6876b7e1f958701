import { describe, expect, it } from "vitest";
import type { Caller } from "../../worker/entra-token.ts";
import { issuedLifetime, MIN_ISSUED_TTL_SECONDS } from "../../worker/lifetime.ts";
import type { Grant } from "../../worker/policy.ts";

// worker/lifetime.ts: a minted token lives min(rule cap, global cap, subject token's remaining life).

const NOW = 1_800_000_000;
const grant = (maxTtlSeconds: number): Grant => ({
  rule: "r",
  resource: "https://a.example",
  scopes: [],
  roles: [],
  maxTtlSeconds,
});
const caller = (remaining: number): Caller => ({
  tenantId: "t",
  appId: "a",
  objectId: "o",
  roles: [],
  tokenVersion: "2.0",
  clientAuth: "certificate",
  issuedAt: NOW - 60,
  expiresAt: NOW + remaining,
});

const table: Array<[string, number, number, number, number | "subject_token_expiring"]> = [
  ["the rule's cap is the smallest", 120, 900, 3600, 120],
  ["the global cap is the smallest", 3600, 900, 7200, 900],
  ["the subject token's remaining life is the smallest", 3600, 900, 200, 200],
  ["a fractional remaining life is floored", 3600, 900, 200.9, 200],
  ["exactly the minimum", 3600, 900, MIN_ISSUED_TTL_SECONDS, MIN_ISSUED_TTL_SECONDS],
  ["just below the minimum", 3600, 900, MIN_ISSUED_TTL_SECONDS - 1, "subject_token_expiring"],
  ["an already expired subject token", 3600, 900, -5, "subject_token_expiring"],
];

describe("issuedLifetime", () => {
  for (const [name, rule, global, remaining, want] of table) {
    it(name, () => {
      const result = issuedLifetime(grant(rule), global, caller(remaining), NOW);
      expect(result).toEqual(
        typeof want === "number" ? { ok: true, value: want } : { ok: false, error: { reason: want } },
      );
    });
  }
});
