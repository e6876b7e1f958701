import { describe, expect, it } from "vitest";
import { parseDuration, revocationBody } from "../../signer/admin.ts";
import { SignerError } from "../../signer/errors.ts";

// `broker-signer admin revoke`: what it sends, and the usage errors it stops before any network.

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SignerError);
    expect((e as SignerError).code).toBe("ERR_USAGE");
    return (e as Error).message;
  }
  throw new Error("no usage error");
}

describe("admin revoke arguments", () => {
  it("sends kind, value, reason and --for as expiresIn seconds", () => {
    expect(revocationBody({ client: "0a1b", reason: "cert leaked", for: "1h" })).toEqual({
      kind: "client",
      value: "0a1b",
      reason: "cert leaked",
      expiresIn: 3600,
    });
    expect(revocationBody({ token: "jti-1", reason: "r" })).toEqual({ kind: "token", value: "jti-1", reason: "r" });
  });

  it("needs exactly one kind flag and a reason", () => {
    expect(usage(() => revocationBody({ reason: "r" }))).toContain("exactly one of --client");
    expect(usage(() => revocationBody({ client: "a", tenant: "b", reason: "r" }))).toContain("exactly one");
    expect(usage(() => revocationBody({ client: "a" }))).toContain("--reason");
    expect(usage(() => revocationBody({ client: "a", reason: "  " }))).toContain("--reason");
  });

  it("reads durations of 60 s to 90 days", () => {
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("15m")).toBe(900);
    expect(parseDuration("7d")).toBe(604_800);
    for (const bad of ["59s", "1w", "1.5h", "91d", "h", ""]) expect(usage(() => parseDuration(bad))).toContain("--for");
  });
});
