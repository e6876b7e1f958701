import { describe, expect, it } from "vitest";
import {
  BROKER_APP_ID_URI,
  nowSeconds,
  oauthError,
  scenario,
  V1_ISSUER_HOST,
  type Scenario,
} from "./support/scenario.ts";
import { captureLog } from "./support/audit-log.ts";

// worker/entra-token.ts. Every check on the Entra token: what is accepted, and each reason a token is refused. The
// client always sees the same generic invalid_request; the audit log carries the reason code.

const log = captureLog();

async function expectRefused(s: Scenario, subjectToken: string, reason: string, env = {}) {
  const response = await s.exchange({ subject_token: subjectToken }, env);
  const body = await oauthError(response);
  expect(body).toMatchObject({
    status: 400,
    error: "invalid_request",
    error_description: "subject_token is not a valid Entra ID app-only access token for this broker",
    cacheControl: "no-store",
  });
  expect(JSON.stringify(body)).not.toContain(subjectToken.slice(0, 20));
  expect(log.lastReason()).toBe(reason);
}

const now = nowSeconds;

type Case = {
  name: string;
  reason: string;
  version?: "1.0" | "2.0";
  claims?: (s: Scenario) => Record<string, unknown>;
  header?: Record<string, unknown>;
  env?: Record<string, string>;
};

const cases: Case[] = [
  { name: "an expired token", reason: "token_expired", claims: () => ({ exp: now() - 61, iat: now() - 3600 }) },
  {
    name: "a token not yet valid (nbf beyond skew)",
    reason: "token_not_yet_valid",
    claims: () => ({ nbf: now() + 120 }),
  },
  {
    name: "a token issued in the future",
    reason: "token_issued_in_future",
    claims: () => ({ iat: now() + 120, nbf: undefined }),
  },
  {
    name: "a token older than MAX_SUBJECT_TOKEN_AGE_SECONDS",
    reason: "token_too_old",
    claims: () => ({ iat: now() - 7200 }),
    env: { MAX_SUBJECT_TOKEN_AGE_SECONDS: "3600" },
  },
  {
    name: "a token whose lifetime exceeds Entra's maximum",
    reason: "token_lifetime_too_long",
    claims: () => ({ iat: now() - 60, exp: now() + 30 * 3600 }),
  },
  { name: "a token without exp", reason: "time_claims_invalid", claims: () => ({ exp: undefined }) },
  { name: "a token without iat", reason: "time_claims_invalid", claims: () => ({ iat: undefined }) },
  { name: "a string exp", reason: "time_claims_invalid", claims: () => ({ exp: String(now() + 600) }) },
  { name: "a huge exp", reason: "time_claims_invalid", claims: () => ({ exp: 1e300 }) },
  {
    name: "a v2 token with a v1 issuer",
    reason: "issuer_mismatch",
    claims: (s) => ({ iss: `${V1_ISSUER_HOST}/${s.tid}/` }),
  },
  {
    name: "a v1 token with a v2 issuer",
    reason: "issuer_mismatch",
    version: "1.0",
    claims: (s) => ({ iss: `${s.entraOrigin}/${s.tid}/v2.0` }),
  },
  {
    name: "an issuer with a trailing slash",
    reason: "issuer_mismatch",
    claims: (s) => ({ iss: `${s.entraOrigin}/${s.tid}/v2.0/` }),
  },
  {
    name: "an issuer of another cloud",
    reason: "issuer_mismatch",
    claims: (s) => ({ iss: `https://login.microsoftonline.us/${s.tid}/v2.0` }),
  },
  {
    name: "an issuer naming another tenant than tid",
    reason: "issuer_mismatch",
    claims: (s) => ({ iss: `${s.entraOrigin}/${crypto.randomUUID()}/v2.0` }),
  },
  {
    name: "a tenant that is not allow-listed",
    reason: "tenant_not_allowed",
    claims: () => ({ tid: crypto.randomUUID() }),
  },
  { name: "a token without tid", reason: "tenant_not_allowed", claims: () => ({ tid: undefined }) },
  {
    name: "another API's audience (Microsoft Graph)",
    reason: "audience_mismatch",
    claims: () => ({ aud: "https://graph.microsoft.com" }),
  },
  {
    name: "an audience array that includes ours",
    reason: "audience_mismatch",
    claims: () => ({ aud: [BROKER_APP_ID_URI] }),
  },
  {
    name: "a delegated (user) token with scp",
    reason: "not_app_only",
    claims: () => ({ scp: "user_impersonation", idtyp: "user" }),
  },
  { name: "a token with scp even if idtyp says app", reason: "not_app_only", claims: () => ({ scp: "x" }) },
  // Without the optional idtyp claim, app-only means no scp and oid == sub (Microsoft's guidance).
  {
    name: "a token without idtyp whose oid differs from sub",
    reason: "idtyp_missing",
    claims: () => ({ idtyp: undefined }),
  },
  {
    name: "a token without idtyp and without sub",
    reason: "idtyp_missing",
    claims: () => ({ idtyp: undefined, sub: undefined }),
  },
  {
    name: "a token without idtyp with scp, even if oid == sub",
    reason: "not_app_only",
    claims: () => ({ idtyp: undefined, oid: "o", sub: "o", scp: "user_impersonation" }),
  },
  { name: "a user token (idtyp user)", reason: "not_app_only", claims: () => ({ idtyp: "user" }) },
  { name: "a v2 token without azp", reason: "client_id_missing", claims: () => ({ azp: undefined }) },
  {
    name: "a v1 token without appid",
    reason: "client_id_missing",
    version: "1.0",
    claims: () => ({ appid: undefined }),
  },
  { name: "a v2 token without azpacr", reason: "client_id_missing", claims: () => ({ azpacr: undefined }) },
  {
    name: "a secret-authenticated client (azpacr 1)",
    reason: "client_not_certificate_authenticated",
    claims: () => ({ azpacr: "1" }),
  },
  {
    name: "a public client (appidacr 0)",
    reason: "client_not_certificate_authenticated",
    version: "1.0",
    claims: () => ({ appidacr: "0" }),
  },
  { name: "a token without oid", reason: "object_id_missing", claims: () => ({ oid: undefined }) },
  { name: "roles that are not an array", reason: "roles_malformed", claims: () => ({ roles: "Inventory.Read" }) },
  { name: "an unsupported version", reason: "version_unsupported", claims: () => ({ ver: "3.0" }) },
  { name: "a Graph token (header nonce)", reason: "graph_token", header: { nonce: "abc" } },
  { name: "an unknown kid", reason: "key_not_found", header: { kid: "no-such-key" } },
];

describe("POST /token subject token checks", () => {
  for (const c of cases) {
    it(`refuses ${c.name} (${c.reason})`, async () => {
      const s = scenario();
      const token = await s.token({ version: c.version, claims: c.claims?.(s), header: c.header });
      await expectRefused(s, token, c.reason, c.env);
    });
  }

  it("accepts an app-only token without idtyp when oid == sub and there is no scp", async () => {
    const s = scenario();
    const token = await s.token({ claims: { idtyp: undefined, oid: "sp-object-id", sub: "sp-object-id" } });
    expect((await s.exchange({ subject_token: token })).status).toBe(200);
  });

  it("accepts a secret-authenticated client when REQUIRE_CERTIFICATE_CLIENTS is false", async () => {
    const s = scenario();
    const response = await s.exchange(
      { subject_token: await s.token({ claims: { azpacr: "1" } }) },
      { REQUIRE_CERTIFICATE_CLIENTS: "false" },
    );
    expect(response.status).toBe(200);
  });

  it("accepts exp just inside the clock skew and refuses it exactly at the boundary", async () => {
    const s = scenario();
    s.configure({ CLOCK_SKEW_SECONDS: "60" });
    // Inside the skew the token is valid but has no life left to hand on: refused as expiring, not expired.
    const inside = await s.exchange({ subject_token: await s.token({ claims: { exp: now() - 59 } }) });
    expect((await oauthError(inside)).error_description).toMatch(/expires too soon/);
    expect(log.lastReason()).toBe("subject_token_expiring");
    await expectRefused(s, await s.token({ claims: { exp: now() - 60 } }), "token_expired");
  });

  it("accepts nbf exactly at the skew boundary", async () => {
    const s = scenario();
    s.configure({ CLOCK_SKEW_SECONDS: "60" });
    const response = await s.exchange({ subject_token: await s.token({ claims: { nbf: now() + 60 } }) });
    expect(response.status).toBe(200);
  });

  it("refuses a signature made by a key the tenant did not publish", async () => {
    const s = scenario();
    const token = await s.token({ kid: "key-b" });
    const [h, p] = token.split(".");
    const other = await s.token();
    await expectRefused(s, `${h}.${p}.${other.split(".")[2]}`, "key_not_found");
  });

  it("refuses a token whose payload was altered after signing", async () => {
    const s = scenario();
    const token = await s.token();
    const [h, , sig] = token.split(".");
    const forged = await s.token({ claims: { roles: ["Admin"] } });
    await expectRefused(s, `${h}.${forged.split(".")[1]}.${sig}`, "signature_invalid");
  });

  it("refuses a token signed with a 1024-bit key even if it is published", async () => {
    const s = scenario();
    await s.setKeys({ published: ["key-a", "weak-1024"] });
    await expectRefused(s, await s.token({ kid: "weak-1024" }), "key_not_found");
    // The good key in the same set still works.
    expect((await s.exchange()).status).toBe(200);
  });
});
