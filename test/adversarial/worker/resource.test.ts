import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { captureLog } from "../../worker/support/audit-log.ts";
import {
  DEPLOY,
  DEPLOYER_APP,
  INVENTORY,
  ORDERS_APP,
  scenario,
  compareWithExplain,
} from "../../worker/support/scenario.ts";
import { expectRefused, type Refusal } from "../support/adversary.ts";

// Resource and scope: a valid caller tries to stretch its grant to another origin (a spelling of the
// granted one that a downstream might treat as the same, or a look-alike), to more scopes, or to a
// longer life. Origins are exact canonical strings; nothing is "cleaned up" into a match.

const log = captureLog();
// Every exchange below is also explained, and both decisions must agree.
compareWithExplain();

const NON_CANONICAL: Refusal = {
  status: 400,
  error: "invalid_target",
  reason: "resource_not_canonical",
  description:
    "resource must be a canonical origin: lower-case https://host[:port] with no path, query, fragment, userinfo, default port or trailing dot",
};
const NOT_GRANTED: Refusal = {
  status: 400,
  error: "invalid_target",
  reason: "resource_not_granted",
  description: "the requested resource is not granted to this client",
};

const nonCanonical: Array<[string, string]> = [
  ["an upper-case host", "https://INVENTORY.EXAMPLE.COM"],
  ["a mixed-case scheme", "hTTps://inventory.example.com"],
  ["a zero-padded default port", "https://inventory.example.com:0443"],
  ["the default port and a slash", "https://inventory.example.com:443/"],
  ["an empty port", "https://inventory.example.com:"],
  ["a port out of range", "https://inventory.example.com:65536"],
  ["a trailing dot and the default port", "https://inventory.example.com.:443"],
  ["a trailing dot and a slash", "https://inventory.example.com./"],
  ["empty userinfo", "https://@inventory.example.com"],
  ["empty user and password", "https://:@inventory.example.com"],
  ["the granted origin as userinfo of another host", "https://inventory.example.com@attacker.example"],
  ["the granted origin behind a fragment of another host", "https://attacker.example#@inventory.example.com"],
  ["a backslash before userinfo", "https://inventory.example.com\\@attacker.example"],
  ["a single-slash scheme", "https:/inventory.example.com"],
  ["no slashes after the scheme", "https:inventory.example.com"],
  ["three slashes", "https:///inventory.example.com"],
  ["a Cyrillic і homograph", "https://іnventory.example.com"],
  ["full-width letters that fold to the granted host", "https://ｉｎｖｅｎｔｏｒｙ.example.com"],
  ["a percent-encoded dot in the host", "https://inventory%2Eexample.com"],
  ["a tab inside the host (URL parsers strip it)", "https://invent\tory.example.com"],
  ["a trailing newline", "https://inventory.example.com\n"],
  ["an empty query and fragment", "https://inventory.example.com?#"],
  ["a dot path", "https://inventory.example.com/."],
  ["a query", "https://inventory.example.com?aud=x"],
  ["a fragment", "https://inventory.example.com#inventory"],
  ["a slash and an empty fragment", "https://inventory.example.com/#"],
  ["a decimal IPv4 literal", "http://2130706433"],
  ["an octal IPv4 literal", "https://0177.0.0.1"],
  ["a short IPv4 literal", "http://127.1"],
  ["an IPv4-mapped IPv6 literal", "http://[::ffff:127.0.0.1]"],
  ["an uncompressed IPv6 loopback", "http://[0:0:0:0:0:0:0:1]"],
  ["plain http to a non-loopback host", "http://127.0.0.1.nip.io"],
  ["plain http to a private address", "http://10.0.0.1"],
  ["the wss scheme", "wss://inventory.example.com"],
  ["a blob URL of the granted origin", "blob:https://inventory.example.com"],
  ["a javascript URL", "javascript:alert(1)//inventory.example.com"],
  ["a data URL", "data:text/plain,https://inventory.example.com"],
  ["a file URL", "file://inventory.example.com"],
  ["two origins joined by a comma", `${INVENTORY},${DEPLOY}`],
  ["two origins joined by a space", `${INVENTORY} ${DEPLOY}`],
  ["a wildcard host", "https://*.example.com"],
  ["a wildcard label in the granted host", "https://*.inventory.example.com"],
  ["a host with a semicolon", "https://inventory.example.com;x"],
  ["a host with an underscore", "https://inventory_example.com"],
  ["a host with a quote", "https://inventory.example.com'"],
  [
    "an origin longer than 300 characters",
    `https://${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.com`,
  ],
];

describe("non-canonical and look-alike resources", () => {
  for (const [name, resource] of nonCanonical) {
    it(`refuses ${name} (invalid_target, resource_not_canonical)`, async () => {
      const s = scenario();
      await expectRefused(await s.exchange({ resource }), log, NON_CANONICAL);
      expect(await s.keyFetches()).toBe(0); // refused before the subject token is even looked at
    });
  }
});

describe("canonical origins that the policy does not grant", () => {
  for (const [name, resource] of [
    ["the parent domain", "https://example.com"],
    ["a sibling TLD", "https://inventory.example.co"],
    ["the punycode of a homograph", "https://xn--nventory-w2d.example.com"],
    ["the granted host on another port", "https://inventory.example.com:444"],
    ["an IPv4 literal", "https://127.0.0.1"],
    ["the IPv6 loopback over http", "http://[::1]"],
    ["the deploy origin for a client granted only inventory", DEPLOY],
  ] as const) {
    it(`refuses ${name} (invalid_target, resource_not_granted)`, async () => {
      const s = scenario();
      await expectRefused(await s.exchange({ resource }), log, NOT_GRANTED);
    });
  }

  it("mints aud as exactly the canonical resource string", async () => {
    const s = scenario();
    const { access_token } = (await (await s.exchange()).json()) as { access_token: string };
    expect(decodeJwt(access_token).aud).toBe(INVENTORY);
  });
});

describe("policies that would be wildcard or look-alike grants", () => {
  for (const origin of ["https://*.example.com", "https://INVENTORY.example.com", "https://inventory.example.com/"]) {
    it(`refuses to start with a rule granting ${origin}: no request can be served (500 server_error, config_invalid)`, async () => {
      const s = scenario();
      const policy = {
        rules: [
          {
            name: "r",
            match: { clients: [ORDERS_APP] },
            grant: { origins: [origin], scopes: ["read"], maxTtlSeconds: 60 },
          },
        ],
      };
      const response = await s.exchange({ resource: INVENTORY }, { POLICY: JSON.stringify(policy) });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        error: "server_error",
        error_description: "the broker is misconfigured; its log names the settings to fix",
      });
      expect(log.configProblems().some((p) => p.includes("grant.origins[0]"))).toBe(true);
    });
  }
});

describe("several resources in one request", () => {
  for (const [name, form, want] of [
    [
      "a resource plus an audience",
      { audience: DEPLOY },
      { status: 400, error: "invalid_target", reason: "audience_unsupported" },
    ],
    [
      "an empty second resource",
      { resource: [INVENTORY, ""] },
      { status: 400, error: "invalid_target", reason: "resource_repeated" },
    ],
    [
      "a granted and an ungranted resource",
      { resource: [INVENTORY, "https://payroll.example.com"] },
      { status: 400, error: "invalid_target", reason: "resource_repeated" },
    ],
    [
      "an empty first resource",
      { resource: ["", INVENTORY] },
      { status: 400, error: "invalid_target", reason: "resource_missing" },
    ],
  ] as const) {
    it(`refuses ${name}`, async () => {
      const s = scenario();
      await expectRefused(await s.exchange(form as Record<string, string | string[]>), log, want);
    });
  }

  it("does not read resource (or anything else) from the query string", async () => {
    const s = scenario();
    const body = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: await s.token(),
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    });
    const response = await s.postRaw(
      body,
      "application/x-www-form-urlencoded",
      `?resource=${encodeURIComponent(INVENTORY)}`,
    );
    await expectRefused(response, log, { status: 400, error: "invalid_target", reason: "resource_missing" });
  });
});

describe("scope escalation", () => {
  const notGranted = (scopes: string): Refusal => ({
    status: 400,
    error: "invalid_scope",
    reason: "scope_not_granted",
    description: `scope not granted for this resource: ${scopes}`,
  });
  const malformed: Refusal = { status: 400, error: "invalid_scope", reason: "scope_malformed" };
  for (const [scope, want] of [
    ["inventory.read deploy", notGranted("deploy")],
    ["inventory.*", notGranted("inventory.*")],
    ["*", notGranted("*")],
    ["inventory.read.all", notGranted("inventory.read.all")],
    ["Inventory.Read", notGranted("Inventory.Read")],
    ["openid offline_access", notGranted("openid offline_access")],
    ["inventory.read ", malformed],
    ["inventory.read\tinventory.list", malformed],
    ["inventory.read\ninventory.list", malformed],
    ["inventory.read+inventory.list", notGranted("inventory.read+inventory.list")],
    [Array.from({ length: 65 }, (_, i) => `s${i}`).join(" "), malformed],
    ["x".repeat(129), malformed],
  ] as const) {
    it(`refuses scope ${JSON.stringify(scope).slice(0, 40)} (${want.error}, ${want.reason})`, async () => {
      const s = scenario();
      await expectRefused(await s.exchange({ scope }), log, want);
    });
  }

  it("does not let a role-only rule for one origin lend its scope to another", async () => {
    const s = scenario();
    const token = await s.token({ claims: { azp: DEPLOYER_APP, roles: ["Deploy.Write", "Inventory.Read"] } });
    await expectRefused(
      await s.exchange({ subject_token: token, resource: INVENTORY, scope: "deploy" }),
      log,
      NOT_GRANTED,
    );
  });
});

describe("lifetime escalation", () => {
  for (const param of ["expires_in", "requested_lifetime", "exp", "ttl", "max_age"]) {
    it(`ignores ${param}=31536000: the lifetime is the rule's (300 s)`, async () => {
      const s = scenario();
      const body = (await (await s.exchange({ [param]: "31536000" })).json()) as {
        expires_in: number;
        access_token: string;
      };
      expect(body.expires_in).toBe(300);
      const claims = decodeJwt(body.access_token);
      expect(claims.exp! - claims.iat!).toBe(300);
    });
  }

  for (const type of ["urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token"]) {
    it(`refuses requested_token_type ${type.split(":").at(-1)}: no long-lived or identity tokens`, async () => {
      const s = scenario();
      await expectRefused(await s.exchange({ requested_token_type: type }), log, {
        status: 400,
        error: "invalid_request",
        reason: "requested_token_type_unsupported",
      });
    });
  }

  it("takes the smallest of rule, global cap and subject life: a 28 h subject token still gets 120 s for deploy", async () => {
    const s = scenario();
    const now = Math.floor(Date.now() / 1000);
    const token = await s.token({
      claims: { azp: DEPLOYER_APP, roles: ["Deploy.Write"], iat: now - 60, nbf: undefined, exp: now - 60 + 28 * 3600 },
    });
    const body = (await (await s.exchange({ subject_token: token, resource: DEPLOY })).json()) as {
      expires_in: number;
    };
    expect(body.expires_in).toBe(120);
  });
});

describe("form parameters", () => {
  it("ignores a repeated unrecognised parameter (RFC 6749 §3.2) instead of echoing its name back", async () => {
    const s = scenario();
    const name = "<script>alert(document.domain)</script>";
    const response = await s.exchange({ [name]: ["1", "2"] });
    expect(response.status).toBe(200);
    expect(await response.text()).not.toContain("script");
  });

  it("still refuses a repeated subject_token, naming only the parameter", async () => {
    const s = scenario();
    const token = await s.token();
    await expectRefused(
      await s.exchange({ subject_token: [token, token] }),
      log,
      {
        status: 400,
        error: "invalid_request",
        reason: "parameter_repeated",
        description: "parameter subject_token is repeated",
      },
      [token],
    );
  });
});
