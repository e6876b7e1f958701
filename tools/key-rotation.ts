import { exportJWK, generateKeyPair } from "jose";
import { JWKS_MAX_AGE_SECONDS } from "../worker/jwks-max-age.ts";

// The steps of rotating the broker's signing keys (the BROKER_SIGNING_KEYS secret: a JWK set whose
// first key signs and whose every key is published at /.well-known/jwks.json), each refused when
// it would break verifiers:
//   new      adds a key, published but not signing: verifiers start to see it
//   promote  makes a key the signing one, once every verifier has surely fetched it
//   retire   removes a key that no live token was signed with
// Each key records when it was published and when it stopped signing (unix seconds), so the tool
// needs no other state. Time is an argument: the CLI passes the clock, tests pass what they need.

export interface KeyRecord extends Record<string, unknown> {
  kid: string;
  published_at?: number;
  signed_until?: number;
}

export interface KeySet {
  keys: KeyRecord[];
}

export type RotationProblem =
  | { reason: "key_set_invalid"; detail: string }
  | { reason: "key_not_found"; kid: string }
  | { reason: "too_many_keys"; max: number }
  | { reason: "already_signing"; kid: string }
  | { reason: "publication_unknown"; kid: string }
  | { reason: "published_too_recently"; kid: string; promotableAt: number }
  | { reason: "retiring_signing_key"; kid: string }
  | { reason: "tokens_still_alive"; kid: string; retirableAt: number };

export class RotationError extends Error {
  readonly problem: RotationProblem;
  constructor(problem: RotationProblem) {
    super(describe(problem));
    this.problem = problem;
  }
}

/** Same cap as the broker (worker/signing-keys.ts): current + next + a few retiring. */
export const MAX_KEYS = 8;

export interface Lifetimes {
  /** The longest lifetime of a minted token (MAX_TOKEN_TTL_SECONDS). */
  readonly maxTokenTtlSeconds: number;
  /** How long verifiers may cache the JWKS: the broker's Cache-Control max-age. */
  readonly jwksMaxAgeSeconds: number;
}

export const DEFAULT_LIFETIMES: Lifetimes = { maxTokenTtlSeconds: 900, jwksMaxAgeSeconds: JWKS_MAX_AGE_SECONDS };

export function parseKeySet(text: string): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new RotationError({ reason: "key_set_invalid", detail: "is not JSON" });
  }
  const keys = (doc as { keys?: unknown })?.keys;
  // An empty set is where a new deployment starts: its first `new` key signs at once (nobody verifies yet).
  if (!Array.isArray(keys))
    throw new RotationError({ reason: "key_set_invalid", detail: 'must be a JWK set {"keys":[...]}' });
  for (const [i, key] of keys.entries()) {
    if (typeof key !== "object" || key === null || typeof (key as KeyRecord).kid !== "string")
      throw new RotationError({ reason: "key_set_invalid", detail: `keys[${i}] has no "kid"` });
    if (i === 0 && typeof (key as KeyRecord).d !== "string")
      throw new RotationError({
        reason: "key_set_invalid",
        detail: `keys[0] signs, so it must hold its private part "d"`,
      });
  }
  return { keys: keys as KeyRecord[] };
}

/** When a key may start signing: every verifier's cached JWKS holds it by then. */
export function promotableAt(key: KeyRecord, lifetimes: Lifetimes): number | undefined {
  return key.published_at === undefined
    ? undefined
    : key.published_at + lifetimes.jwksMaxAgeSeconds + lifetimes.maxTokenTtlSeconds;
}

/** When a key may leave the set: every token it signed has expired by then. */
export function retirableAt(key: KeyRecord, lifetimes: Lifetimes): number {
  return key.signed_until === undefined ? Number.NEGATIVE_INFINITY : key.signed_until + lifetimes.maxTokenTtlSeconds;
}

export async function addKey(set: KeySet, alg: "ES256" | "EdDSA", now: number): Promise<{ set: KeySet; kid: string }> {
  if (set.keys.length >= MAX_KEYS) throw new RotationError({ reason: "too_many_keys", max: MAX_KEYS });
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" && { crv: "Ed25519" }) });
  const jwk = await exportJWK(privateKey);
  const kid = `broker-${new Date(now * 1000).toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
  return { set: { keys: [...set.keys, { ...jwk, kid, alg, published_at: now }] }, kid };
}

export function promoteKey(set: KeySet, kid: string, now: number, lifetimes: Lifetimes): KeySet {
  const index = set.keys.findIndex((k) => k.kid === kid);
  if (index < 0) throw new RotationError({ reason: "key_not_found", kid });
  if (index === 0) throw new RotationError({ reason: "already_signing", kid });
  const key = set.keys[index]!;
  const at = promotableAt(key, lifetimes);
  if (at === undefined) throw new RotationError({ reason: "publication_unknown", kid });
  if (now < at) throw new RotationError({ reason: "published_too_recently", kid, promotableAt: at });
  const { signed_until: _, ...promoted } = key;
  const rest = set.keys.filter((_, i) => i !== index);
  const [previous, ...others] = rest;
  return { keys: [promoted as KeyRecord, { ...previous!, signed_until: now }, ...others] };
}

export function retireKey(set: KeySet, kid: string, now: number, lifetimes: Lifetimes): KeySet {
  const index = set.keys.findIndex((k) => k.kid === kid);
  if (index < 0) throw new RotationError({ reason: "key_not_found", kid });
  if (index === 0) throw new RotationError({ reason: "retiring_signing_key", kid });
  const at = retirableAt(set.keys[index]!, lifetimes);
  if (now < at) throw new RotationError({ reason: "tokens_still_alive", kid, retirableAt: at });
  return { keys: set.keys.filter((_, i) => i !== index) };
}

export interface KeyStatus {
  kid: string;
  alg: string;
  role: "signing" | "published" | "retiring";
  publishedAt?: number;
  signedUntil?: number;
  /** For a published key: when `promote` allows it. For a retiring key: when `retire` allows it. */
  readyAt?: number;
}

export function keyStatus(set: KeySet, lifetimes: Lifetimes): KeyStatus[] {
  return set.keys.map((key, i) => {
    const role = i === 0 ? "signing" : key.signed_until !== undefined ? "retiring" : "published";
    const readyAt =
      role === "published"
        ? promotableAt(key, lifetimes)
        : role === "retiring"
          ? retirableAt(key, lifetimes)
          : undefined;
    return {
      kid: key.kid,
      alg: typeof key.alg === "string" ? key.alg : key.crv === "Ed25519" ? "EdDSA" : "ES256",
      role,
      ...(key.published_at !== undefined && { publishedAt: key.published_at }),
      ...(key.signed_until !== undefined && { signedUntil: key.signed_until }),
      ...(readyAt !== undefined && { readyAt }),
    };
  });
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function describe(problem: RotationProblem): string {
  switch (problem.reason) {
    case "key_set_invalid":
      return `the BROKER_SIGNING_KEYS value ${problem.detail}`;
    case "key_not_found":
      return `no key with kid "${problem.kid}" in the set (see \`npm run keys -- status\`)`;
    case "too_many_keys":
      return `the set already holds ${problem.max} keys, the broker's maximum: retire one first`;
    case "already_signing":
      return `"${problem.kid}" is already the signing key`;
    case "publication_unknown":
      return `"${problem.kid}" has no published_at, so the tool cannot tell whether verifiers have fetched it; add a key with \`npm run keys -- new\` and promote that one`;
    case "published_too_recently":
      return `"${problem.kid}" may sign from ${iso(problem.promotableAt)} on: verifiers may cache the JWKS for its max-age and hold tokens for the longest token lifetime, and some may not have fetched it before then`;
    case "retiring_signing_key":
      return `"${problem.kid}" is the signing key: promote another key first`;
    case "tokens_still_alive":
      return `"${problem.kid}" signed tokens that live until ${iso(problem.retirableAt)}: retire it after that, or origins will refuse them`;
  }
}
