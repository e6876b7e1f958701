// Self-signed RSA certificates, the kind an app registration's "Certificates & secrets" holds.
import { createHash, webcrypto } from "node:crypto";
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { daysFromNow, randomSerial, toPem } from "./ca.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

export interface TestCertificate {
  /** PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----"), as msal-node's clientCertificate.privateKey wants. */
  keyPem: string;
  certPem: string;
  /** Hex SHA-1 of the DER certificate (msal `thumbprint`; Entra's `x5t` is its base64url). */
  thumbprintSha1Hex: string;
  /** Hex SHA-256 of the DER certificate (msal `thumbprintSha256`). */
  thumbprintSha256Hex: string;
  /** base64url SHA-256 of the DER certificate: the `x5t#S256` header value. */
  thumbprintSha256Base64url: string;
  /** base64url SHA-1 of the DER certificate: the `x5t` header value. */
  thumbprintSha1Base64url: string;
  /** base64 DER, for an `x5c` header. */
  derBase64: string;
}

/** Creates a self-signed RSA-2048 certificate, e.g. `createTestCertificate("CN=orders-service")`. */
export async function createTestCertificate(
  subject: string,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<TestCertificate> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subject.includes("=") ? subject : `CN=${subject}`,
    notBefore: validity.notBefore ?? daysFromNow(-1),
    notAfter: validity.notAfter ?? daysFromNow(365),
    signingAlgorithm: RSA,
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  const sha1 = createHash("sha1").update(der).digest();
  const sha256 = createHash("sha256").update(der).digest();
  return {
    keyPem: toPem("PRIVATE KEY", pkcs8),
    certPem: cert.toString("pem") + "\n",
    thumbprintSha1Hex: sha1.toString("hex").toUpperCase(),
    thumbprintSha256Hex: sha256.toString("hex").toUpperCase(),
    thumbprintSha256Base64url: sha256.toString("base64url"),
    thumbprintSha1Base64url: sha1.toString("base64url"),
    derBase64: der.toString("base64"),
  };
}
