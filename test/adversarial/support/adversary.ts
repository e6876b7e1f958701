import { expect, inject } from "vitest";
import { b64url, scenario, type Scenario } from "../../worker/support/scenario.ts";
import type { captureLog } from "../../worker/support/audit-log.ts";
import type { Script } from "./hostile-script.ts";

// The attacker's toolbox for the workerd side of the adversarial suite: tokens crafted byte by byte
// (headers and payloads as raw JSON text or raw bytes, so duplicate members, BOMs and invalid UTF-8
// can be signed), the scriptable hostile endpoint, and one assertion that every refusal goes through.

export type Log = ReturnType<typeof captureLog>;

interface EntraKey {
  kid: string;
  privateJwk: JsonWebKey;
}
const entraKeys = JSON.parse(inject("entraKeys")) as EntraKey[];
export const hostileOrigin = inject("hostileOrigin");

/** The test Entra key's private JWK (key-a is published by the default key server). */
export function privateJwk(kid = "key-a"): JsonWebKey {
  const key = entraKeys.find((k) => k.kid === kid);
  if (!key) throw new Error(`no test key ${kid}`);
  return key.privateJwk;
}

/** The public half of a test key, as a JWKS would publish it. */
export function publicJwk(kid = "key-a"): JsonWebKey & { kid: string } {
  const { n, e } = privateJwk(kid);
  return { kty: "RSA", n, e, kid, use: "sig" } as JsonWebKey & { kid: string };
}

export type Part = Record<string, unknown> | string | Uint8Array;

function bytesOf(part: Part): Uint8Array {
  if (part instanceof Uint8Array) return part;
  return new TextEncoder().encode(typeof part === "string" ? part : JSON.stringify(part));
}

/** RS256 over exactly the given header and payload bytes, with a real Entra test key. */
export async function rs256(signingInput: string, kid = "key-a"): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "jwk",
    privateJwk(kid),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(signingInput)));
}

export interface CraftOptions {
  header?: Part;
  payload: Part;
  /** Signing key (default key-a); or a fixed signature. */
  kid?: string;
  signature?: Uint8Array;
}

/** A compact JWS with the header and payload exactly as given, validly RS256-signed unless told otherwise. */
export async function craft(options: CraftOptions): Promise<string> {
  const header = options.header ?? { alg: "RS256", typ: "JWT", kid: options.kid ?? "key-a" };
  const signingInput = `${b64url(bytesOf(header))}.${b64url(bytesOf(options.payload))}`;
  const signature = options.signature ?? (await rs256(signingInput, options.kid));
  return `${signingInput}.${b64url(signature)}`;
}

/** JSON text of a scenario's valid v2 claims with `extra` members spliced in verbatim (duplicates, __proto__). */
export function claimsText(s: Scenario, extra = "", overrides: Record<string, unknown> = {}): string {
  const body = JSON.stringify({ ...s.claims(), ...overrides }).slice(1, -1);
  return `{${body}${extra ? `,${extra}` : ""}}`;
}

// ---- the hostile endpoint ----

export async function script(path: string, spec: Script): Promise<void> {
  await fetch(`${hostileOrigin}/__script`, { method: "POST", body: JSON.stringify({ path, ...spec }) });
}

/** Requests the hostile endpoint received under a path prefix. */
export async function hits(prefix: string): Promise<number> {
  return (
    (await (await fetch(`${hostileOrigin}/__hits?prefix=${encodeURIComponent(prefix)}`)).json()) as { total: number }
  ).total;
}

/** A scenario whose Entra keys come from the hostile endpoint, scripted with `spec` (default: key-a). */
export async function hostileKeysScenario(spec: Script = { body: JSON.stringify({ keys: [publicJwk()] }) }) {
  const s = scenario();
  const keysPath = `/${s.tid}/discovery/v2.0/keys`;
  s.configure({ ENTRA_JWKS_ORIGIN: hostileOrigin });
  await script(keysPath, spec);
  return { s, keysPath, keyHits: () => hits(keysPath) };
}

// ---- the one assertion every refusal goes through ----

export const INVALID_SUBJECT = "subject_token is not a valid Entra ID app-only access token for this broker";

export interface Refusal {
  status: number;
  error: string;
  reason: string;
  description?: string | RegExp;
  /** Tokens this test minted on purpose before the refused request (default none). */
  priorGrants?: number;
}

/**
 * The exact outcome of a refused exchange: status, OAuth error, audit reason; no token in the body, no
 * `granted` event in the audit log, no-store, and none of the given secrets echoed in the response.
 */
export async function expectRefused(
  response: Response,
  log: Log,
  want: Refusal,
  secrets: string[] = [],
): Promise<void> {
  const text = await response.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  expect({ status: response.status, error: body.error, reason: log.lastReason() }).toEqual({
    status: want.status,
    error: want.error,
    reason: want.reason,
  });
  if (typeof want.description === "string") expect(body.error_description).toBe(want.description);
  else if (want.description) expect(body.error_description).toMatch(want.description);
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(log.exchanges().filter((e) => e.outcome === "granted")).toHaveLength(want.priorGrants ?? 0);
  for (const secret of secrets) if (secret.length >= 8) expect(text).not.toContain(secret);
}

/** A verification failure: always the same generic 400 invalid_request; the reason is only in the log. */
export function invalidSubject(reason: string): Refusal {
  return { status: 400, error: "invalid_request", reason, description: INVALID_SUBJECT };
}
