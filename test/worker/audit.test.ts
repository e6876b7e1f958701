import { describe, expect, it } from "vitest";
import { auditLine, MAX_AUDIT_LINE_BYTES } from "../../worker/audit.ts";

// The audit line's envelope and its size bound, on the pure function (the routes' events are
// asserted where they are written: token-exchange, forward, explain, admin-explain tests).

const context = { issuer: "https://broker.example.com", policySha256: "a".repeat(64) };
const bytes = (line: string) => new TextEncoder().encode(line).byteLength;

describe("audit lines", () => {
  it("is a CloudEvents 1.0 event with the decision under data", () => {
    const line = JSON.parse(
      auditLine({ event: "forward", outcome: "denied", reason: "no_roles" }, 1_800_000_000, context),
    );
    expect(line).toEqual({
      specversion: "1.0",
      type: "dev.identity-broker.forward",
      source: "https://broker.example.com",
      id: expect.any(String),
      time: "2027-01-15T08:00:00Z",
      data: { outcome: "denied", reason: "no_roles", policy_sha256: "a".repeat(64) },
    });
  });

  it("names the source before any configuration is loaded, without a policy hash", () => {
    const line = JSON.parse(
      auditLine({ event: "config_invalid", outcome: "error", reason: "config_invalid" }, 1, undefined),
    );
    expect(line).toMatchObject({ type: "dev.identity-broker.config", source: "/identity-broker" });
    expect(line.data).not.toHaveProperty("policy_sha256");
  });

  it("never passes the byte limit, counting multi-byte characters, and keeps the decision", () => {
    const huge = {
      event: "forward" as const,
      outcome: "granted" as const,
      reason: "granted",
      tenant: crypto.randomUUID(),
      client_id: crypto.randomUUID(),
      rule: `r${"é".repeat(127)}`,
      route: `q${"€".repeat(127)}`,
      resource: `https://${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.example.com`,
      roles: Array.from({ length: 50 }, (_, i) => `Role.${i}`),
      scope: "s".repeat(2000),
      detail: "😀".repeat(500),
      jti: crypto.randomUUID(),
    };
    const line = auditLine(huge, 1, { ...context, issuer: `https://${"i".repeat(250)}.example.com` });
    expect(bytes(line)).toBeLessThanOrEqual(MAX_AUDIT_LINE_BYTES);
    expect(JSON.parse(line).data).toMatchObject({
      outcome: "granted",
      reason: "granted",
      client_id: huge.client_id,
      jti: huge.jti,
      truncated: true,
    });
  });

  it("leaves an ordinary line whole", () => {
    const line = auditLine(
      { event: "explain", outcome: "denied", reason: "scope_not_granted", scope: "a b" },
      1,
      context,
    );
    expect(JSON.parse(line).data).not.toHaveProperty("truncated");
  });
});
