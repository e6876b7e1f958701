// Certificate assertions against Entra's finer rules: registered certificate validity (AADSTS700027),
// supported algorithms (RS256/RS384/RS512/PS256, else AADSTS5002738), a thumbprint in the header
// (AADSTS5002723), and the required iss/aud fields (AADSTS90014).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateKey, createSign, randomUUID } from "node:crypto";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import {
  CLIENT,
  EXPIRED_CLIENT,
  TENANT,
  certAssertion,
  certForm,
  createFixture,
  expectEntraError,
  postToken,
  type Fixture,
} from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants });
});
afterAll(() => em?.close());

/** A JWT with any header, signed RS256 whatever the header says (for algorithms jose would not sign). */
function rawJwt(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = createSign("RSA-SHA256").update(input).sign(createPrivateKey(f.cert.keyPem)).toString("base64url");
  return `${input}.${sig}`;
}

const claimsFor = (clientId = CLIENT) => {
  const now = Math.floor(Date.now() / 1000);
  return { aud: em.tokenEndpoint(TENANT), iss: clientId, sub: clientId, jti: randomUUID(), nbf: now, exp: now + 600 };
};

describe("registered certificate validity", () => {
  it("refuses an assertion signed with an expired registered certificate (AADSTS700027, key expired)", async () => {
    const assertion = await certAssertion(em, f.expiredCert, {
      claims: { iss: EXPIRED_CLIENT, sub: EXPIRED_CLIENT },
    });
    const r = await postToken(em, certForm(assertion, "api://broker/.default", EXPIRED_CLIENT));
    expectEntraError(r, 401, "invalid_client", 700027, "The key used is expired.");
    expect(r.body.error_description).toContain(f.expiredCert.thumbprintSha256Hex);
  });

  it("refuses a certificate that is not yet valid (AADSTS700027)", async () => {
    const assertion = await certAssertion(em, f.futureCert, {
      alg: "RS256",
      claims: { iss: EXPIRED_CLIENT, sub: EXPIRED_CLIENT },
    });
    const r = await postToken(em, certForm(assertion, "api://broker/.default", EXPIRED_CLIENT));
    expectEntraError(r, 401, "invalid_client", 700027, "The key used is not yet valid.");
  });

  it("still accepts a currently valid certificate (baseline)", async () => {
    expect((await postToken(em, certForm(await certAssertion(em, f.cert)))).status).toBe(200);
  });
});

describe("assertion algorithms and headers", () => {
  it.each(["RS384", "RS512"] as const)("accepts %s, like Entra", async (alg) => {
    const r = await postToken(em, certForm(await certAssertion(em, f.cert, { alg })));
    expect(r.status).toBe(200);
  });

  it.each(["ES256", "HS256", "none"])("refuses %s with AADSTS5002738 listing the supported ones", async (alg) => {
    const jwt = rawJwt({ alg, typ: "JWT", x5t: f.cert.thumbprintSha1Base64url }, claimsFor());
    const r = await postToken(em, certForm(jwt));
    expectEntraError(r, 401, "invalid_client", 5002738, `'${alg}' is not a supported signature algorithm`);
    expect(r.body.error_description).toContain("RS256,RS384,RS512,PS256");
  });

  it("refuses a header without x5t or x5t#S256 with AADSTS5002723", async () => {
    const jwt = rawJwt({ alg: "RS256", typ: "JWT" }, claimsFor());
    expectEntraError(await postToken(em, certForm(jwt)), 401, "invalid_client", 5002723, "No certificate thumbprint");
  });

  it.each(["aud", "iss"])("refuses an assertion without %s with AADSTS90014 naming the field", async (field) => {
    const claims: Record<string, unknown> = claimsFor();
    delete claims[field];
    const jwt = rawJwt({ alg: "RS256", typ: "JWT", x5t: f.cert.thumbprintSha1Base64url }, claims);
    const r = await postToken(em, certForm(jwt));
    expectEntraError(r, 400, "invalid_request", 90014, `The required field '${field}' is missing from the credential.`);
  });
});
