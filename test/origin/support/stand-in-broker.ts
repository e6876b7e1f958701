import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

// A stand-in for the broker's two public documents (RFC 8414 metadata and the JWKS), served from
// memory through a fetch function, with switches a test flips: rotate keys, go down, answer junk.
// It runs in Node and in workerd alike (jose + Web Crypto only), so one adversarial table runs in
// both. Tokens from the real broker are tested separately (test/worker/origin-kit.test.ts, e2e).

export const ISSUER = "https://broker.example.com";
export const AUDIENCE = "https://inventory.example.com";
export const OTHER_AUDIENCE = "https://deploy.example.com";
export const CLIENT_ID = "33333333-3333-4333-8333-333333333333";

interface SigningKey {
  readonly kid: string;
  readonly alg: "ES256" | "EdDSA";
  readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  readonly publicJwk: JWK;
}

export type BrokerMode = "up" | "down" | "slow" | "hang" | "huge" | "redirect";

export interface StandInBroker {
  readonly issuer: string;
  /** Pass as the kit's `fetch` option. */
  readonly fetch: (input: string, init: RequestInit) => Promise<Response>;
  /** GETs of the JWKS served so far (not counting metadata). */
  jwksFetches(): number;
  metadataFetches(): number;
  mode: BrokerMode;
  /** Overrides the metadata document's members. */
  metadata: Record<string, unknown>;
  readonly keys: SigningKey[];
  /** Kids published in the JWKS (default: every key). */
  published: string[];
  /** The entries GET /revocations publishes; "down" makes only that endpoint fail. */
  revocations: Array<Record<string, unknown>>;
  revocationsMode: "up" | "down";
  revocationFetches(): number;
  /** Adds a fresh key (published from now on) and returns its kid. */
  addKey(alg?: "ES256" | "EdDSA"): Promise<string>;
  /** A broker-shaped token; claims merged over the defaults (undefined removes one). */
  token(options?: TokenOptions): Promise<string>;
  /** JWKS document as published, for hostile tokens (HS256 with the JWKS as secret). */
  jwksJson(): string;
}

export interface TokenOptions {
  readonly claims?: Record<string, unknown>;
  readonly header?: Record<string, unknown>;
  readonly kid?: string;
  /** Seconds since the epoch the token's times are relative to. */
  readonly now?: number;
}

export async function standInBroker(issuer = ISSUER): Promise<StandInBroker> {
  let jwks = 0;
  let meta = 0;
  let revocationReads = 0;
  const keys: SigningKey[] = [];

  async function makeKey(alg: "ES256" | "EdDSA"): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`;
    return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
  }

  const broker: StandInBroker = {
    issuer,
    mode: "up",
    metadata: {},
    keys,
    published: [],
    revocations: [],
    revocationsMode: "up",
    revocationFetches: () => revocationReads,
    jwksFetches: () => jwks,
    metadataFetches: () => meta,
    async addKey(alg = "ES256") {
      const key = await makeKey(alg);
      keys.push(key);
      broker.published.push(key.kid);
      return key.kid;
    },
    jwksJson: () =>
      JSON.stringify({ keys: keys.filter((k) => broker.published.includes(k.kid)).map((k) => k.publicJwk) }),
    async fetch(input, init) {
      const url = new URL(input);
      if (init.redirect !== "manual") throw new Error("the kit must not follow redirects");
      // The revocation list has its own switch, so the key-fetch modes below keep their meaning.
      if (url.pathname === "/revocations") {
        revocationReads++;
        if (broker.revocationsMode === "down") throw new TypeError("fetch failed: connection refused");
        return Response.json({ revocations: broker.revocations, generatedAt: Math.floor(Date.now() / 1000) });
      }
      const isJwks = url.pathname === "/.well-known/jwks.json";
      if (isJwks) jwks++;
      else meta++;
      if (broker.mode === "down") throw new TypeError("fetch failed: connection refused");
      if (broker.mode === "redirect")
        return new Response(null, { status: 302, headers: { location: "https://evil.example" } });
      if (broker.mode === "huge") return new Response("x".repeat(200 * 1024), { status: 200 });
      // Never settles, whatever the signal says: what a fetch tied to a cancelled request can do on Workers.
      if (broker.mode === "hang") return new Promise(() => {});
      if (broker.mode === "slow") {
        return new Promise((_, reject) => {
          init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        });
      }
      if (url.pathname === "/.well-known/oauth-authorization-server") {
        return Response.json({
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          token_endpoint: `${issuer}/token`,
          access_token_signing_alg_values_supported: ["ES256", "EdDSA"],
          ...broker.metadata,
        });
      }
      if (isJwks) return new Response(broker.jwksJson(), { headers: { "content-type": "application/jwk-set+json" } });
      return new Response("not found", { status: 404 });
    },
    async token(options = {}) {
      const key = keys.find((k) => k.kid === (options.kid ?? keys[0]?.kid));
      if (!key) throw new Error(`no key ${options.kid}`);
      const now = options.now ?? Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        sub: CLIENT_ID,
        client_id: CLIENT_ID,
        aud: AUDIENCE,
        scope: "inventory.read inventory.list",
        iat: now,
        nbf: now,
        exp: now + 300,
        jti: crypto.randomUUID(),
        tid: "6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c",
        roles: ["Inventory.Read"],
        ...options.claims,
      };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      return new SignJWT(payload as JWTPayload)
        .setProtectedHeader({ alg: key.alg, typ: "at+jwt", kid: key.kid, ...options.header })
        .sign(key.privateKey);
    },
  };
  await broker.addKey("ES256");
  return broker;
}

export function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A token with any header and payload and a signature of junk (or none): for refusals before crypto. */
export function unsignedToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = "c2ln",
): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${signature}`;
}
