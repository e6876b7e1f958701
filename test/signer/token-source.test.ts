// The signer against the Entra ID emulator over real HTTPS, through msal-node.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { createAssertionSigner } from "../../signer/assertion.ts";
import { loadCertificateCredential } from "../../signer/credential.ts";
import { SignerError } from "../../signer/errors.ts";
import { createLogger } from "../../signer/log.ts";
import { createSignerService, type SignerService } from "../../signer/service.ts";
import {
  BROKER_APP,
  BROKER_SCOPE,
  CLIENT,
  OTHER_SCOPE,
  captureLog,
  certOnDisk,
  cleanupTempDirs,
  configFor,
  federatedIssuer,
  startEntra,
  tempDir,
  tenantFile,
  tokenPath,
  type CertOnDisk,
  type FederatedIssuer,
  rejectedSignerError,
} from "./support/fixtures.ts";

const log = captureLog();
const issuedTokens: string[] = [];
const keysUsed: CertOnDisk[] = [];

function service(emu: Emulator, env: Record<string, string | undefined>): SignerService {
  return createSignerService(configFor(emu, env), { log: createLogger(log.write, "debug") });
}

async function token(s: SignerService, scope = BROKER_SCOPE): Promise<string> {
  const t = await s.getToken(scope);
  issuedTokens.push(t.accessToken);
  return t.accessToken;
}

afterAll(() => {
  // No log line may carry key material or a full token (tokens appear as a short hash only).
  const all = log.lines.join("");
  expect(all).not.toMatch(/PRIVATE KEY|BEGIN CERT/);
  for (const k of keysUsed)
    for (const line of k.keyPem.split("\n").filter((l) => l.length > 40)) expect(all).not.toContain(line);
  for (const t of issuedTokens) {
    expect(all).not.toContain(t);
    expect(all).not.toContain(t.split(".")[2]!);
  }
  expect(issuedTokens.length).toBeGreaterThan(5);
  cleanupTempDirs();
});

describe("with a certificate", () => {
  let emu: Emulator;
  let cert: CertOnDisk;
  let env: Record<string, string>;

  beforeAll(async () => {
    const dir = tempDir();
    cert = await certOnDisk(dir, "svc");
    keysUsed.push(cert);
    emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
    env = { BROKER_SIGNER_KEY_FILE: cert.keyFile, BROKER_SIGNER_CERT_FILE: cert.certFile };
  });
  afterAll(() => emu.close());
  afterEach(() => vi.useRealTimers());

  it("gets an app-only token for the scope, authenticated with a PS256 assertion", async () => {
    const claims = decodeJwt(await token(service(emu, env)));
    expect(claims).toMatchObject({
      aud: BROKER_APP,
      azp: CLIENT,
      azpacr: "2",
      roles: ["Tokens.Exchange"],
      idtyp: "app",
    });
  });

  it("serves later calls from msal's cache: no request to Entra ID and no signature per cached read", async () => {
    const s = service(emu, env);
    const first = await token(s);
    const before = emu.requestCount(tokenPath());
    for (let i = 0; i < 200; i++) expect(await token(s)).toBe(first);
    expect(emu.requestCount(tokenPath())).toBe(before);
    // A token with more than REFRESH_AHEAD_MS left is served without asking msal (whose cached
    // read would ask for an assertion on every call): one signature, for the one request sent.
    expect(s.stats()).toEqual({ assertionsSigned: 1, tokenRequests: 1 });
  });

  it("sends one request for many concurrent callers", async () => {
    const s = service(emu, env);
    const before = emu.requestCount(tokenPath());
    const tokens = await Promise.all(Array.from({ length: 50 }, () => token(s)));
    expect(new Set(tokens).size).toBe(1);
    expect(emu.requestCount(tokenPath()) - before).toBe(1);
  });

  it("caches per scope and signs a fresh assertion (new jti) for each request sent, so a tenant refusing reused assertions accepts them", async () => {
    const s = service(emu, env);
    const a = decodeJwt(await token(s, BROKER_SCOPE));
    const b = decodeJwt(await token(s, OTHER_SCOPE));
    expect(a.aud).not.toBe(b.aud);
    expect(s.stats()).toEqual({ assertionsSigned: 2, tokenRequests: 2 });
  });

  it("refreshes in the background ahead of expiry, while callers keep getting the still-valid token", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const s = service(emu, env);
    const first = await token(s);
    const lifetimeMs = (decodeJwt(first).exp! - Math.floor(t0 / 1000)) * 1000;
    vi.setSystemTime(t0 + lifetimeMs - 8 * 60_000); // 8 minutes left: inside the refresh-ahead window
    expect(await token(s)).toBe(first); // not made to wait
    await s.idle();
    expect(s.stats().tokenRequests).toBe(2);
    const second = await token(s);
    expect(second).not.toBe(first);
    expect(decodeJwt(second).exp).toBeGreaterThan(decodeJwt(first).exp!);
  });

  it("never hands out a token with less than 5 minutes left", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const s = service(emu, env);
    const first = await token(s);
    vi.setSystemTime(decodeJwt(first).exp! * 1000 - 2 * 60_000);
    const second = await token(s);
    expect(second).not.toBe(first);
    expect(decodeJwt(second).exp! * 1000 - Date.now()).toBeGreaterThan(5 * 60_000);
    expect(t0).toBeLessThan(Date.now());
  });

  it("maps Entra ID's refusal to ERR_TOKEN with the AADSTS text and no assertion or key in it", async () => {
    const s = service(emu, env);
    const e = await rejectedSignerError(s.getToken("api://unknown-api/.default"));
    expect(e.code).toBe("ERR_TOKEN");
    expect(e.message).toMatch(/AADSTS500011/);
    expect(e.message).not.toMatch(/eyJ/);
  });

  it("refuses a scope that is not a /.default scope before calling Entra ID", async () => {
    const s = service(emu, env);
    const e = await rejectedSignerError(s.getToken("api://broker/Tokens.Exchange"));
    expect(e.message).toMatch(/must end with \/.default/);
    expect(s.stats().tokenRequests).toBe(0);
  });
});

describe("with two certificates (rotation)", () => {
  it("signs with the newer certificate, so the app registration only needs the new one; reports both thumbprints", async () => {
    const dir = tempDir();
    const old = await certOnDisk(dir, "old", { notBefore: new Date(Date.now() - 90 * 86_400_000) });
    const next = await certOnDisk(dir, "next", { notBefore: new Date(Date.now() - 60_000) });
    keysUsed.push(old, next);
    const emu = await startEntra(tenantFile({ certificates: [next.certPem] }), join(dir, "emu"));
    try {
      const s = service(emu, {
        BROKER_SIGNER_KEY_FILE: old.keyFile,
        BROKER_SIGNER_CERT_FILE: old.certFile,
        BROKER_SIGNER_NEXT_KEY_FILE: next.keyFile,
        BROKER_SIGNER_NEXT_CERT_FILE: next.certFile,
      });
      expect(decodeJwt(await token(s)).azp).toBe(CLIENT);
      const d = s.describe();
      expect(d).toMatchObject({ kind: "certificate", signingThumbprintSha256: next.thumbprintSha256Hex.toUpperCase() });
      expect(d.kind === "certificate" && d.certificates.map((c) => c.thumbprintSha256)).toEqual([
        old.thumbprintSha256Hex.toUpperCase(),
        next.thumbprintSha256Hex.toUpperCase(),
      ]);
    } finally {
      await emu.close();
    }
  });
});

describe("with a federated credential (OIDC token file)", () => {
  let emu: Emulator;
  let issuer: FederatedIssuer;
  let tokenFile: string;

  beforeAll(async () => {
    const dir = tempDir();
    issuer = await federatedIssuer();
    emu = await startEntra(tenantFile({ federated: issuer.jwk }), join(dir, "emu"));
    tokenFile = join(dir, "ci-token");
  });
  afterAll(() => emu.close());

  it("gets a token with the file's OIDC token as the assertion, and re-reads the file on each use", async () => {
    writeFileSync(tokenFile, await issuer.sign());
    const s = service(emu, { BROKER_SIGNER_FEDERATED_TOKEN_FILE: tokenFile });
    expect(decodeJwt(await token(s, BROKER_SCOPE)).azp).toBe(CLIENT);
    // The CI system rotates the file: a token for another subject is now there, and is what gets sent.
    writeFileSync(tokenFile, await issuer.sign({ sub: "repo:acme/other:ref:refs/heads/main" }));
    const e = await rejectedSignerError(s.getToken(OTHER_SCOPE));
    expect(e.code).toBe("ERR_TOKEN");
    expect(e.message).toMatch(
      /invalid_client: .*AADSTS700213: No matching federated identity record found for presented assertion subject/,
    );
    writeFileSync(tokenFile, await issuer.sign());
    expect(decodeJwt(await token(s, OTHER_SCOPE)).azp).toBe(CLIENT);
    expect(s.describe()).toEqual({ kind: "federated", tokenFile });
  });

  it("says the file's token has expired instead of sending it", async () => {
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(tokenFile, await issuer.sign({ iat: now - 900, nbf: now - 900, exp: now - 300 }));
    const e = await rejectedSignerError(
      service(emu, { BROKER_SIGNER_FEDERATED_TOKEN_FILE: tokenFile }).getToken(BROKER_SCOPE),
    );
    expect(e.code).toBe("ERR_CREDENTIAL");
    expect(e.message).toMatch(/expired .* is whatever refreshes this file running/);
    expect(emu.requestCount(tokenPath())).toBe(3); // only the three requests of the test above
  });
});

describe("with an unsafe key file", () => {
  it("refuses to start", async () => {
    const dir = tempDir();
    const cert = await certOnDisk(dir, "svc", { keyMode: 0o644 });
    keysUsed.push(cert);
    const emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), join(dir, "emu"));
    try {
      let e: unknown;
      try {
        service(emu, { BROKER_SIGNER_KEY_FILE: cert.keyFile, BROKER_SIGNER_CERT_FILE: cert.certFile });
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(SignerError);
      expect((e as SignerError).code).toBe("ERR_KEY_UNSAFE");
      expect(emu.requestCount()).toBe(0);
    } finally {
      await emu.close();
    }
  });
});

it("keeps assertion headers to the fixed template (PS256, x5t#S256) on the wire", async () => {
  const dir = tempDir();
  const cert = await certOnDisk(dir, "svc");
  keysUsed.push(cert);
  const signer = createAssertionSigner({
    clientId: CLIENT,
    tokenEndpoint: "https://x.example/t/oauth2/v2.0/token",
    credentials: [loadCertificateCredential({ kind: "pem", keyFile: cert.keyFile, certFile: cert.certFile })],
  });
  expect(decodeProtectedHeader(signer.assertion())).toEqual({
    alg: "PS256",
    typ: "JWT",
    "x5t#S256": cert.thumbprintSha256Base64url,
  });
});
