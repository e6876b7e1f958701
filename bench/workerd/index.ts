import { Hono } from "hono";
import { base64url } from "jose";
import { jwk } from "hono/jwk";
import { sign as honoSign } from "hono/jwt";
import type { SignatureAlgorithm } from "hono/utils/jwt/jwa";
import broker from "../../worker/index.ts";
import { type AuditEvent, audit } from "../../worker/audit.ts";
import { readExchangeRequest } from "../../worker/exchange-request.ts";
import { type Broker, createBroker } from "../../worker/broker.ts";
import { loadConfig, type Config, type Env } from "../../worker/config.ts";
import { verifyEntraToken } from "../../worker/entra-token.ts";
import { createDpopReplayCache } from "../../worker/dpop.ts";
import { createJwksCache, type JwksCache } from "../../worker/jwks.ts";
import { createVerifiedCallers, type VerifiedCallers } from "../../worker/verified-callers.ts";
import { tokenExchange } from "../../worker/http/token.ts";
import { decide, parsePolicy, type Policy } from "../../worker/policy.ts";
import { CLIENT_APP_ID, CLIENT_ROLE, policyOf, SCOPE } from "../policy-shape.ts";

// Bench-only Worker: times the broker's pipeline and its alternatives inside workerd, in the same
// isolate and run as the crypto floor they are compared with. Never deployed: the broker is
// imported as a module, exactly as worker/index.ts exports it.
//
// Timing: deployed Workers freeze Date.now()/performance.now() between I/O (a Spectre
// mitigation), but local workerd lets them advance, so a batch is timed inside the isolate;
// the harness also times each request from Node as a cross-check.

interface BenchEnv extends Env {
  BENCH_RESOURCE: string;
}

interface State {
  readonly tokens: readonly string[];
  readonly config: Config;
  readonly jwks: JwksCache;
  readonly jwksDoc: { keys: Array<Record<string, unknown>> };
  readonly rsaKeys: Map<string, CryptoKey>;
  readonly brokerKey: CryptoKey;
  readonly brokerJwk: JsonWebKey;
  readonly hono: Hono;
  readonly policies: Record<string, Policy>;
  readonly broker: Broker;
}

let state: State | undefined;

const encoder = new TextEncoder();

type Case = (i: number, s: State, env: BenchEnv) => Promise<unknown> | unknown;

/** A granted exchange's audit record, as the broker writes it (a reuse: no token hash). */
const REPRESENTATIVE_AUDIT_EVENT: AuditEvent = {
  event: "token_exchange",
  outcome: "granted",
  reason: "granted",
  tenant: "00000000-0000-4000-8000-000000000000",
  client_id: CLIENT_APP_ID,
  token_version: "2.0",
  resource: "https://orders.bench.example",
  subject_token_remaining_s: 3000,
  roles: [CLIENT_ROLE],
  rule: "rule-1",
  scope: SCOPE,
  jti: "0f0e0d0c-0b0a-4908-8706-050403020100",
  exp: 1795932000,
  token_reused: true,
};

const CASES: Record<string, Case> = {
  // Where a repeated exchange's CPU goes: its stages one at a time, on the same request and token.
  async "stage-parse"(_i, s, env) {
    const r = await readExchangeRequest(req(s.tokens[0]!, env));
    if (!r.ok) throw new Error(`stage-parse: ${r.error.reason}`);
  },
  async "stage-verify-cached"(_i, s) {
    const r = await s.broker.callers.verify(s.tokens[0]!, nowSeconds());
    if (!r.ok) throw new Error(`stage-verify-cached: ${r.error.reason}`);
  },
  "stage-audit"(_i, _s) {
    audit(REPRESENTATIVE_AUDIT_EVENT, nowSeconds());
  },
  async "stage-response"(_i, s) {
    const r = Response.json(
      { access_token: s.tokens[0], token_type: "Bearer", expires_in: 300, scope: SCOPE },
      { headers: { "cache-control": "no-store", pragma: "no-cache" } },
    );
    await r.arrayBuffer();
  },

  // The floor: the two operations no implementation of the contract can avoid for a fresh token.
  async floor(i, s) {
    const token = s.tokens[i % s.tokens.length]!;
    const dot = token.lastIndexOf(".");
    const kid = JSON.parse(atob(token.slice(0, token.indexOf(".")).replaceAll("-", "+").replaceAll("_", "/")))
      .kid as string;
    const ok = await crypto.subtle.verify(
      "RSASSA-PKCS1-v1_5",
      s.rsaKeys.get(kid)!,
      base64url.decode(token.slice(dot + 1)),
      encoder.encode(token.slice(0, dot)),
    );
    if (!ok) throw new Error("floor: signature did not verify");
    // A minted token's signing input is ~400 bytes; the exact size does not change the cost.
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, s.brokerKey, encoder.encode(token.slice(0, 400)));
  },
  async verify(i, s) {
    const r = await verifyEntraToken(s.tokens[i % s.tokens.length]!, s.config.entra, s.jwks, nowSeconds());
    if (!r.ok) throw new Error(`verify: ${r.error.reason}`);
  },
  "exchange-fresh": (i, s, env) => exchange(s.tokens[i % s.tokens.length]!, env),
  "exchange-repeated": (_i, s, env) => exchange(s.tokens[0]!, env),
  // jose vs the hand-written JOSE it replaced: the POST /token handler called directly (no Hono
  // routing or config middleware), each with its own caches, on tokens neither has seen.
  // The audit line is the same in both and costs most of an exchange with a noisy share (console.log),
  // so it is not written here: what differs is the JOSE work.
  "exchange-fresh-jose": (i, s, env) =>
    unlogged(async () => {
      const r = await tokenExchange(req(s.tokens[i % s.tokens.length]!, env), s.broker, nowSeconds());
      if (r.status !== 200) throw new Error(`exchange-fresh-jose: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }),
  async "hono-jwk"(i, s) {
    const r = await s.hono.fetch(
      new Request("http://bench/verify", { headers: { authorization: `Bearer ${s.tokens[i % s.tokens.length]!}` } }),
    );
    if (r.status !== 200) throw new Error(`hono-jwk: ${r.status}`);
    await r.arrayBuffer();
  },
  async "hono-jwk+sign"(i, s) {
    const r = await s.hono.fetch(
      new Request("http://bench/exchange", { headers: { authorization: `Bearer ${s.tokens[i % s.tokens.length]!}` } }),
    );
    if (r.status !== 200) throw new Error(`hono-jwk+sign: ${r.status}`);
    await r.arrayBuffer();
  },
  // The same exchange with console.log a no-op: what the audit line's write costs in workerd.
  async "exchange-fresh-unlogged"(i, s, env) {
    const log = console.log;
    console.log = () => {};
    try {
      await exchange(s.tokens[i % s.tokens.length]!, env);
    } finally {
      console.log = log;
    }
  },
  // The framework baseline: the same Worker's trivial route, called the same way.
  async trivial(_i, _s, env) {
    const r = await broker.fetch(new Request("http://broker/healthz"), env);
    await r.arrayBuffer();
  },
  "decide-10": (_i, s) => decideOnce(s.policies["10"]!),
  "decide-10000": (_i, s) => decideOnce(s.policies["10000"]!),
};

async function unlogged(run: () => Promise<void>): Promise<void> {
  const log = console.log;
  console.log = () => {};
  try {
    await run();
  } finally {
    console.log = log;
  }
}

function body(token: string, env: BenchEnv): string {
  return new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    subject_token: token,
    resource: env.BENCH_RESOURCE,
    scope: SCOPE,
  }).toString();
}

function req(token: string, env: BenchEnv): Request {
  const form = encoder.encode(body(token, env));
  // As it arrives over HTTP: with its Content-Length.
  return new Request("http://broker/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(form.byteLength) },
    body: form,
  });
}

async function exchange(token: string, env: BenchEnv): Promise<void> {
  const response = await broker.fetch(req(token, env), env);
  if (response.status !== 200) throw new Error(`exchange: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

const BENCH_RESOURCE_FOR_POLICY = "https://orders.bench.example";
const CALLER = { tenantId: "00000000-0000-4000-8000-000000000000", appId: CLIENT_APP_ID, roles: [CLIENT_ROLE] };

function decideOnce(policy: Policy): void {
  const r = decide(CALLER, { resource: BENCH_RESOURCE_FOR_POLICY, scopes: [SCOPE] }, policy);
  if (!r.ok) throw new Error(`decide: ${r.error.reason}`);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

async function setup(env: BenchEnv, tokens: string[]): Promise<State> {
  const loaded = await loadConfig(env);
  if (!loaded.ok) throw new Error(`bench config: ${loaded.error.join("; ")}`);
  const config = loaded.value;
  const tid = [...config.entra.tenants][0]!;
  const response = await fetch(`${config.entra.jwksOrigin}/${tid}/discovery/v2.0/keys`);
  const jwksDoc = (await response.json()) as State["jwksDoc"];
  const jwksText = JSON.stringify(jwksDoc);
  // Our verifier's key cache, fed from memory: the timed loop never waits on a network fetch.
  const jwks = createJwksCache(async () => new Response(jwksText, { headers: { "content-type": "application/json" } }));
  const rsaKeys = new Map<string, CryptoKey>();
  for (const k of jwksDoc.keys) {
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "RSA", n: k.n as string, e: k.e as string },
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["verify"],
    );
    rsaKeys.set(k.kid as string, key);
  }
  const brokerJwk = (JSON.parse(env.BROKER_SIGNING_KEYS as string) as { keys: JsonWebKey[] }).keys[0]!;
  const { kid: _kid, ...privateJwk } = brokerJwk as JsonWebKey & { kid?: string };
  const brokerKey = await crypto.subtle.importKey("jwk", privateJwk, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);

  // What a Hono user would write: the jwk middleware with the same public keys, then (for the
  // exchange-shaped variant) hono/jwt's sign with the broker's key. It checks signature,
  // alg, kid, exp/nbf/iat; none of issuer, tenant, audience, app-only, client auth, policy.
  const hono = new Hono();
  const keys = jwksDoc.keys.map((k) => ({
    kty: "RSA",
    n: k.n as string,
    e: k.e as string,
    kid: k.kid as string,
    alg: "RS256",
  }));
  hono.use(jwk({ keys, alg: ["RS256"] }));
  hono.get("/verify", (c) => c.json({ sub: (c.get("jwtPayload") as { sub: string }).sub }));
  hono.get("/exchange", async (c) => {
    const claims = c.get("jwtPayload") as { azp: string; tid: string };
    const now = nowSeconds();
    const token = await honoSign(
      {
        iss: config.issuer,
        sub: claims.azp,
        client_id: claims.azp,
        aud: env.BENCH_RESOURCE,
        scope: SCOPE,
        iat: now,
        nbf: now,
        exp: now + 300,
        jti: crypto.randomUUID(),
        tid: claims.tid,
      },
      brokerJwk as Parameters<typeof honoSign>[1],
      "ES256" as SignatureAlgorithm,
    );
    return c.json({ access_token: token });
  });

  const policies: Record<string, Policy> = {};
  for (const size of [10, 10_000]) {
    const parsed = parsePolicy(policyOf(size, BENCH_RESOURCE_FOR_POLICY));
    if (!parsed.ok) throw new Error(`policy ${size}: ${parsed.error[0]}`);
    policies[String(size)] = parsed.value;
  }
  // The jose path's own caches (not the deployed app's), so both handlers start equally cold.
  const broker = createBroker(
    config,
    createJwksCache(async () => new Response(jwksText)),
    createDpopReplayCache(),
    undefined, // no REVOCATIONS binding here: the CPU figures are of the exchange itself
  );
  return { tokens, config, jwks, jwksDoc, rsaKeys, brokerKey, brokerJwk, hono, policies, broker };
}

// Section 3: memory after many distinct subject tokens. Signing a million RS256 tokens would take
// the whole run, so each one is the first real token with a distinct `uti` claim, and only the
// RSA check is stubbed for this loop: parsing, claim checks, hashing and the bounded verification
// cache that /token and forward mode keep per isolate all run as they do for real tokens.
let memoryCallers: VerifiedCallers | undefined;

async function fillWithDistinctTokens(s: State, offset: number, n: number): Promise<number> {
  memoryCallers ??= createVerifiedCallers(s.config.entra, s.jwks);
  const [header, payload, signature] = s.tokens[0]!.split(".") as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
  const subtle = crypto.subtle as { verify: SubtleCrypto["verify"] };
  const realVerify = subtle.verify;
  subtle.verify = async () => true;
  let cached = 0;
  try {
    for (let i = offset; i < offset + n; i++) {
      const token = `${header}.${base64url.encode(JSON.stringify({ ...claims, uti: `bench${i}` }))}.${signature}`;
      const r = await memoryCallers.verify(token, nowSeconds());
      if (!r.ok) throw new Error(`memory: ${r.error.reason}`);
      cached++;
    }
  } finally {
    subtle.verify = realVerify;
  }
  return cached;
}

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/ready") return new Response("ok");
    if (url.pathname === "/setup" && request.method === "POST") {
      const { tokens } = (await request.json()) as { tokens: string[] };
      state = await setup(env, tokens);
      // Untimed warm-up of every case: key imports, JWKS fetch, JIT.
      for (const run of Object.values(CASES)) for (let i = 0; i < 20; i++) await run(i, state, env);
      return Response.json({ tokens: tokens.length });
    }
    if (url.pathname === "/memory") {
      if (!state) return new Response("POST /setup first", { status: 409 });
      const n = Number(url.searchParams.get("n") ?? "1000");
      const offset = Number(url.searchParams.get("offset") ?? "0");
      return Response.json({ verified: await fillWithDistinctTokens(state, offset, n) });
    }
    if (url.pathname === "/run") {
      if (!state) return new Response("POST /setup first", { status: 409 });
      const name = url.searchParams.get("case") ?? "";
      const run = CASES[name];
      if (!run) return new Response(`unknown case ${name}`, { status: 404 });
      const n = Number(url.searchParams.get("n") ?? "100");
      const offset = Number(url.searchParams.get("offset") ?? "0");
      const start = performance.now();
      for (let i = 0; i < n; i++) await run(offset + i, state, env);
      const elapsedMs = performance.now() - start;
      return Response.json({ case: name, n, elapsedMs });
    }
    return new Response("not found", { status: 404 });
  },
};
