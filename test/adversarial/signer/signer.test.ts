// The signer under attack from its neighbours: a local process that can read files, list processes,
// reach sockets and steer msal. Node-side (the signer is Node by nature). No network beyond loopback:
// the authority is a closed loopback port, so nothing here ever reaches an Entra ID.
import { createPublicKey } from "node:crypto";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import { join } from "node:path";
import fc from "fast-check";
import { compactVerify, decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSERTION_LIFETIME_S, createAssertionSigner, type AssertionSigner } from "../../../signer/assertion.ts";
import {
  assertNoKeyMaterialInProcess,
  assertSafeSecretFile,
  loadCertificateCredential,
  type CertificateCredential,
  type FileProbe,
} from "../../../signer/credential.ts";
import { loadConfig } from "../../../signer/config.ts";
import { SignerError } from "../../../signer/errors.ts";
import { createLogger } from "../../../signer/log.ts";
import { createSignerService } from "../../../signer/service.ts";
import { startSocketServer, type SocketServer } from "../../../signer/socket-server.ts";
import {
  certOnDisk,
  cleanupTempDirs,
  tempDir,
  thrownSignerError,
  rejectedSignerError,
  type CertOnDisk,
} from "../../signer/support/fixtures.ts";

const TENANT = "9b1c2a4e-5f6d-4e7a-8b9c-0d1e2f3a4b5c";
const CLIENT = "a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5";
const ENDPOINT = `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`;

let dir: string;
let cert: CertOnDisk;
let cred: CertificateCredential;
/** Lines of the private key long enough to be unmistakable if they ever leak. */
let keyLines: string[];

beforeAll(async () => {
  dir = tempDir("signer-adv-");
  cert = await certOnDisk(dir, "svc");
  cred = loadCertificateCredential({ kind: "pem", keyFile: cert.keyFile, certFile: cert.certFile });
  keyLines = cert.keyPem.split("\n").filter((l) => l.length > 40);
});
afterAll(cleanupTempDirs);

function expectNoKey(text: string): void {
  expect(text).not.toMatch(/PRIVATE KEY/);
  for (const line of keyLines) expect(text).not.toContain(line);
}

function keyCopy(mode: number): string {
  const file = join(dir, `key-${mode.toString(8)}-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, cert.keyPem);
  chmodSync(file, mode);
  return file;
}

describe("private key file permissions", () => {
  for (const mode of [0o640, 0o604, 0o660, 0o644, 0o666, 0o620, 0o602, 0o610]) {
    it(`refuses a key file of mode ${mode.toString(8)} (ERR_KEY_UNSAFE, with the chmod that fixes it, without the key)`, () => {
      const keyFile = keyCopy(mode);
      const e = thrownSignerError(() => loadCertificateCredential({ kind: "pem", keyFile, certFile: cert.certFile }));
      expect(e.code).toBe("ERR_KEY_UNSAFE");
      expect(e.message).toContain(`chmod 600 ${keyFile}`);
      expectNoKey(e.message);
    });
  }

  it("accepts a key file of mode 0400", () => {
    const keyFile = keyCopy(0o400);
    expect(loadCertificateCredential({ kind: "pem", keyFile, certFile: cert.certFile }).thumbprintSha256).toBe(
      cred.thumbprintSha256,
    );
  });

  it("judges a symlink by its target: a link to a 0644 key is refused", () => {
    const link = join(dir, `link-${Math.random().toString(36).slice(2)}.pem`);
    symlinkSync(keyCopy(0o644), link);
    expect(
      thrownSignerError(() => loadCertificateCredential({ kind: "pem", keyFile: link, certFile: cert.certFile })).code,
    ).toBe("ERR_KEY_UNSAFE");
  });

  it("refuses a directory where the key file belongs", () => {
    const d = join(dir, `keydir-${Math.random().toString(36).slice(2)}`);
    mkdirSync(d, { mode: 0o700 });
    const e = thrownSignerError(() => loadCertificateCredential({ kind: "pem", keyFile: d, certFile: cert.certFile }));
    expect(e).toMatchObject({ code: "ERR_KEY_UNSAFE", message: expect.stringContaining("not a regular file") });
  });

  it("refuses a group-readable PFX passphrase file", () => {
    const pass = join(dir, `pass-${Math.random().toString(36).slice(2)}`);
    writeFileSync(pass, "secret\n");
    chmodSync(pass, 0o640);
    const pfx = keyCopy(0o600);
    const e = thrownSignerError(() => loadCertificateCredential({ kind: "pfx", pfxFile: pfx, passphraseFile: pass }));
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).not.toContain("secret");
  });

  it("does not quote a malformed key file's contents in its error", () => {
    const keyFile = join(dir, `bad-${Math.random().toString(36).slice(2)}.pem`);
    writeFileSync(
      keyFile,
      `-----BEGIN PRIVATE KEY-----\n${keyLines.join("\n").slice(0, 500)}\n-----END PRIVATE KEY-----\n`,
      { mode: 0o600 },
    );
    const e = thrownSignerError(() => loadCertificateCredential({ kind: "pem", keyFile, certFile: cert.certFile }));
    expect(e.code).toBe("ERR_CREDENTIAL");
    expectNoKey(e.message);
  });

  it("does not quote a private key given as the certificate file", () => {
    const e = thrownSignerError(() =>
      loadCertificateCredential({ kind: "pem", keyFile: cert.keyFile, certFile: cert.keyFile }),
    );
    expect(e.code).toBe("ERR_CREDENTIAL");
    expectNoKey(e.message);
  });
});

describe("key file ownership and the directories above it", () => {
  /** Another user's uid: nobody on this machine needs to own it. */
  const OTHER_UID = 4242;
  const load = (keyFile: string) => () => loadCertificateCredential({ kind: "pem", keyFile, certFile: cert.certFile });

  /** The real file system, except that `path` reports `facts`: another user's file without needing root. */
  const probeWith = (path: string, facts: { uid?: number; mode?: number }): FileProbe => ({
    stat: (p) => {
      const st = statSync(p);
      if (p !== path) return st;
      return {
        uid: facts.uid ?? st.uid,
        mode: facts.mode ?? st.mode,
        isFile: () => st.isFile(),
        isDirectory: () => st.isDirectory(),
      };
    },
    realpath: realpathSync,
    uid: process.getuid!(),
  });

  it("refuses a 0600 key file owned by another user (file facts injected)", () => {
    const keyFile = keyCopy(0o600);
    const e = thrownSignerError(() =>
      assertSafeSecretFile(keyFile, "private key file", probeWith(keyFile, { uid: OTHER_UID })),
    );
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toContain(`owned by uid ${OTHER_UID}`);
    expect(() => assertSafeSecretFile(keyFile, "private key file", probeWith(keyFile, {}))).not.toThrow();
  });

  it.runIf(process.getuid?.() === 0)("refuses a 0600 key file chowned to another user (as root)", () => {
    const keyFile = keyCopy(0o600);
    chownSync(keyFile, OTHER_UID, OTHER_UID);
    const e = thrownSignerError(load(keyFile));
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toMatch(new RegExp(`owned by uid ${OTHER_UID}, not by the signer's user`));
  });

  for (const mode of [0o777, 0o770, 0o775, 0o757]) {
    it(`refuses a 0600 key in a directory of mode ${mode.toString(8)}: whoever can write it can swap the key`, () => {
      const d = join(dir, `open-${mode.toString(8)}-${Math.random().toString(36).slice(2)}`);
      mkdirSync(d);
      chmodSync(d, mode);
      const keyFile = join(d, "key.pem");
      writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
      const e = thrownSignerError(load(keyFile));
      expect(e.code).toBe("ERR_KEY_UNSAFE");
      expect(e.message).toContain(`directory ${d} has mode ${mode.toString(8)}`);
      expect(e.message).toContain(`chmod go-w ${d}`);
      expectNoKey(e.message);
    });
  }

  it("refuses a key below a group-writable directory further up", () => {
    const top = join(dir, `top-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(top, "a", "b"), { recursive: true });
    chmodSync(top, 0o770);
    const keyFile = join(top, "a", "b", "key.pem");
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
    expect(thrownSignerError(load(keyFile)).message).toContain(`directory ${top} has mode 770`);
  });

  it("accepts a key in a sticky world-writable directory (/tmp style), as OpenSSH does", () => {
    const sticky = join(dir, `sticky-${Math.random().toString(36).slice(2)}`);
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const keyFile = join(sticky, "key.pem");
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
    expect(load(keyFile)().thumbprintSha256).toBe(cred.thumbprintSha256);
  });

  it("refuses a key in a directory owned by another user (file facts injected)", () => {
    const keyFile = keyCopy(0o600);
    const e = thrownSignerError(() =>
      assertSafeSecretFile(keyFile, "private key file", probeWith(dir, { uid: OTHER_UID })),
    );
    expect(e.message).toContain(`directory ${dir} is owned by uid ${OTHER_UID}`);
  });

  it("judges a symlinked key by the directories of its target", () => {
    const open = join(dir, `open-target-${Math.random().toString(36).slice(2)}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    const target = join(open, "key.pem");
    writeFileSync(target, cert.keyPem, { mode: 0o600 });
    const link = join(dir, `link-open-${Math.random().toString(36).slice(2)}.pem`);
    symlinkSync(target, link);
    expect(thrownSignerError(load(link)).message).toContain(`directory ${open} has mode 777`);
  });
});

describe("key material in argv, environment or settings", () => {
  const markers = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
  ];
  for (const marker of markers) {
    it(`refuses ${marker.slice(11, -5)} inside an --option=value argument, naming the position only`, () => {
      const secret = `${marker}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n`;
      const e = thrownSignerError(() => assertNoKeyMaterialInProcess(["node", "broker-signer", `--key=${secret}`], {}));
      expect(e).toMatchObject({ code: "ERR_KEY_UNSAFE", message: expect.stringContaining("argument 2") });
      expect(e.message).not.toContain("MIIEvQ");
    });
  }

  it("refuses a key in an unrelated environment variable, naming the variable only", () => {
    const e = thrownSignerError(() =>
      assertNoKeyMaterialInProcess(["node"], { HOME: "/root", CI_DEPLOY_KEY: cert.keyPem }),
    );
    expect(e).toMatchObject({ code: "ERR_KEY_UNSAFE", message: expect.stringContaining("CI_DEPLOY_KEY") });
    expectNoKey(e.message);
  });

  for (const variable of ["BROKER_SIGNER_CERT_FILE", "BROKER_SIGNER_CA_FILE", "BROKER_SIGNER_NEXT_KEY_FILE"]) {
    it(`refuses key material pasted into ${variable} without echoing it`, () => {
      const env: Record<string, string> = {
        BROKER_SIGNER_TENANT_ID: TENANT,
        BROKER_SIGNER_CLIENT_ID: CLIENT,
        BROKER_SIGNER_KEY_FILE: cert.keyFile,
        BROKER_SIGNER_CERT_FILE: cert.certFile,
        [variable]: cert.keyPem,
      };
      const e = thrownSignerError(() => loadConfig({}, env, dir));
      expect(e.code).toBe("ERR_KEY_UNSAFE");
      expectNoKey(e.message);
    });
  }
});

describe("the socket", () => {
  let server: SocketServer | undefined;
  afterAll(async () => server?.close());

  function service() {
    const env = {
      BROKER_SIGNER_TENANT_ID: TENANT,
      BROKER_SIGNER_CLIENT_ID: CLIENT,
      BROKER_SIGNER_KEY_FILE: cert.keyFile,
      BROKER_SIGNER_CERT_FILE: cert.certFile,
      BROKER_SIGNER_AUTHORITY_HOST: "https://127.0.0.1:1",
      BROKER_SIGNER_BROKER_SCOPE: "api://broker/.default",
    };
    return createSignerService(loadConfig({}, env, dir));
  }

  function request(
    socketPath: string,
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath, method, path, headers: body ? { "content-type": "application/json" } : {} },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  it("is created 0600 even under a umask of 000", async () => {
    const previous = process.umask(0);
    try {
      const runDir = join(dir, "run-umask");
      const s = await startSocketServer({
        socketPath: join(runDir, "signer.sock"),
        service: service(),
        log: createLogger(() => {}),
      });
      expect(lstatSync(s.socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(runDir).mode & 0o777).toBe(0o700);
      await s.close();
    } finally {
      process.umask(previous);
    }
  });

  for (const mode of [0o750, 0o701, 0o710]) {
    it(`refuses a socket directory of mode ${mode.toString(8)}`, async () => {
      const runDir = join(dir, `run-${mode.toString(8)}`);
      mkdirSync(runDir);
      chmodSync(runDir, mode);
      await expect(
        startSocketServer({ socketPath: join(runDir, "s.sock"), service: service(), log: createLogger(() => {}) }),
      ).rejects.toMatchObject({ code: "ERR_SOCKET" });
    });
  }

  it("refuses a socket directory that is a symlink (even to a 0700 directory)", async () => {
    const real = join(dir, "run-real");
    mkdirSync(real, { mode: 0o700 });
    const link = join(dir, "run-link");
    symlinkSync(real, link);
    await expect(
      startSocketServer({ socketPath: join(link, "s.sock"), service: service(), log: createLogger(() => {}) }),
    ).rejects.toMatchObject({ code: "ERR_SOCKET", message: expect.stringContaining("not a directory") });
  });

  it("refuses a socket path that is a symlink planted by someone else", async () => {
    const runDir = join(dir, "run-planted");
    mkdirSync(runDir, { mode: 0o700 });
    symlinkSync(join(dir, "elsewhere.sock"), join(runDir, "s.sock"));
    await expect(
      startSocketServer({ socketPath: join(runDir, "s.sock"), service: service(), log: createLogger(() => {}) }),
    ).rejects.toMatchObject({ code: "ERR_SOCKET" });
  });

  it("offers no endpoint that signs caller-chosen input, and leaks neither key nor assertion in any answer or log line", async () => {
    const lines: string[] = [];
    server = await startSocketServer({
      socketPath: join(dir, "run-api", "signer.sock"),
      service: service(),
      log: createLogger((l) => void lines.push(l), "debug"),
    });
    const answers = await Promise.all([
      request(server.socketPath, "POST", "/sign", JSON.stringify({ aud: "https://evil.example", sub: "admin" })),
      request(server.socketPath, "POST", "/assertion", JSON.stringify({ aud: ENDPOINT })),
      request(server.socketPath, "GET", "/assertion?aud=https://evil.example"),
      request(server.socketPath, "POST", "/token?scope=api://broker/.default", "{}"),
      request(server.socketPath, "GET", `/token?scope=${encodeURIComponent("https://evil.example/.default")}`),
      request(server.socketPath, "GET", "/health"),
    ]);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 405, 502, 200]);
    const all = answers.map((a) => a.text).join("\n") + lines.join("");
    expectNoKey(all);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/); // no JWT of any kind
  });
});

describe("client assertions: the fixed template only", () => {
  const newSigner = (now = () => Date.now()): AssertionSigner =>
    createAssertionSigner({ clientId: CLIENT, tokenEndpoint: ENDPOINT, credentials: [cred], now });

  const audiences = [
    ["a trailing slash", `${ENDPOINT}/`],
    ["an upper-case host", ENDPOINT.replace("login.microsoftonline.com", "LOGIN.microsoftonline.com")],
    ["an explicit :443", ENDPOINT.replace(".com/", ".com:443/")],
    ["the v1 endpoint", `https://login.microsoftonline.com/${TENANT}/oauth2/token`],
    ["plain http", ENDPOINT.replace("https:", "http:")],
    ["an empty fragment", `${ENDPOINT}#`],
    [
      "the tenant's domain instead of its id",
      "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    ],
    ["the common endpoint", "https://login.microsoftonline.com/common/oauth2/v2.0/token"],
    ["another cloud", ENDPOINT.replace(".com/", ".us/")],
    ["an empty string", ""],
  ] as const;
  for (const [name, aud] of audiences) {
    it(`refuses to sign for ${name} (ERR_CREDENTIAL), with no private-key operation`, async () => {
      const signer = newSigner();
      expect((await rejectedSignerError(signer.assertion(aud))).code).toBe("ERR_CREDENTIAL");
      expect(signer.signatures).toBe(0);
    });
  }

  it("refuses every audience but the pinned endpoint (fast-check, 300 runs)", async () => {
    const signer = newSigner();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.constantFrom(ENDPOINT.toUpperCase(), `${ENDPOINT} `, ` ${ENDPOINT}`, `${ENDPOINT}\u0000`),
        ),
        async (aud) => {
          fc.pre(aud !== ENDPOINT);
          await expect(signer.assertion(aud)).rejects.toThrow(SignerError);
        },
      ),
      { numRuns: 300 },
    );
    expect(signer.signatures).toBe(0);
  });

  it("always signs the same seven claims and three header members, pinned audience and 300 s life, at any time (fast-check)", async () => {
    const start = cred.notBefore.getTime() + 1000;
    const span = cred.notAfter.getTime() - start - 1000;
    const key = createPublicKey(cert.certPem);
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1, noNaN: true }), async (f) => {
        const t = start + Math.floor(f * span);
        const jwt = await newSigner(() => t).assertion();
        await compactVerify(jwt, key);
        expect(Object.keys(decodeProtectedHeader(jwt)).sort()).toEqual(["alg", "typ", "x5t#S256"]);
        const claims = decodeJwt(jwt);
        expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]);
        expect(claims).toMatchObject({
          aud: ENDPOINT,
          iss: CLIENT,
          sub: CLIENT,
          iat: Math.floor(t / 1000),
          nbf: Math.floor(t / 1000),
        });
        expect(claims.exp! - claims.iat!).toBe(ASSERTION_LIFETIME_S);
      }),
      { numRuns: 50 },
    );
    expect(ASSERTION_LIFETIME_S).toBeLessThanOrEqual(600);
  });

  it("hands out every assertion with its full 300 s ahead, whatever the clock does (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 20 }),
        async (steps) => {
          let t = Date.now();
          const signer = newSigner(() => t);
          for (const step of steps) {
            t += step;
            const exp = decodeJwt(await signer.assertion()).exp!;
            expect(exp).toBe(Math.floor(t / 1000) + ASSERTION_LIFETIME_S);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it("gives every assertion that goes over the wire a unique jti (2,000 sent, two signers)", async () => {
    const jtis = new Set<string>();
    for (const signer of [newSigner(), newSigner()]) {
      for (let i = 0; i < 1000; i++) {
        const jwt = await signer.assertion();
        jtis.add(decodeJwt(jwt).jti as string);
        signer.markSent(jwt);
      }
    }
    expect(jtis.size).toBe(2000);
  });

  it("never hands out one assertion twice, whether it was sent or not, concurrently or not", async () => {
    const signer = newSigner();
    const first = await signer.assertion();
    signer.markSent(`${first}x`);
    const rest = await Promise.all(Array.from({ length: 20 }, () => signer.assertion()));
    expect(new Set([first, ...rest]).size).toBe(21);
    expect(new Set([first, ...rest].map((a) => decodeJwt(a).jti)).size).toBe(21);
  });

  it("refuses to sign with a certificate outside its validity (expired or not yet valid)", async () => {
    for (const t of [cred.notAfter.getTime() + 1000, cred.notBefore.getTime() - 1000]) {
      const signer = newSigner(() => t);
      expect((await rejectedSignerError(signer.assertion())).code).toBe("ERR_CREDENTIAL");
      expect(signer.signatures).toBe(0);
    }
  });

  it("never holds the key as text: the credential exposes a KeyObject and public facts only", () => {
    expectNoKey(JSON.stringify(cred));
    expect(readFileSync(cert.keyFile, "utf8")).toMatch(/PRIVATE KEY/); // the file, and only the file, has it
  });
});
