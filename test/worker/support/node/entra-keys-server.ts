import { generateKeyPairSync, type JsonWebKey } from "node:crypto";
import { createServer, type Server } from "node:http";

// A stand-in for Entra ID's key endpoint ({authority}/{tenant}/discovery/v2.0/keys) for the
// Worker's tests, with the failure modes a real endpoint can show: down, slow, garbage, huge,
// redirecting. Tests steer it per tenant through /__control/{tenant} and read its hit counts,
// so every tenant id is its own isolated scenario.

export type KeysMode = "ok" | "down" | "slow" | "garbage" | "huge" | "redirect" | "not_json_object";

interface TenantState {
  mode: KeysMode;
  published: string[];
  hits: number;
}

export interface EntraSigningKey {
  readonly kid: string;
  readonly privateJwk: JsonWebKey;
  readonly publicJwk: JsonWebKey;
}

export interface KeysServer {
  readonly origin: string;
  readonly keys: readonly EntraSigningKey[];
  close(): Promise<void>;
}

const SLOW_MS = 8_000; // longer than the Worker's JWKS fetch timeout

function rsaKey(kid: string, bits: number): EntraSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return {
    kid,
    privateJwk: { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256" },
    publicJwk: { ...publicKey.export({ format: "jwk" }), kid, use: "sig" },
  };
}

export async function startKeysServer(): Promise<KeysServer> {
  // key-a is published by default; key-b is the "next" key a rotation publishes; weak is 1024-bit.
  const keys = [rsaKey("key-a", 2048), rsaKey("key-b", 2048), rsaKey("weak-1024", 1024)];
  const ecPublic = {
    kty: "EC",
    crv: "P-256",
    kid: "ec-key",
    use: "sig",
    x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  };
  const tenants = new Map<string, TenantState>();
  const state = (tid: string) => {
    let s = tenants.get(tid);
    if (!s) tenants.set(tid, (s = { mode: "ok", published: ["key-a"], hits: 0 }));
    return s;
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const control = /^\/__control\/([^/]+)$/.exec(url.pathname);
    if (control) {
      const s = state(control[1]!);
      if (req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const update = JSON.parse(body) as Partial<TenantState>;
        if (update.mode) s.mode = update.mode;
        if (update.published) s.published = update.published;
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(s));
      return;
    }
    const match = /^\/([^/]+)\/discovery\/v2\.0\/keys$/.exec(url.pathname);
    if (!match || req.method !== "GET") {
      res.statusCode = 404;
      res.end();
      return;
    }
    const s = state(match[1]!);
    s.hits++;
    const published = s.published
      .map((kid) => (kid === "ec-key" ? ecPublic : keys.find((k) => k.kid === kid)?.publicJwk))
      .filter(Boolean);
    switch (s.mode) {
      case "down":
        res.statusCode = 503;
        res.end("unavailable");
        return;
      case "slow":
        setTimeout(() => res.end(JSON.stringify({ keys: published })), SLOW_MS).unref();
        return;
      case "garbage":
        res.end("<html>not json");
        return;
      case "not_json_object":
        res.end(JSON.stringify([published]));
        return;
      case "huge":
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: published, padding: "x".repeat(200_000) }));
        return;
      case "redirect":
        res.statusCode = 302;
        res.setHeader("location", `/elsewhere/${match[1]}/keys`);
        res.end();
        return;
      case "ok":
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: published }));
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("keys server has no port");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    keys,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
