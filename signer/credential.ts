/**
 * Loads certificate credentials (PEM key + certificate, or PFX), refuses unsafe key files, computes
 * thumbprints, and picks the certificate to sign with during rotation. The private key only ever
 * leaves this module as a KeyObject: never as text in an error, a log line or a response.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import forge from "node-forge";
import type { CertificateSource } from "./config.ts";
import { SignerError } from "./errors.ts";

export type CertificateCredential = {
  readonly privateKey: KeyObject;
  /** The certificate (PEM): public, what is uploaded to the app registration. */
  readonly certificatePem: string;
  /** Hex, upper case: what the Azure portal shows for the certificate. */
  readonly thumbprintSha256: string;
  /** Hex, upper case: legacy, still shown by the portal and used by ADFS. */
  readonly thumbprintSha1: string;
  /** base64url SHA-256 of the DER certificate: the assertion header's `x5t#S256`. */
  readonly x5tS256: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Where it came from, for messages (a path, never contents). */
  readonly source: string;
};

/** Certificates and keys are a few KiB; a cap stops a wrong path (a log, a device) being read whole. */
const MAX_CREDENTIAL_FILE_BYTES = 256 * 1024;

/** PS256 needs RSA; below 2048 bits Entra ID refuses the key anyway (and it is too weak). */
const MIN_RSA_BITS = 2048;

/** Group or world permission bits: anyone but the owner being able to read (or write) the key is unsafe. */
const UNSAFE_MODE_BITS = 0o077;

/**
 * Shapes of private keys pasted where a path was expected: PEM of any kind, the base64 body of a
 * PKCS#8 key without its PEM armour (RSA, EC and Ed25519 prefixes: the DER header is fixed), and a
 * private JWK (a "d" member next to "kty").
 */
const KEY_MARKERS = [
  /PRIVATE KEY-----/,
  /MII[A-Za-z0-9+/]{3}IBADANBgkqhkiG9w0BAQEFAAS/, // PKCS#8 RSA
  /MI[A-Za-z0-9+/]{2}AgEAMBMGByqGSM49AgEG/, // PKCS#8 EC
  /MC4CAQAwBQYDK2Vw/, // PKCS#8 Ed25519
  /"kty"[\s\S]*"d"\s*:\s*"[A-Za-z0-9_-]{16,}"|"d"\s*:\s*"[A-Za-z0-9_-]{16,}"[\s\S]*"kty"/, // private JWK
];
const looksLikePrivateKey = (value: string) => KEY_MARKERS.some((marker) => marker.test(value));

/**
 * Refuse to run when a private key was handed over through argv or the environment: both are visible
 * to other processes (/proc/PID/cmdline, /proc/PID/environ, `ps e`) and end up in shell history and CI logs.
 * The error names the variable or argument position, never the value.
 */
export function assertNoKeyMaterialInProcess(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  argv.forEach((arg, i) => {
    if (looksLikePrivateKey(arg)) {
      throw new SignerError(
        "ERR_KEY_UNSAFE",
        `command-line argument ${i} contains a private key; put the key in a file (mode 0600) and pass its path`,
      );
    }
  });
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && looksLikePrivateKey(value)) {
      throw new SignerError(
        "ERR_KEY_UNSAFE",
        `environment variable ${name} contains a private key; put the key in a file (mode 0600), pass its path, and unset ${name}`,
      );
    }
  }
}

/** What the safety checks read about a path: injectable so tests can present another user's file. */
export type FileProbe = {
  stat(path: string): Pick<Stats, "mode" | "uid" | "isFile" | "isDirectory">;
  realpath(path: string): string;
  /** This process's uid, or undefined where there are none (Windows). */
  uid: number | undefined;
};

const nodeProbe: FileProbe = {
  stat: (p) => statSync(p),
  realpath: (p) => realpathSync(p),
  uid: process.getuid?.(),
};

/** Group or world write on a directory: anyone with it can replace the files inside. */
const UNSAFE_DIR_WRITE_BITS = 0o022;
/** The sticky bit (/tmp): only a file's owner may rename or delete it, so others cannot swap it. */
const STICKY_BIT = 0o1000;

/**
 * A secret file must be a regular file that only its owner (this user, or root) can read, in
 * directories that only this user or root can write, all the way up: anyone who can write a
 * directory on the path can swap the file (or a directory) for their own. Sticky directories such
 * as /tmp are allowed, as OpenSSH allows them for its key files.
 */
export function assertSafeSecretFile(path: string, what: string, probe: FileProbe = nodeProbe): void {
  let st;
  let real: string;
  try {
    st = probe.stat(path);
    real = probe.realpath(path);
  } catch (e) {
    throw new SignerError(
      "ERR_CREDENTIAL",
      `${what} ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  if (!st.isFile()) throw new SignerError("ERR_KEY_UNSAFE", `${what} ${path}: is not a regular file`);
  if ((st.mode & UNSAFE_MODE_BITS) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
    throw new SignerError(
      "ERR_KEY_UNSAFE",
      `${what} ${path}: mode ${mode} lets other users read it; run \`chmod 600 ${path}\``,
    );
  }
  const uid = probe.uid;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw new SignerError(
      "ERR_KEY_UNSAFE",
      `${what} ${path}: owned by uid ${st.uid}, not by the signer's user (uid ${uid}); \`chown\` it to the signer's user`,
    );
  }
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const d = probe.stat(dir);
    if (uid !== undefined && d.uid !== uid && d.uid !== 0) {
      throw new SignerError(
        "ERR_KEY_UNSAFE",
        `${what} ${path}: directory ${dir} is owned by uid ${d.uid}, who could replace the key; keep keys in a directory owned by the signer's user or root`,
      );
    }
    if ((d.mode & UNSAFE_DIR_WRITE_BITS) !== 0 && (d.mode & STICKY_BIT) === 0) {
      const mode = (d.mode & 0o777).toString(8).padStart(3, "0");
      throw new SignerError(
        "ERR_KEY_UNSAFE",
        `${what} ${path}: directory ${dir} has mode ${mode}, so other users could replace the key; run \`chmod go-w ${dir}\` or move the key`,
      );
    }
    if (dirname(dir) === dir) break;
  }
}

function readBounded(path: string, what: string): Buffer {
  let data: Buffer;
  try {
    if (statSync(path).size > MAX_CREDENTIAL_FILE_BYTES)
      throw new SignerError(
        "ERR_CREDENTIAL",
        `${what} ${path}: larger than ${MAX_CREDENTIAL_FILE_BYTES} bytes; is it the right file?`,
      );
    data = readFileSync(path);
  } catch (e) {
    if (e instanceof SignerError) throw e;
    throw new SignerError(
      "ERR_CREDENTIAL",
      `${what} ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  return data;
}

function parsePrivateKey(pem: Buffer | string, source: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch {
    // The parser's message can quote the input: say what is wrong without it.
    throw new SignerError("ERR_CREDENTIAL", `${source}: not an unencrypted PEM private key (PKCS#8 or PKCS#1)`);
  }
}

function parseCertificate(pem: Buffer | string, source: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new SignerError("ERR_CREDENTIAL", `${source}: not a PEM X.509 certificate`);
  }
}

function loadPfx(pfxFile: string, passphraseFile: string | undefined): { key: KeyObject; cert: X509Certificate } {
  assertSafeSecretFile(pfxFile, "PFX file");
  let passphrase = "";
  if (passphraseFile !== undefined) {
    assertSafeSecretFile(passphraseFile, "PFX passphrase file");
    // A trailing newline is an editor artefact, never part of the passphrase.
    passphrase = readBounded(passphraseFile, "PFX passphrase file")
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  const der = readBounded(pfxFile, "PFX file");
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(
      forge.asn1.fromDer(forge.util.createBuffer(der.toString("binary"))),
      true,
      passphrase,
    );
  } catch (e) {
    const wrongPassword = e instanceof Error && /MAC could not be verified|Invalid password/i.test(e.message);
    throw new SignerError(
      "ERR_CREDENTIAL",
      wrongPassword
        ? `PFX file ${pfxFile}: wrong passphrase (check the passphrase file)`
        : `PFX file ${pfxFile}: cannot be parsed as PKCS#12`,
    );
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag!] ?? [];
  if (keyBags.length !== 1 || !keyBags[0]?.key)
    throw new SignerError("ERR_CREDENTIAL", `PFX file ${pfxFile}: must hold exactly one RSA private key`);
  const key = parsePrivateKey(forge.pki.privateKeyToPem(keyBags[0].key), `PFX file ${pfxFile}`);
  // The leaf is the certificate whose public key matches the private key; others are the chain.
  for (const bag of certBags) {
    if (!bag.cert) continue;
    const cert = parseCertificate(forge.pki.certificateToPem(bag.cert), `PFX file ${pfxFile}`);
    if (cert.checkPrivateKey(key)) return { key, cert };
  }
  throw new SignerError("ERR_CREDENTIAL", `PFX file ${pfxFile}: holds no certificate for its private key`);
}

function describe(source: CertificateSource): string {
  return source.kind === "pem" ? `key ${source.keyFile} + certificate ${source.certFile}` : `PFX ${source.pfxFile}`;
}

export function loadCertificateCredential(source: CertificateSource): CertificateCredential {
  let key: KeyObject;
  let cert: X509Certificate;
  if (source.kind === "pem") {
    assertSafeSecretFile(source.keyFile, "private key file");
    key = parsePrivateKey(readBounded(source.keyFile, "private key file"), `private key file ${source.keyFile}`);
    cert = parseCertificate(readBounded(source.certFile, "certificate file"), `certificate file ${source.certFile}`);
    if (!cert.checkPrivateKey(key)) {
      throw new SignerError(
        "ERR_CREDENTIAL",
        `certificate file ${source.certFile} does not belong to private key file ${source.keyFile}`,
      );
    }
  } else {
    ({ key, cert } = loadPfx(source.pfxFile, source.passphraseFile));
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new SignerError(
      "ERR_CREDENTIAL",
      `${describe(source)}: the key is ${key.asymmetricKeyType ?? "unknown"}; PS256 client assertions need an RSA key`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS)
    throw new SignerError(
      "ERR_CREDENTIAL",
      `${describe(source)}: RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are required`,
    );
  return Object.freeze({
    privateKey: key,
    certificatePem: cert.toString(),
    thumbprintSha256: createHash("sha256").update(cert.raw).digest("hex").toUpperCase(),
    thumbprintSha1: createHash("sha1").update(cert.raw).digest("hex").toUpperCase(),
    x5tS256: createHash("sha256").update(cert.raw).digest("base64url"),
    subject: cert.subject,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    source: describe(source),
  });
}

/**
 * During rotation two certificates are configured: sign with the newer one (latest notBefore) among
 * those valid now, so a freshly uploaded certificate takes over and the old one can be removed later.
 */
export function selectSigningCredential(
  credentials: readonly CertificateCredential[],
  now: Date,
): CertificateCredential {
  const valid = credentials.filter(
    (c) => c.notBefore.getTime() <= now.getTime() && now.getTime() < c.notAfter.getTime(),
  );
  if (valid.length === 0) {
    const list = credentials
      .map((c) => `${c.thumbprintSha256} (valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()})`)
      .join(", ");
    throw new SignerError(
      "ERR_CREDENTIAL",
      `no configured certificate is valid now: ${list}; create a new one with \`broker-signer cert create\``,
    );
  }
  return valid.reduce((newest, c) => (c.notBefore.getTime() >= newest.notBefore.getTime() ? c : newest));
}
