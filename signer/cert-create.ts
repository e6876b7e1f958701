/**
 * `cert create`: a new RSA key and a self-signed certificate for an app registration's
 * "Certificates & secrets". Entra ID only needs the public certificate; the key stays on this host,
 * written 0600 and never over an existing file.
 */
import { createHash, webcrypto } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { SignerError } from "./errors.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Entra ID needs at least 2048-bit RSA; 3072 is NIST's level for use beyond 2030. */
export const ALLOWED_KEY_SIZES = [2048, 3072, 4096] as const;
export const DEFAULT_KEY_SIZE = 2048;
/** Short-lived certificates make rotation routine; Entra accepts any validity up to the app's policy. */
export const DEFAULT_VALIDITY_DAYS = 180;
/** Beyond two years a forgotten certificate outlives anyone who remembers where its key is. */
export const MAX_VALIDITY_DAYS = 730;
/** Backdate notBefore slightly so a host with a lagging clock accepts it at once. */
const BACKDATE_MS = 5 * 60_000;

export type CreatedCertificate = {
  certificatePem: string;
  thumbprintSha256: string;
  thumbprintSha1: string;
  notBefore: Date;
  notAfter: Date;
};

export type CertCreateOptions = {
  keyFile: string;
  certFile: string;
  subject: string;
  validityDays?: number;
  keySize?: number;
  now?: Date;
};

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** O_EXCL: never overwrite (a live key, or a file an attacker planted as a symlink). Mode set at creation. */
function writeNew(path: string, data: string, mode: number, what: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SignerError(
      code === "EEXIST" ? "ERR_USAGE" : "ERR_CREDENTIAL",
      code === "EEXIST"
        ? `${what} ${path} already exists; choose another name or move it away first`
        : `cannot create ${what} ${path} (${code})`,
    );
  }
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

export async function createCertificate(options: CertCreateOptions): Promise<CreatedCertificate> {
  const keySize = options.keySize ?? DEFAULT_KEY_SIZE;
  if (!(ALLOWED_KEY_SIZES as readonly number[]).includes(keySize))
    throw new SignerError("ERR_USAGE", `--key-size must be one of ${ALLOWED_KEY_SIZES.join(", ")}`);
  const days = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS)
    throw new SignerError("ERR_USAGE", `--days must be a whole number from 1 to ${MAX_VALIDITY_DAYS}`);
  let name: x509.Name;
  try {
    name = new x509.Name(options.subject.includes("=") ? options.subject : `CN=${options.subject}`);
  } catch {
    throw new SignerError(
      "ERR_USAGE",
      `--subject "${options.subject}" is not a distinguished name; use e.g. CN=orders-service`,
    );
  }
  const now = options.now ?? new Date();
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: keySize,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    name,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"],
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.BasicConstraintsExtension(false, undefined, true),
    ],
  });
  const der = Buffer.from(cert.rawData);
  // Key first: if the certificate cannot be written, there is no certificate without a key.
  writeNew(
    options.keyFile,
    toPem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)),
    0o600,
    "key file",
  );
  const certificatePem = cert.toString("pem") + "\n";
  writeNew(options.certFile, certificatePem, 0o644, "certificate file");
  return {
    certificatePem,
    thumbprintSha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
    thumbprintSha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    notBefore: new Date(cert.notBefore),
    notAfter: new Date(cert.notAfter),
  };
}
