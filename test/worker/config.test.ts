import { describe, expect, it } from "vitest";
import { scenario } from "./support/scenario.ts";
import { captureLog } from "./support/audit-log.ts";

// Bad configuration never shows a stack trace: the client gets a generic server_error, and the
// operator's log names each setting that is wrong and how to fix it.

const log = captureLog();

async function expectMisconfigured(env: Record<string, unknown>, ...expected: RegExp[]) {
  const s = scenario();
  const response = await s.exchange({}, env);
  expect(response.status).toBe(500);
  const body = (await response.json()) as Record<string, string>;
  expect(body.error).toBe("server_error");
  expect(body.error_description).not.toMatch(/at \w+ \(|\.ts:/); // no stack trace
  const problems = log.configProblems();
  for (const pattern of expected)
    expect(
      problems.some((p) => pattern.test(p)),
      `${pattern} in ${JSON.stringify(problems)}`,
    ).toBe(true);
}

const rule = (overrides: Record<string, unknown> = {}) => ({
  name: "r",
  match: { clients: ["33333333-3333-4333-8333-333333333333"] },
  grant: { origins: ["https://inventory.example.com"], scopes: ["read"], maxTtlSeconds: 60 },
  ...overrides,
});

describe("configuration", () => {
  it("names a missing tenant allow-list", () =>
    expectMisconfigured({ ENTRA_TENANT_IDS: "" }, /^ENTRA_TENANT_IDS is not set/));
  it("refuses tenant names instead of GUIDs", () =>
    expectMisconfigured(
      { ENTRA_TENANT_IDS: "contoso.onmicrosoft.com" },
      /^ENTRA_TENANT_IDS has "contoso.onmicrosoft.com", which is not a lower-case tenant GUID/,
    ));
  it("names a missing audience list", () =>
    expectMisconfigured({ ENTRA_AUDIENCES: undefined }, /^ENTRA_AUDIENCES is not set/));
  it("names a missing issuer", () => expectMisconfigured({ BROKER_ISSUER: undefined }, /^BROKER_ISSUER is not set/));
  it("refuses an issuer with a path", () =>
    expectMisconfigured(
      { BROKER_ISSUER: "https://broker.example.com/v1" },
      /^BROKER_ISSUER is "https:\/\/broker.example.com\/v1": it must be an https origin/,
    ));
  it("refuses a plain-http authority that is not loopback", () =>
    expectMisconfigured(
      { ENTRA_AUTHORITY_HOST: "http://login.example.com" },
      /^ENTRA_AUTHORITY_HOST is "http:\/\/login.example.com"/,
    ));
  it("refuses an out-of-range clock skew", () =>
    expectMisconfigured(
      { CLOCK_SKEW_SECONDS: "3600" },
      /^CLOCK_SKEW_SECONDS is "3600": use a whole number of seconds from 0 to 300/,
    ));
  it("refuses a non-boolean flag", () =>
    expectMisconfigured(
      { REQUIRE_CERTIFICATE_CLIENTS: "yes" },
      /^REQUIRE_CERTIFICATE_CLIENTS is "yes": use "true" or "false"/,
    ));
  it("names missing signing keys and how to set them", () =>
    expectMisconfigured(
      { BROKER_SIGNING_KEYS: undefined },
      /^BROKER_SIGNING_KEYS is not set: .*wrangler secret put BROKER_SIGNING_KEYS/,
    ));
  it("refuses signing keys that are not JSON", () =>
    expectMisconfigured(
      { BROKER_SIGNING_KEYS: "-----BEGIN PRIVATE KEY-----" },
      /^BROKER_SIGNING_KEYS is not valid JSON/,
    ));
  it("refuses an active key without its private part", () =>
    expectMisconfigured(
      {
        BROKER_SIGNING_KEYS: JSON.stringify({
          keys: [
            {
              kty: "EC",
              crv: "P-256",
              kid: "k",
              x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
              y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
          ],
        }),
      },
      /keys\[0\] \("k"\) signs, so it must include its private part "d"/,
    ));
  it("refuses RSA signing keys", () =>
    expectMisconfigured(
      { BROKER_SIGNING_KEYS: JSON.stringify({ keys: [{ kty: "RSA", kid: "r", n: "x", e: "AQAB", d: "y" }] }) },
      /must be an EC P-256 \(ES256\) or OKP Ed25519 \(EdDSA\) key/,
    ));
  it("refuses duplicate kids", async () => {
    const { inject } = await import("vitest");
    const keys = JSON.parse(inject("brokerSigningKeys")) as { keys: Array<Record<string, unknown>> };
    keys.keys[1]!.kid = keys.keys[0]!.kid;
    await expectMisconfigured({ BROKER_SIGNING_KEYS: JSON.stringify(keys) }, /kid "broker-es256-1" is used twice/);
  });
  it("names a policy that is not JSON", () => expectMisconfigured({ POLICY: "{rules:" }, /^POLICY not valid JSON/));
  it("names the rule and field at fault in a policy", () =>
    expectMisconfigured(
      {
        POLICY: JSON.stringify({
          rules: [rule({ grant: { origins: ["https://Inventory.example.com/"], scopes: ["read"], maxTtlSeconds: 0 } })],
        }),
      },
      /^POLICY rule "r": grant.origins\[0\]: "https:\/\/Inventory.example.com\/" is not a canonical origin/,
      /^POLICY rule "r": grant.maxTtlSeconds: must be a whole number of seconds from 1 to 86400/,
    ));
  it("refuses a rule that matches every caller", () =>
    expectMisconfigured(
      { POLICY: JSON.stringify({ rules: [rule({ match: {} })] }) },
      /rule "r": match: needs "clients" and\/or "roles"/,
    ));
  it("refuses duplicate rule names", () =>
    expectMisconfigured(
      { POLICY: JSON.stringify({ rules: [rule(), rule()] }) },
      /rule "r": name: duplicate rule name/,
    ));
  it("refuses unknown fields, which are usually typos", () =>
    expectMisconfigured(
      { POLICY: JSON.stringify({ rules: [rule({ grnat: {} })] }) },
      /rule "r": grnat: unknown field/,
    ));
  it("refuses a client id that is not a GUID", () =>
    expectMisconfigured(
      { POLICY: JSON.stringify({ rules: [rule({ match: { clients: ["orders"] } })] }) },
      /rule "r": match.clients\[0\]: "orders" is not a lower-case GUID client app id/,
    ));
  it("reports every problem at once", () =>
    expectMisconfigured(
      { ENTRA_TENANT_IDS: "", BROKER_SIGNING_KEYS: undefined, POLICY: "[]" },
      /^ENTRA_TENANT_IDS/,
      /^BROKER_SIGNING_KEYS/,
      /^POLICY/,
    ));
});
