import { generateKeyPair, SignJWT } from "jose";
import { AUDIENCE, CLIENT_ID, OTHER_AUDIENCE, type StandInBroker, unsignedToken } from "./stand-in-broker.ts";

// The origin kit's adversarial table: (name, token, wanted refusal). Run in Node
// (test/origin/adversarial.test.ts) and in workerd (test/worker/origin-kit.test.ts) with the same
// rows, verified with scopes ["inventory.read"] at audience AUDIENCE.

export interface Case {
  readonly name: string;
  readonly code: string;
  readonly status: 401 | 403 | 503;
  make(broker: StandInBroker, now: number): Promise<string>;
}

const ENTRA_TENANT = "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c";

export const ADVERSARIAL_CASES: readonly Case[] = [
  {
    name: "another origin's token",
    code: "audience_mismatch",
    status: 401,
    make: (b) => b.token({ claims: { aud: OTHER_AUDIENCE } }),
  },
  {
    name: "the broker's token with typ JWT",
    code: "typ_not_at_jwt",
    status: 401,
    make: (b) => b.token({ header: { typ: "JWT" } }),
  },
  {
    name: "the broker's token with no typ",
    code: "typ_not_at_jwt",
    status: 401,
    make: (b) => b.token({ header: { typ: undefined } }),
  },
  {
    name: "an Entra ID access token (RS256, typ JWT)",
    code: "alg_not_allowed",
    status: 401,
    async make(_, now) {
      const { privateKey } = await generateKeyPair("RS256");
      return new SignJWT({
        aud: AUDIENCE,
        iss: `https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`,
        azp: CLIENT_ID,
        roles: ["Inventory.Read"],
        tid: ENTRA_TENANT,
        iat: now,
        exp: now + 3600,
      })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: "entra-key" })
        .sign(privateKey);
    },
  },
  {
    name: "alg none",
    code: "alg_not_allowed",
    status: 401,
    make: async (b, now) => unsignedToken({ alg: "none", typ: "at+jwt", kid: b.keys[0]!.kid }, claims(b, now), ""),
  },
  {
    name: "HS256 with the broker's JWKS as the secret",
    code: "alg_not_allowed",
    status: 401,
    make: (b, now) =>
      new SignJWT(claims(b, now))
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: b.keys[0]!.kid })
        .sign(new TextEncoder().encode(b.jwksJson())),
  },
  {
    name: "an expired token",
    code: "token_expired",
    status: 401,
    make: (b, now) => b.token({ now: now - 600 }),
  },
  {
    name: "a token one second past exp (exp allows no skew)",
    code: "token_expired",
    status: 401,
    make: (b, now) => b.token({ claims: { exp: now - 1 } }),
  },
  {
    name: "a token not valid yet (nbf beyond the skew)",
    code: "token_not_yet_valid",
    status: 401,
    make: (b, now) => b.token({ claims: { nbf: now + 3600, exp: now + 7200 } }),
  },
  {
    name: "a token issued in the future (iat beyond the skew)",
    code: "token_not_yet_valid",
    status: 401,
    make: (b, now) => b.token({ claims: { iat: now + 3600, exp: now + 7200 } }),
  },
  {
    name: "several audiences, this origin among them",
    code: "audience_mismatch",
    status: 401,
    make: (b) => b.token({ claims: { aud: [AUDIENCE, OTHER_AUDIENCE] } }),
  },
  {
    name: "aud as an array of one",
    code: "audience_mismatch",
    status: 401,
    make: (b) => b.token({ claims: { aud: [AUDIENCE] } }),
  },
  {
    name: "this origin with a trailing slash",
    code: "audience_mismatch",
    status: 401,
    make: (b) => b.token({ claims: { aud: `${AUDIENCE}/` } }),
  },
  { name: "no aud", code: "claim_missing", status: 401, make: (b) => b.token({ claims: { aud: undefined } }) },
  { name: "no exp", code: "claim_missing", status: 401, make: (b) => b.token({ claims: { exp: undefined } }) },
  { name: "no iat", code: "claim_missing", status: 401, make: (b) => b.token({ claims: { iat: undefined } }) },
  { name: "no jti", code: "claim_missing", status: 401, make: (b) => b.token({ claims: { jti: undefined } }) },
  {
    name: "no client_id",
    code: "claim_missing",
    status: 401,
    make: (b) => b.token({ claims: { client_id: undefined } }),
  },
  { name: "no scope", code: "claim_missing", status: 401, make: (b) => b.token({ claims: { scope: undefined } }) },
  {
    name: "exp as a string",
    code: "claim_invalid",
    status: 401,
    make: (b, now) => b.token({ claims: { exp: String(now + 300) } }),
  },
  {
    name: "scope as an array",
    code: "claim_invalid",
    status: 401,
    make: (b) => b.token({ claims: { scope: ["inventory.read"] } }),
  },
  {
    name: "roles as a string",
    code: "claim_invalid",
    status: 401,
    make: (b) => b.token({ claims: { roles: "Admin" } }),
  },
  {
    name: "a tampered payload (scope widened after signing)",
    code: "signature_invalid",
    status: 401,
    async make(b) {
      const [h, , s] = (await b.token({ claims: { scope: "inventory.list" } })).split(".");
      const [, p] = (await b.token()).split(".");
      return `${h}.${p}.${s}`;
    },
  },
  {
    name: "signed by another key under the broker's kid",
    code: "signature_invalid",
    status: 401,
    async make(b, now) {
      const { privateKey } = await generateKeyPair("ES256");
      return new SignJWT(claims(b, now))
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: b.keys[0]!.kid })
        .sign(privateKey);
    },
  },
  {
    name: "another issuer, signed with the broker's key",
    code: "issuer_mismatch",
    status: 401,
    make: (b) => b.token({ claims: { iss: "https://evil.example.com" } }),
  },
  {
    name: "a kid the broker does not publish",
    code: "key_not_found",
    status: 401,
    make: (b) => b.token({ header: { kid: "nope" } }),
  },
  { name: "no kid", code: "key_not_found", status: 401, make: (b) => b.token({ header: { kid: undefined } }) },
  {
    name: "an unknown critical header",
    code: "token_malformed",
    status: 401,
    // Signed by nothing: jose refuses to sign with an unknown extension, and refuses it first on verify.
    make: async (b, now) =>
      unsignedToken(
        { alg: "ES256", typ: "at+jwt", kid: b.keys[0]!.kid, crit: ["x-bound"], "x-bound": true },
        claims(b, now),
      ),
  },
  { name: "not a JWT at all", code: "token_malformed", status: 401, make: async () => "not-a-jwt" },
  {
    name: "a JWT far over the size cap",
    code: "token_malformed",
    status: 401,
    make: (b) => b.token({ claims: { padding: "x".repeat(20_000) } }),
  },
  {
    name: "a valid token without the route's scope",
    code: "scope_insufficient",
    status: 403,
    make: (b) => b.token({ claims: { scope: "inventory.list" } }),
  },
];

function claims(b: StandInBroker, now: number): Record<string, unknown> {
  return {
    iss: b.issuer,
    aud: AUDIENCE,
    client_id: CLIENT_ID,
    sub: CLIENT_ID,
    scope: "inventory.read",
    iat: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
  };
}
