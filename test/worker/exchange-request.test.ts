import { describe, expect, it } from "vitest";
import { parseExchangeForm } from "../../worker/exchange-request.ts";
import { DEPLOY, INVENTORY, oauthError, scenario } from "./support/scenario.ts";
import { captureLog } from "./support/audit-log.ts";

// The RFC 8693 / RFC 8707 request itself: each malformed request gets the OAuth error the
// wire contract fixes, a description that tells the client what to fix, and no token.

const log = captureLog();

type Case = {
  name: string;
  form: Record<string, string | string[] | undefined>;
  error: string;
  reason: string;
  description?: RegExp;
};

const cases: Case[] = [
  {
    name: "a missing grant_type",
    form: { grant_type: undefined },
    error: "invalid_request",
    reason: "grant_type_missing",
    description: /grant_type is required/,
  },
  {
    name: "the client_credentials grant",
    form: { grant_type: "client_credentials" },
    error: "unsupported_grant_type",
    reason: "grant_type_unsupported",
  },
  {
    name: "a missing subject_token",
    form: { subject_token: undefined },
    error: "invalid_request",
    reason: "subject_token_missing",
  },
  {
    name: "an empty subject_token",
    form: { subject_token: "" },
    error: "invalid_request",
    reason: "subject_token_missing",
  },
  {
    name: "a missing subject_token_type",
    form: { subject_token_type: undefined },
    error: "invalid_request",
    reason: "subject_token_type_unsupported",
  },
  {
    name: "an id_token subject_token_type",
    form: { subject_token_type: "urn:ietf:params:oauth:token-type:id_token" },
    error: "invalid_request",
    reason: "subject_token_type_unsupported",
  },
  {
    name: "a SAML requested_token_type",
    form: { requested_token_type: "urn:ietf:params:oauth:token-type:saml2" },
    error: "invalid_request",
    reason: "requested_token_type_unsupported",
  },
  {
    name: "an actor_token (delegation)",
    form: { actor_token: "x", actor_token_type: "urn:ietf:params:oauth:token-type:jwt" },
    error: "invalid_request",
    reason: "actor_token_unsupported",
  },
  {
    name: "a repeated grant_type",
    form: {
      grant_type: [
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:token-exchange",
      ],
    },
    error: "invalid_request",
    reason: "parameter_repeated",
    description: /grant_type is repeated/,
  },
  {
    name: "a repeated scope",
    form: { scope: ["inventory.read", "inventory.list"] },
    error: "invalid_request",
    reason: "parameter_repeated",
  },
  { name: "a missing resource", form: { resource: undefined }, error: "invalid_target", reason: "resource_missing" },
  {
    name: "two resources",
    form: { resource: [INVENTORY, DEPLOY] },
    error: "invalid_target",
    reason: "resource_repeated",
    description: /exactly one resource/,
  },
  {
    name: "the same resource twice",
    form: { resource: [INVENTORY, INVENTORY] },
    error: "invalid_target",
    reason: "resource_repeated",
  },
  {
    name: "an audience instead of a resource",
    form: { audience: "inventory" },
    error: "invalid_target",
    reason: "audience_unsupported",
  },
  { name: "an empty scope", form: { scope: "" }, error: "invalid_scope", reason: "scope_malformed" },
  {
    name: "a scope with a double space",
    form: { scope: "inventory.read  inventory.list" },
    error: "invalid_scope",
    reason: "scope_malformed",
  },
  {
    name: "a scope with a quote",
    form: { scope: 'inventory."read' },
    error: "invalid_scope",
    reason: "scope_malformed",
  },
];

const nonCanonical = [
  "https://Inventory.example.com",
  "HTTPS://inventory.example.com",
  "https://inventory.example.com/",
  "https://inventory.example.com:443",
  "https://inventory.example.com.",
  "https://user@inventory.example.com",
  "https://inventory.example.com/path",
  "https://inventory.example.com?",
  "https://inventory.example.com#",
  "https:\\\\inventory.example.com",
  "https://inventory.example.com%2f",
  " https://inventory.example.com",
  "inventory.example.com",
  "http://inventory.example.com",
  "ftp://inventory.example.com",
  "https://invéntory.example.com",
  "https://0x7f.0.0.1",
];

describe("POST /token request validation", () => {
  for (const c of cases) {
    it(`answers ${c.error} to ${c.name}`, async () => {
      const s = scenario();
      const body = await oauthError(await s.exchange(c.form));
      expect(body.status).toBe(400);
      expect(body.error).toBe(c.error);
      expect(body.cacheControl).toBe("no-store");
      if (c.description) expect(body.error_description).toMatch(c.description);
      expect(log.lastReason()).toBe(c.reason);
    });
  }

  for (const resource of nonCanonical) {
    it(`rejects the non-canonical resource ${JSON.stringify(resource)} with invalid_target`, async () => {
      const s = scenario();
      const body = await oauthError(await s.exchange({ resource }));
      expect(body).toMatchObject({ status: 400, error: "invalid_target" });
      expect(log.lastReason()).toBe("resource_not_canonical");
    });
  }

  it("refuses a JSON body with invalid_request", async () => {
    const s = scenario();
    const response = await s.fetch(
      new Request("https://broker.test/token", {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      }),
    );
    expect(await oauthError(response)).toMatchObject({
      status: 400,
      error: "invalid_request",
      error_description: expect.stringMatching(/x-www-form-urlencoded/),
    });
  });

  it("accepts a charset parameter on the content type", async () => {
    const s = scenario();
    const body = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: await s.token(),
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      resource: INVENTORY,
    });
    const response = await s.fetch(
      new Request("https://broker.test/token", {
        method: "POST",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8" },
      }),
    );
    expect(response.status).toBe(200);
  });

  it("refuses a body over 32 KiB with 413, even without a Content-Length", async () => {
    const s = scenario();
    const big = "a".repeat(40 * 1024);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(`grant_type=x&pad=${big}`));
        c.close();
      },
    });
    const response = await s.fetch(
      new Request("https://broker.test/token", {
        method: "POST",
        body: stream,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    expect(await oauthError(response)).toMatchObject({ status: 413, error: "invalid_request" });
  });

  it("refuses GET /token with 405 and Allow: POST", async () => {
    const s = scenario();
    const response = await s.fetch(new Request("https://broker.test/token"));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  it("echoes the jwt token type when the client asks for it", async () => {
    const s = scenario();
    const response = await s.exchange({ requested_token_type: "urn:ietf:params:oauth:token-type:jwt" });
    expect(((await response.json()) as { issued_token_type: string }).issued_token_type).toBe(
      "urn:ietf:params:oauth:token-type:jwt",
    );
  });

  it("ignores unknown parameters (RFC 6749 §3.2)", async () => {
    const s = scenario();
    expect((await s.exchange({ client_id: "whatever", foo: "bar" })).status).toBe(200);
  });
});

describe("parseExchangeForm (the form alone, as a table)", () => {
  const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
  const AT = "urn:ietf:params:oauth:token-type:access_token";
  const JWT = "urn:ietf:params:oauth:token-type:jwt";
  const base = `grant_type=${encodeURIComponent(GRANT)}&subject_token=t.t.t&subject_token_type=${encodeURIComponent(AT)}`;
  const table: Array<[string, string, Record<string, unknown> | string]> = [
    [
      "the minimal request",
      `${base}&resource=https%3A%2F%2Fa.example`,
      { resource: "https://a.example", scopes: undefined, requestedTokenType: AT },
    ],
    [
      "a jwt subject and requested token type",
      `${base.replace(encodeURIComponent(AT), encodeURIComponent(JWT))}&requested_token_type=${encodeURIComponent(JWT)}&resource=https%3A%2F%2Fa.example`,
      { requestedTokenType: JWT },
    ],
    ["scopes, de-duplicated in order", `${base}&resource=https%3A%2F%2Fa.example&scope=b+a+b`, { scopes: ["b", "a"] }],
    [
      "an unknown parameter, even repeated",
      `${base}&resource=https%3A%2F%2Fa.example&x=1&x=2`,
      { resource: "https://a.example" },
    ],
    [
      "a repeated grant_type",
      `${base}&grant_type=${encodeURIComponent(GRANT)}&resource=https%3A%2F%2Fa.example`,
      "parameter_repeated",
    ],
    ["two resources", `${base}&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example`, "resource_repeated"],
    ["an empty resource", `${base}&resource=`, "resource_missing"],
    ["a resource with a path", `${base}&resource=https%3A%2F%2Fa.example%2Fx`, "resource_not_canonical"],
    ["an audience", `${base}&resource=https%3A%2F%2Fa.example&audience=x`, "audience_unsupported"],
    ["an actor_token", `${base}&resource=https%3A%2F%2Fa.example&actor_token=a`, "actor_token_unsupported"],
    ["a double space in scope", `${base}&resource=https%3A%2F%2Fa.example&scope=a++b`, "scope_malformed"],
    ["a quote in a scope", `${base}&resource=https%3A%2F%2Fa.example&scope=a%22`, "scope_malformed"],
    [
      "65 scopes",
      `${base}&resource=https%3A%2F%2Fa.example&scope=${Array.from({ length: 65 }, (_, i) => `s${i}`).join("+")}`,
      "scope_malformed",
    ],
  ];
  for (const [name, body, want] of table) {
    it(name, () => {
      const result = parseExchangeForm(body);
      if (typeof want === "string") expect(result).toMatchObject({ ok: false, error: { reason: want } });
      else expect(result).toMatchObject({ ok: true, value: want });
    });
  }
});
