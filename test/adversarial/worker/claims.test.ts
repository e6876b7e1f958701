import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLog } from "../../worker/support/audit-log.ts";
import {
  BROKER_APP_ID_URI,
  BROKER_CLIENT_ID,
  DEPLOY,
  nowSeconds,
  ORDERS_APP,
  scenario,
  V1_ISSUER_HOST,
  type Scenario,
  compareWithExplain,
} from "../../worker/support/scenario.ts";
import { expectRefused, invalidSubject, type Refusal } from "../support/adversary.ts";

// Claims of a correctly signed token that must still not buy a broker token: time, audience, issuer,
// tenant, token kind, client authentication, token version, roles. Every token here carries a valid
// signature by the tenant's published key, so only the claim checks stand in the way.

const log = captureLog();
// Every exchange below is also explained, and both decisions must agree.
compareWithExplain();
afterEach(() => vi.useRealTimers());

/** Freezes Date (the Worker and the token builder share it) so that boundaries are exact. */
function frozen(): number {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Math.floor(Date.now() / 1000) * 1000 + 500);
  return nowSeconds();
}

type Claims = (s: Scenario, now: number) => Record<string, unknown>;
interface Case {
  name: string;
  claims: Claims;
  want: Refusal;
  version?: "1.0" | "2.0";
  env?: Record<string, string>;
}

function table(title: string, cases: Case[]) {
  describe(title, () => {
    for (const c of cases) {
      it(`refuses ${c.name} (${c.want.error}, ${c.want.reason})`, async () => {
        const now = frozen();
        const s = scenario();
        const token = await s.token({ version: c.version, claims: c.claims(s, now) });
        await expectRefused(await s.exchange({ subject_token: token }, c.env), log, c.want, [token]);
      });
    }
  });
}

const bad = invalidSubject;
const notGranted: Refusal = {
  status: 400,
  error: "invalid_target",
  reason: "resource_not_granted",
  description: "the requested resource is not granted to this client",
};

table("time claims of odd type or size", [
  { name: "a boolean exp", claims: () => ({ exp: true }), want: bad("time_claims_invalid") },
  { name: "an exp wrapped in an array", claims: (_, n) => ({ exp: [n + 600] }), want: bad("time_claims_invalid") },
  { name: "an exp object", claims: (_, n) => ({ exp: { $date: n + 600 } }), want: bad("time_claims_invalid") },
  { name: "a null exp", claims: () => ({ exp: null }), want: bad("time_claims_invalid") },
  { name: "exp 0", claims: () => ({ exp: 0 }), want: bad("time_claims_invalid") },
  { name: "a negative exp", claims: () => ({ exp: -1 }), want: bad("time_claims_invalid") },
  { name: "exp at 1e11 (year 5138)", claims: () => ({ exp: 1e11 }), want: bad("time_claims_invalid") },
  { name: "exp in milliseconds", claims: (_, n) => ({ exp: (n + 600) * 1000 }), want: bad("time_claims_invalid") },
  { name: "a string iat", claims: (_, n) => ({ iat: String(n - 60) }), want: bad("time_claims_invalid") },
  { name: "a null nbf", claims: () => ({ nbf: null }), want: bad("time_claims_invalid") },
  { name: "a string nbf", claims: (_, n) => ({ nbf: String(n) }), want: bad("time_claims_invalid") },
  {
    name: "exp just under 1e11 (a lifetime of millennia)",
    claims: () => ({ exp: 99_999_999_999 }),
    want: bad("token_lifetime_too_long"),
  },
]);

table("clock skew and lifetime boundaries, exactly", [
  {
    name: "exp exactly now with no skew allowed",
    claims: (_, n) => ({ exp: n }),
    want: bad("token_expired"),
    env: { CLOCK_SKEW_SECONDS: "0" },
  },
  {
    name: "exp exactly 300 s ago at the maximum skew of 300",
    claims: (_, n) => ({ exp: n - 300, iat: n - 3600, nbf: n - 3600 }),
    want: bad("token_expired"),
    env: { CLOCK_SKEW_SECONDS: "300" },
  },
  { name: "nbf one second beyond the skew", claims: (_, n) => ({ nbf: n + 61 }), want: bad("token_not_yet_valid") },
  {
    name: "iat one second beyond the skew",
    claims: (_, n) => ({ iat: n + 61, nbf: undefined }),
    want: bad("token_issued_in_future"),
  },
  {
    name: "iat one second older than MAX_SUBJECT_TOKEN_AGE_SECONDS",
    claims: (_, n) => ({ iat: n - 3601, nbf: undefined }),
    want: bad("token_too_old"),
    env: { MAX_SUBJECT_TOKEN_AGE_SECONDS: "3600" },
  },
  {
    name: "a lifetime one second beyond Entra's 28 h maximum",
    claims: (_, n) => ({ iat: n - 60, nbf: undefined, exp: n - 60 + 28 * 3600 + 1 }),
    want: bad("token_lifetime_too_long"),
  },
  {
    name: "a token with 9 s of life left (no useful broker token can be minted)",
    claims: (_, n) => ({ exp: n + 9 }),
    want: { status: 400, error: "invalid_request", reason: "subject_token_expiring", description: /expires too soon/ },
  },
]);

describe("clock skew and lifetime boundaries, accepted side", () => {
  const accepted: Array<[string, Claims, Record<string, string>?]> = [
    ["iat exactly at the skew", (_, n) => ({ iat: n + 60, nbf: undefined })],
    [
      "iat exactly MAX_SUBJECT_TOKEN_AGE_SECONDS old",
      (_, n) => ({ iat: n - 3600, nbf: undefined }),
      { MAX_SUBJECT_TOKEN_AGE_SECONDS: "3600" },
    ],
    ["a lifetime of exactly 28 h", (_, n) => ({ iat: n - 60, nbf: undefined, exp: n - 60 + 28 * 3600 })],
  ];
  for (const [name, claims, env] of accepted) {
    it(`accepts ${name}`, async () => {
      const now = frozen();
      const s = scenario();
      expect((await s.exchange({ subject_token: await s.token({ claims: claims(s, now) }) }, env)).status).toBe(200);
    });
  }

  it("mints for exactly 10 s when the subject token has exactly 10 s left, never longer", async () => {
    const now = frozen();
    const s = scenario();
    const body = (await (await s.exchange({ subject_token: await s.token({ claims: { exp: now + 10 } }) })).json()) as {
      expires_in: number;
    };
    expect(body.expires_in).toBe(10);
  });

  it("floors a fractional exp: the minted token never outlives the subject token", async () => {
    const now = frozen();
    const s = scenario();
    const body = (await (
      await s.exchange({ subject_token: await s.token({ claims: { exp: now + 30.9 } }) })
    ).json()) as { expires_in: number };
    expect(body.expires_in).toBe(30);
  });
});

const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
table("audiences", [
  {
    name: "Microsoft Graph's app id as audience",
    claims: () => ({ aud: GRAPH_APP_ID }),
    want: bad("audience_mismatch"),
  },
  {
    name: "Azure Resource Manager's audience",
    claims: () => ({ aud: "https://management.azure.com/" }),
    want: bad("audience_mismatch"),
  },
  {
    name: "an audience array of ours and Graph",
    claims: () => ({ aud: [BROKER_CLIENT_ID, "https://graph.microsoft.com"] }),
    want: bad("audience_mismatch"),
  },
  {
    name: "our app id URI with a trailing slash",
    claims: () => ({ aud: `${BROKER_APP_ID_URI}/` }),
    want: bad("audience_mismatch"),
  },
  {
    name: "our app id URI in upper case",
    claims: () => ({ aud: BROKER_APP_ID_URI.toUpperCase() }),
    want: bad("audience_mismatch"),
  },
  { name: "our client id in braces", claims: () => ({ aud: `{${BROKER_CLIENT_ID}}` }), want: bad("audience_mismatch") },
  {
    name: "our audience with a trailing space",
    claims: () => ({ aud: `${BROKER_CLIENT_ID} ` }),
    want: bad("audience_mismatch"),
  },
  {
    name: "our app id URI plus a scope (api://…/.default)",
    claims: () => ({ aud: `${BROKER_APP_ID_URI}/.default` }),
    want: bad("audience_mismatch"),
  },
  { name: "no audience", claims: () => ({ aud: undefined }), want: bad("audience_mismatch") },
]);

table("issuer spelling tricks and other clouds", [
  {
    name: "the {tenantid} template left in the issuer",
    claims: (s) => ({ iss: `${s.entraOrigin}/{tenantid}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "the common endpoint as issuer",
    claims: (s) => ({ iss: `${s.entraOrigin}/common/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "the tenant GUID in upper case in the issuer",
    claims: (s) => ({ iss: `${s.entraOrigin}/${s.tid.toUpperCase()}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "an issuer without /v2.0",
    claims: (s) => ({ iss: `${s.entraOrigin}/${s.tid}` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "an issuer with a double slash",
    claims: (s) => ({ iss: `${s.entraOrigin}//${s.tid}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "an issuer host with an attacker suffix",
    claims: (s) => ({ iss: `${s.entraOrigin}.attacker.example/${s.tid}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "an issuer with a query string",
    claims: (s) => ({ iss: `${s.entraOrigin}/${s.tid}/v2.0?x=1` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "the public cloud's issuer",
    claims: (s) => ({ iss: `https://login.microsoftonline.com/${s.tid}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "the China cloud's issuer",
    claims: (s) => ({ iss: `https://login.partner.microsoftonline.cn/${s.tid}/v2.0` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "the public cloud's v1 issuer when another is configured",
    version: "1.0",
    claims: (s) => ({ iss: `https://sts.windows.net/${s.tid}/` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "a v1 issuer without its trailing slash",
    version: "1.0",
    claims: (s) => ({ iss: `${V1_ISSUER_HOST}/${s.tid}` }),
    want: bad("issuer_mismatch"),
  },
  {
    name: "an issuer array",
    claims: (s) => ({ iss: [`${s.entraOrigin}/${s.tid}/v2.0`] }),
    want: bad("issuer_mismatch"),
  },
]);

table("tenants", [
  { name: "a tid in upper case", claims: (s) => ({ tid: s.tid.toUpperCase() }), want: bad("tenant_not_allowed") },
  { name: "a tid with braces", claims: (s) => ({ tid: `{${s.tid}}` }), want: bad("tenant_not_allowed") },
  {
    name: "a tid array holding the allowed tenant",
    claims: (s) => ({ tid: [s.tid] }),
    want: bad("tenant_not_allowed"),
  },
  {
    name: "the Microsoft Accounts (consumers) tenant",
    claims: () => ({ tid: "9188040d-6c67-4c5b-b112-36a304b66dad" }),
    want: bad("tenant_not_allowed"),
  },
  { name: "the literal common", claims: () => ({ tid: "common" }), want: bad("tenant_not_allowed") },
]);

describe("tid and iss naming two different allow-listed tenants", () => {
  it("refuses a token whose iss names another allow-listed tenant (issuer_mismatch)", async () => {
    const s = scenario();
    const other = crypto.randomUUID();
    const token = await s.token({ claims: { iss: `${s.entraOrigin}/${other}/v2.0` } });
    await expectRefused(
      await s.exchange({ subject_token: token }, { ENTRA_TENANT_IDS: `${s.tid},${other}` }),
      log,
      bad("issuer_mismatch"),
    );
  });
});

table("delegated (user) tokens and token kinds", [
  { name: "an empty scp", claims: () => ({ scp: "" }), want: bad("not_app_only") },
  { name: "a null scp", claims: () => ({ scp: null }), want: bad("not_app_only") },
  {
    name: "a v1 delegated token (scp, idtyp user)",
    version: "1.0",
    claims: () => ({ scp: "user_impersonation", idtyp: "user", upn: "alice@contoso.example" }),
    want: bad("not_app_only"),
  },
  {
    name: "a delegated token with no idtyp",
    claims: () => ({ scp: "user_impersonation", idtyp: undefined }),
    want: bad("not_app_only"),
  },
  { name: "idtyp App (case variant)", claims: () => ({ idtyp: "App" }), want: bad("not_app_only") },
  { name: "idtyp as an array", claims: () => ({ idtyp: ["app"] }), want: bad("not_app_only") },
  { name: "idtyp device", claims: () => ({ idtyp: "device" }), want: bad("not_app_only") },
  { name: "a null idtyp", claims: () => ({ idtyp: null }), want: bad("not_app_only") },
]);

table("client authentication and client ids", [
  {
    name: "a v1 secret client (appidacr 1)",
    version: "1.0",
    claims: () => ({ appidacr: "1" }),
    want: bad("client_not_certificate_authenticated"),
  },
  {
    name: "a v2 token whose azpacr says secret but carries a v1 appidacr 2",
    claims: () => ({ azpacr: "1", appidacr: "2" }),
    want: bad("client_not_certificate_authenticated"),
  },
  { name: "azpacr as the number 2", claims: () => ({ azpacr: 2 }), want: bad("client_id_missing") },
  { name: 'azpacr "2 " with a space', claims: () => ({ azpacr: "2 " }), want: bad("client_id_missing") },
  { name: 'azpacr "02"', claims: () => ({ azpacr: "02" }), want: bad("client_id_missing") },
  { name: "an azp in braces", claims: () => ({ azp: `{${ORDERS_APP}}` }), want: bad("client_id_missing") },
  {
    name: "an azp GUID in upper case",
    claims: () => ({ azp: "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE" }),
    want: bad("client_id_missing"),
  },
  { name: "an azp that is not a GUID", claims: () => ({ azp: "orders-service" }), want: bad("client_id_missing") },
  { name: "an empty oid", claims: () => ({ oid: "" }), want: bad("object_id_missing") },
  { name: "a numeric oid", claims: () => ({ oid: 7 }), want: bad("object_id_missing") },
]);

table("v1/v2 confusion", [
  {
    name: "a v2 token naming its client in appid instead of azp",
    claims: () => ({ azp: undefined, azpacr: undefined, appid: ORDERS_APP, appidacr: "2" }),
    want: bad("client_id_missing"),
  },
  {
    name: "a v1 token naming its client in azp instead of appid",
    version: "1.0",
    claims: () => ({ appid: undefined, appidacr: undefined, azp: ORDERS_APP, azpacr: "2" }),
    want: bad("client_id_missing"),
  },
  { name: "ver as the number 2.0", claims: () => ({ ver: 2.0 }), want: bad("version_unsupported") },
  { name: 'ver "2"', claims: () => ({ ver: "2" }), want: bad("version_unsupported") },
  { name: "no ver", claims: () => ({ ver: undefined }), want: bad("version_unsupported") },
  {
    name: "a v2 token relabelled ver 1.0 (keeps the v2 issuer)",
    claims: () => ({ ver: "1.0" }),
    want: bad("issuer_mismatch"),
  },
]);

table("roles: exact values only", [
  { name: "the role in upper case", claims: () => ({ roles: ["INVENTORY.READ"] }), want: notGranted },
  { name: "the role with a trailing space", claims: () => ({ roles: ["Inventory.Read "] }), want: notGranted },
  { name: "the role with a zero-width space", claims: () => ({ roles: ["Inventory.Read\u200b"] }), want: notGranted },
  { name: "the role with a Cyrillic o (homoglyph)", claims: () => ({ roles: ["Inventоry.Read"] }), want: notGranted },
  {
    name: "two roles joined in one string",
    claims: () => ({ roles: ["Inventory.Read Deploy.Write"] }),
    want: notGranted,
  },
  {
    name: "roles holding an empty string",
    claims: () => ({ roles: ["Inventory.Read", ""] }),
    want: bad("roles_malformed"),
  },
  { name: "roles holding a number", claims: () => ({ roles: ["Inventory.Read", 1] }), want: bad("roles_malformed") },
  {
    name: "roles holding a nested array",
    claims: () => ({ roles: [["Inventory.Read"]] }),
    want: bad("roles_malformed"),
  },
  { name: "roles as an object", claims: () => ({ roles: { 0: "Inventory.Read" } }), want: bad("roles_malformed") },
  {
    name: "257 roles",
    claims: () => ({ roles: ["Inventory.Read", ...Array.from({ length: 256 }, (_, i) => `r${i}`)] }),
    want: bad("roles_malformed"),
  },
  {
    name: "a role of 257 characters",
    claims: () => ({ roles: ["Inventory.Read", "r".repeat(257)] }),
    want: bad("roles_malformed"),
  },
  {
    name: "null roles (no roles at all)",
    claims: () => ({ roles: null }),
    want: { status: 400, error: "invalid_target", reason: "no_roles" },
  },
]);

describe("a broker-minted token presented back as the subject token", () => {
  for (const [name, env] of [
    ["ES256", {}],
    ["EdDSA", { BROKER_SIGNING_KEYS: "ed25519" }],
  ] as const) {
    it(`refuses the broker's own ${name} token (alg_not_allowed): it is not an Entra token`, async () => {
      const { inject } = await import("vitest");
      const s = scenario();
      const keys = env.BROKER_SIGNING_KEYS ? { BROKER_SIGNING_KEYS: inject("brokerSigningKeysEd25519") } : {};
      const minted = ((await (await s.exchange({}, keys)).json()) as { access_token: string }).access_token;
      await expectRefused(
        await s.exchange({ subject_token: minted }, keys),
        log,
        { ...bad("alg_not_allowed"), priorGrants: 1 },
        [minted],
      );
      await expectRefused(
        await s.exchange(
          { subject_token: minted, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", resource: DEPLOY },
          keys,
        ),
        log,
        { ...bad("alg_not_allowed"), priorGrants: 1 },
        [minted],
      );
    });
  }
});
