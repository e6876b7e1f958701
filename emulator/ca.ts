// The emulator's local certificate authority: created once per state directory (and reused, so a
// client that trusts it keeps trusting it across restarts), then used to issue the TLS server
// certificate for localhost / 127.0.0.1 / ::1 on every start.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
/** The CA lives long enough for a development machine; the server certificate only for one run-ish. */
const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 30;

export const CA_CERT_FILE = "ca-cert.pem";
const CA_KEY_FILE = "ca-key.pem";

export interface LocalCa {
  readonly certPem: string;
  readonly certPath: string;
  issueServerCertificate(hosts: { dns: string[]; ips: string[] }): Promise<{ certPem: string; keyPem: string }>;
}

/** Loads the CA from `stateDir` or creates it there (cert + key, key file mode 0600). */
export async function loadOrCreateCa(stateDir: string): Promise<LocalCa> {
  await mkdir(stateDir, { recursive: true });
  const certPath = join(stateDir, CA_CERT_FILE);
  const keyPath = join(stateDir, CA_KEY_FILE);
  let certPem: string;
  let caKey: webcrypto.CryptoKey;
  if (existsSync(certPath) && existsSync(keyPath)) {
    certPem = await readFile(certPath, "utf8");
    caKey = await webcrypto.subtle.importKey("pkcs8", pemBody(await readFile(keyPath, "utf8")), EC, false, ["sign"]);
  } else {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: "CN=Entra ID emulator local CA, O=identity-broker (test only)",
      notBefore: daysFromNow(-1),
      notAfter: daysFromNow(CA_VALIDITY_DAYS),
      signingAlgorithm: SIGN,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    certPem = cert.toString("pem") + "\n";
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    await writeFile(keyPath, toPem("PRIVATE KEY", pkcs8), { mode: 0o600 });
    await writeFile(certPath, certPem);
    caKey = keys.privateKey;
  }
  const caCert = new x509.X509Certificate(certPem);
  return {
    certPem,
    certPath,
    async issueServerCertificate(hosts) {
      const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: `CN=${hosts.dns[0] ?? "localhost"}`,
        issuer: caCert.subject,
        notBefore: daysFromNow(-1),
        notAfter: daysFromNow(SERVER_VALIDITY_DAYS),
        signingAlgorithm: SIGN,
        publicKey: keys.publicKey,
        signingKey: caKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([
            ...hosts.dns.map((value) => ({ type: "dns" as const, value })),
            ...hosts.ips.map((value) => ({ type: "ip" as const, value })),
          ]),
          await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
        ],
      });
      const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
      return { certPem: cert.toString("pem"), keyPem: toPem("PRIVATE KEY", pkcs8) };
    },
  };
}

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

function pemBody(pem: string): Uint8Array {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

export function randomSerial(): string {
  // Positive 16-byte serial (top bit clear), as RFC 5280 §4.1.2.2 requires.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}
