import { createPublicKey } from "node:crypto";
import { compactVerify, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSERTION_LIFETIME_S, createAssertionSigner } from "../../signer/assertion.ts";
import { loadCertificateCredential, type CertificateCredential } from "../../signer/credential.ts";
import { SignerError } from "../../signer/errors.ts";
import { certOnDisk, cleanupTempDirs, tempDir, type CertOnDisk } from "./support/fixtures.ts";

const CLIENT = "a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5";
const ENDPOINT = "https://login.microsoftonline.com/9b1c2a4e-5f6d-4e7a-8b9c-0d1e2f3a4b5c/oauth2/v2.0/token";

let disk: CertOnDisk;
let cred: CertificateCredential;

beforeAll(async () => {
  disk = await certOnDisk(tempDir(), "svc");
  cred = loadCertificateCredential({ kind: "pem", keyFile: disk.keyFile, certFile: disk.certFile });
});
afterAll(cleanupTempDirs);

describe("client assertions", () => {
  it("are PS256 with x5t#S256, aud = the pinned token endpoint, iss = sub = client id, a jti, and a lifetime of at most 5 minutes", async () => {
    const t = Date.now();
    const signer = createAssertionSigner({
      clientId: CLIENT,
      tokenEndpoint: ENDPOINT,
      credentials: [cred],
      now: () => t,
    });
    const jwt = await signer.assertion(ENDPOINT);
    expect(decodeProtectedHeader(jwt)).toEqual({
      alg: "PS256",
      typ: "JWT",
      "x5t#S256": disk.thumbprintSha256Base64url,
    });
    const { payload } = await jwtVerify(jwt, createPublicKey(disk.certPem), {
      algorithms: ["PS256"],
      audience: ENDPOINT,
      issuer: CLIENT,
      subject: CLIENT,
    });
    expect(Object.keys(payload).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.exp! - payload.iat!).toBe(ASSERTION_LIFETIME_S);
    expect(ASSERTION_LIFETIME_S).toBeLessThanOrEqual(300);
    expect(payload.iat).toBe(Math.floor(t / 1000));
  });

  it("refuse to sign for any audience but the pinned token endpoint (never a signing oracle)", async () => {
    const signer = createAssertionSigner({ clientId: CLIENT, tokenEndpoint: ENDPOINT, credentials: [cred] });
    for (const aud of ["https://evil.example/token", ENDPOINT.replace("9b1c", "0000"), `${ENDPOINT}?x=1`]) {
      await expect(signer.assertion(aud)).rejects.toThrow(SignerError);
    }
    expect(signer.signatures).toBe(0);
  });

  it("are never handed out twice, sent or not: two requests with one jti would be refused as a replay", async () => {
    let t = Date.now();
    const signer = createAssertionSigner({
      clientId: CLIENT,
      tokenEndpoint: ENDPOINT,
      credentials: [cred],
      now: () => t,
    });
    const [a, b] = await Promise.all([signer.assertion(), signer.assertion()]);
    expect(decodeJwt(a!).jti).not.toBe(decodeJwt(b!).jti);
    expect(signer.markSent(a!)).toMatchObject({ jti: decodeJwt(a!).jti, thumbprintSha256: cred.thumbprintSha256 });
    expect(signer.markSent(a!)).toBeUndefined(); // facts are given once
    t += 60_000;
    const c = await signer.assertion();
    expect(decodeJwt(c).exp).toBe(Math.floor(t / 1000) + ASSERTION_LIFETIME_S);
    expect(signer.signatures).toBe(3);
  });

  it("switch to the newer certificate during rotation", async () => {
    const newerDisk = await certOnDisk(tempDir(), "svc-next", { notBefore: new Date(Date.now() - 60_000) });
    const newer = loadCertificateCredential({ kind: "pem", keyFile: newerDisk.keyFile, certFile: newerDisk.certFile });
    const signer = createAssertionSigner({ clientId: CLIENT, tokenEndpoint: ENDPOINT, credentials: [cred, newer] });
    const jwt = await signer.assertion();
    expect(decodeProtectedHeader(jwt)["x5t#S256"]).toBe(newerDisk.thumbprintSha256Base64url);
    await compactVerify(jwt, createPublicKey(newerDisk.certPem));
    expect(signer.signingCredential().thumbprintSha256).toBe(newer.thumbprintSha256);
  });
});
