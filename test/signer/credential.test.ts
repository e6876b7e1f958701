import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertNoKeyMaterialInProcess,
  loadCertificateCredential,
  selectSigningCredential,
} from "../../signer/credential.ts";
import { certOnDisk, cleanupTempDirs, tempDir, thrownSignerError } from "./support/fixtures.ts";

afterAll(cleanupTempDirs);

/** A PFX as `openssl pkcs12 -export` writes it by default on OpenSSL 3 (PBES2, AES-256-CBC, SHA-256 MAC). */
function opensslPfx(
  dir: string,
  keyFile: string,
  certFile: string,
  passphrase: string,
): { pfxFile: string; passphraseFile: string } {
  const pfxFile = join(dir, "cred.pfx");
  const passphraseFile = join(dir, "cred.pass");
  writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
  execFileSync("openssl", [
    "pkcs12",
    "-export",
    "-inkey",
    keyFile,
    "-in",
    certFile,
    "-out",
    pfxFile,
    "-passout",
    `file:${passphraseFile}`,
  ]);
  chmodSync(pfxFile, 0o600);
  return { pfxFile, passphraseFile };
}

describe("loadCertificateCredential", () => {
  it("loads a PEM key + certificate and computes the SHA-256 and SHA-1 thumbprints and x5t#S256", async () => {
    const dir = tempDir();
    const c = await certOnDisk(dir, "svc");
    const cred = loadCertificateCredential({ kind: "pem", keyFile: c.keyFile, certFile: c.certFile });
    const x = new X509Certificate(c.certPem);
    expect(cred.thumbprintSha256).toBe(x.fingerprint256.replaceAll(":", ""));
    expect(cred.thumbprintSha1).toBe(x.fingerprint.replaceAll(":", ""));
    expect(cred.thumbprintSha256).toBe(c.thumbprintSha256Hex.toUpperCase());
    expect(cred.x5tS256).toBe(c.thumbprintSha256Base64url);
    expect(cred.privateKey.type).toBe("private");
  });

  it.each([0o644, 0o640, 0o604, 0o660])("refuses a key file with mode %o and says how to fix it", async (mode) => {
    const dir = tempDir();
    const c = await certOnDisk(dir, "svc", { keyMode: mode });
    const e = thrownSignerError(() =>
      loadCertificateCredential({ kind: "pem", keyFile: c.keyFile, certFile: c.certFile }),
    );
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toContain(`chmod 600 ${c.keyFile}`);
  });

  it("refuses a certificate that does not belong to the key", async () => {
    const dir = tempDir();
    const a = await certOnDisk(dir, "a");
    const b = await certOnDisk(dir, "b");
    const e = thrownSignerError(() =>
      loadCertificateCredential({ kind: "pem", keyFile: a.keyFile, certFile: b.certFile }),
    );
    expect(e.code).toBe("ERR_CREDENTIAL");
    expect(e.message).toMatch(/does not belong to private key file/);
  });

  it("loads an OpenSSL 3 default (AES-256) PFX with its passphrase file, with the same thumbprints", async () => {
    const dir = tempDir();
    const c = await certOnDisk(dir, "svc");
    const { pfxFile, passphraseFile } = opensslPfx(dir, c.keyFile, c.certFile, "correct horse");
    const info = spawnSync(
      "openssl",
      ["pkcs12", "-in", pfxFile, "-info", "-noout", "-passin", `file:${passphraseFile}`],
      { encoding: "utf8" },
    );
    expect(info.stderr + info.stdout).toMatch(/AES-256-CBC/);
    const cred = loadCertificateCredential({ kind: "pfx", pfxFile, passphraseFile });
    expect(cred.thumbprintSha256).toBe(c.thumbprintSha256Hex.toUpperCase());
  });

  it("reports a wrong PFX passphrase as such, and refuses a world-readable PFX", async () => {
    const dir = tempDir();
    const c = await certOnDisk(dir, "svc");
    const { pfxFile, passphraseFile } = opensslPfx(dir, c.keyFile, c.certFile, "right");
    writeFileSync(passphraseFile, "wrong", { mode: 0o600 });
    const wrong = thrownSignerError(() => loadCertificateCredential({ kind: "pfx", pfxFile, passphraseFile }));
    expect(wrong.message).toMatch(/wrong passphrase/);
    chmodSync(pfxFile, 0o644);
    expect(thrownSignerError(() => loadCertificateCredential({ kind: "pfx", pfxFile, passphraseFile })).code).toBe(
      "ERR_KEY_UNSAFE",
    );
  });
});

describe("assertNoKeyMaterialInProcess", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

  it("refuses a key passed in argv, naming the position but not the key", () => {
    const e = thrownSignerError(() =>
      assertNoKeyMaterialInProcess(["node", "broker-signer", "token", "--key", pem], {}),
    );
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toMatch(/argument 4/);
    expect(e.message).not.toContain("MIIEvQ");
  });

  it("refuses a key in any environment variable, naming the variable but not the key", () => {
    const e = thrownSignerError(() => assertNoKeyMaterialInProcess([], { SIGNER_KEY: pem }));
    expect(e.message).toMatch(/environment variable SIGNER_KEY/);
    expect(e.message).not.toContain("MIIEvQ");
  });

  it("accepts paths and certificates (public) in argv and env", () => {
    expect(() =>
      assertNoKeyMaterialInProcess(["--cert", "-----BEGIN CERTIFICATE-----"], { KEY_FILE: "/etc/signer/key.pem" }),
    ).not.toThrow();
  });
});

describe("selectSigningCredential (rotation)", () => {
  it("signs with the newer of two valid certificates, and with the older once the newer is not yet valid or the older only is left", async () => {
    const dir = tempDir();
    const day = 86_400_000;
    const now = Date.now();
    const older = loadCertificateCredential({
      kind: "pem",
      ...(await certOnDisk(dir, "old", { notBefore: new Date(now - 30 * day), notAfter: new Date(now + 5 * day) })),
    });
    const newer = loadCertificateCredential({
      kind: "pem",
      ...(await certOnDisk(dir, "new", { notBefore: new Date(now - day), notAfter: new Date(now + 90 * day) })),
    });
    const future = loadCertificateCredential({
      kind: "pem",
      ...(await certOnDisk(dir, "future", { notBefore: new Date(now + 2 * day), notAfter: new Date(now + 90 * day) })),
    });
    expect(selectSigningCredential([older, newer], new Date(now)).thumbprintSha256).toBe(newer.thumbprintSha256);
    expect(selectSigningCredential([newer, older], new Date(now)).thumbprintSha256).toBe(newer.thumbprintSha256);
    expect(selectSigningCredential([older, future], new Date(now)).thumbprintSha256).toBe(older.thumbprintSha256);
    expect(selectSigningCredential([older, newer], new Date(now + 10 * day)).thumbprintSha256).toBe(
      newer.thumbprintSha256,
    );
    const none = thrownSignerError(() => selectSigningCredential([older], new Date(now + 10 * day)));
    expect(none.message).toMatch(/no configured certificate is valid now/);
  });
});

describe("key material without PEM armour", () => {
  const keyShapes = async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const shapes: Array<[string, string]> = [];
    for (const [name, pair] of [
      ["RSA", generateKeyPairSync("rsa", { modulusLength: 2048 })],
      ["EC", generateKeyPairSync("ec", { namedCurve: "P-256" })],
      ["Ed25519", generateKeyPairSync("ed25519")],
    ] as const) {
      shapes.push([
        `${name} PKCS#8 base64`,
        pair.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
      ]);
      shapes.push([`${name} private JWK`, JSON.stringify(pair.privateKey.export({ format: "jwk" }))]);
    }
    return shapes;
  };

  it("refuses bare base64 PKCS#8 keys and private JWKs in the environment, naming only the variable", async () => {
    for (const [shape, value] of await keyShapes()) {
      let message = "";
      try {
        assertNoKeyMaterialInProcess(["node"], { DEPLOY_KEY: value });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, shape).toContain("DEPLOY_KEY");
      expect(message).not.toContain(value.slice(0, 24));
    }
  });

  it("does not mistake a public JWK or a certificate thumbprint for a key", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const publicJwk = JSON.stringify(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }),
    );
    expect(() =>
      assertNoKeyMaterialInProcess(["node", "--x", publicJwk], {
        THUMBPRINT: "q2Zx0f0oYh8kXo1tWqJrYk3V0pQ1Qm3r8m5F0t8Y2aA",
      }),
    ).not.toThrow();
  });
});
