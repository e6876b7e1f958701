/**
 * The signer's DPoP key (RFC 9449): one per identity. The daemon generates it on first use as a
 * non-extractable Web Crypto key that never leaves its memory; the CLI, a new process each time, keeps
 * it in a JWK file of mode 0600 (created on first use, never overwritten) so that a token bound by one
 * invocation can be used with proofs from the next. Proofs are made with jose; the key signs nothing
 * else (a fixed dpop+jwt template, never a general signing oracle).
 */
import { randomUUID } from "node:crypto";
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from "jose";
import type { SignerConfig } from "./config.ts";
import { assertSafeSecretFile } from "./credential.ts";
import { SignerError } from "./errors.ts";

export type DpopKey = {
  /** RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  readonly jkt: string;
  /** A fresh proof for one request (`htu` without query and fragment, §4.2); `ath` when a token is given. */
  proof(method: string, url: string, accessToken?: string): Promise<string>;
};

export type DpopProof = { readonly proof: string; readonly jkt: string };

/**
 * The identity's key when `dpop` is configured (undefined otherwise), made or loaded on first use
 * and then kept: one key per identity for the life of the process.
 */
export function dpopKeySource(
  config: SignerConfig,
  where: "memory" | "file",
  now: () => number,
): (() => Promise<DpopKey>) | undefined {
  if (!config.dpop) return undefined;
  let key: Promise<DpopKey> | undefined;
  return () => {
    if (!key) {
      if (where === "file" && config.dpopKeyFile === undefined)
        throw new SignerError(
          "ERR_CONFIG",
          'dpopKeyFile: not set; the CLI keeps its DPoP key in a file (mode 0600, created on first use): set "dpopKeyFile" or BROKER_SIGNER_DPOP_KEY_FILE',
        );
      key = where === "file" ? loadOrCreateDpopKeyFile(config.dpopKeyFile!, now) : createEphemeralDpopKey(now);
      // A failed load is reported to this caller; the next one tries again.
      key.catch(() => (key = undefined));
    }
    return key;
  };
}

/** ES256: every DPoP implementation accepts it (the broker lists ES256 and EdDSA). */
const ALG = "ES256";
/** A P-256 private JWK is ~250 bytes; a cap stops a wrong path (a log, a device) being slurped. */
const MAX_KEY_FILE_BYTES = 4096;
/** RFC 7230 method token; the proof's htm must be the request's method exactly. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/** The daemon's key: generated here, non-extractable, gone when the process ends. */
export async function createEphemeralDpopKey(now: () => number = Date.now): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: false });
  return dpopKey(privateKey, await exportJWK(publicKey), now);
}

/** The CLI's key: read from `path`, or created there (mode 0600, exclusive create) on first use. */
export async function loadOrCreateDpopKeyFile(path: string, now: () => number = Date.now): Promise<DpopKey> {
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  if (!exists) {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), alg: ALG };
    let fd: number;
    try {
      // "wx": never overwrite (a concurrent first use loses the race and reads the winner's key below).
      fd = openSync(path, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new SignerError(
          "ERR_CREDENTIAL",
          `DPoP key file ${path}: cannot be created (${(e as NodeJS.ErrnoException).code ?? "error"}); its directory must exist and be writable`,
        );
      return loadOrCreateDpopKeyFile(path, now);
    }
    try {
      writeSync(fd, `${JSON.stringify(jwk)}\n`);
    } finally {
      closeSync(fd);
    }
    return dpopKey(privateKey, await exportJWK(publicKey), now);
  }
  assertSafeSecretFile(path, "DPoP key file");
  let jwk: JWK;
  try {
    if (statSync(path).size > MAX_KEY_FILE_BYTES) throw new Error("too large");
    jwk = JSON.parse(readFileSync(path, "utf8")) as JWK;
  } catch {
    throw new SignerError(
      "ERR_CREDENTIAL",
      `DPoP key file ${path}: not a JSON private key; delete it to make a new one`,
    );
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string")
    throw new SignerError(
      "ERR_CREDENTIAL",
      `DPoP key file ${path}: not a P-256 private JWK; delete it to make a new one`,
    );
  const privateKey = (await importJWK({ ...jwk, ext: false }, ALG)) as CryptoKey;
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  return dpopKey(privateKey, publicJwk, now);
}

async function dpopKey(privateKey: CryptoKey, publicJwk: JWK, now: () => number): Promise<DpopKey> {
  // Only the public members go into proofs (a private member would make the broker refuse them).
  const jwk: JWK = { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y };
  return {
    jkt: await calculateJwkThumbprint(jwk, "sha256"),
    async proof(method, url, accessToken) {
      if (!METHOD.test(method)) throw new SignerError("ERR_REQUEST", `"${method.slice(0, 40)}" is not an HTTP method`);
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw new SignerError("ERR_REQUEST", `"${url.slice(0, 200)}" is not a URL`);
      }
      if (target.protocol !== "https:" && target.protocol !== "http:")
        throw new SignerError("ERR_REQUEST", `"${url.slice(0, 200)}" is not an http(s) URL`);
      const claims: Record<string, unknown> = {
        jti: randomUUID(),
        htm: method,
        htu: `${target.origin}${target.pathname}`,
        iat: Math.floor(now() / 1000),
      };
      if (accessToken !== undefined) claims.ath = await accessTokenHash(accessToken);
      return new SignJWT(claims).setProtectedHeader({ alg: ALG, typ: "dpop+jwt", jwk }).sign(privateKey);
    },
  };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token. */
async function accessTokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/**
 * The daemon's bound tokens, by origin, so `POST /dpop {method, url}` can make a proof (with `ath`) for
 * the token a caller got from `/exchange` for that origin. Only the newest per origin is kept: a caller
 * holding an older one passes it explicitly.
 */
export type BoundTokens = {
  remember(resource: string, accessToken: string): void;
  forOrigin(origin: string): string | undefined;
};

/** One entry per downstream origin a service calls: a few dozen; the cap defends memory, not a use case. */
const MAX_BOUND_ORIGINS = 1000;

export function createBoundTokens(): BoundTokens {
  const byOrigin = new Map<string, string>();
  return {
    remember(resource, accessToken) {
      byOrigin.delete(resource);
      byOrigin.set(resource, accessToken);
      if (byOrigin.size > MAX_BOUND_ORIGINS) byOrigin.delete(byOrigin.keys().next().value as string);
    },
    forOrigin: (origin) => byOrigin.get(origin),
  };
}

/** The socket's `POST /dpop` body: `{method, url, access_token?}`. */
export function readDpopRequest(body: string): { method: string; url: string; accessToken?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SignerError("ERR_REQUEST", "POST /dpop body is not JSON");
  }
  const {
    method,
    url,
    access_token: accessToken,
  } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
    method?: unknown;
    url?: unknown;
    access_token?: unknown;
  };
  if (typeof method !== "string" || typeof url !== "string")
    throw new SignerError("ERR_REQUEST", 'POST /dpop needs strings "method" and "url" (the request the proof is for)');
  if (accessToken !== undefined && typeof accessToken !== "string")
    throw new SignerError("ERR_REQUEST", '"access_token" must be a string (the bound token the request carries)');
  return { method, url, ...(accessToken !== undefined && { accessToken }) };
}
