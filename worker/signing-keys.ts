import { exportJWK, importJWK, type JWK } from "jose";
import { isObject } from "./json.ts";
import { err, ok, type Result } from "./result.ts";

// The broker's own keys arrive as one secret holding a JWK set: the first key signs, every key
// is published, so a new key can be announced before it signs and an old one kept while the
// tokens it signed are still alive (rotation with overlap).

export type BrokerAlg = "ES256" | "EdDSA";

export interface SigningKeys {
  readonly active: { readonly kid: string; readonly alg: BrokerAlg; readonly key: CryptoKey };
  /** Public halves of every key, as served at /.well-known/jwks.json. */
  readonly publicJwks: { readonly keys: readonly JWK[] };
}

const MAX_KEYS = 8; // current + next + a few retired is plenty; more is a config mistake

export async function loadSigningKeys(raw: unknown): Promise<Result<SigningKeys, string>> {
  if (typeof raw !== "string" || raw.trim() === "") {
    return err(
      "is not set: put a JWK set with the broker's private signing keys in it (wrangler secret put BROKER_SIGNING_KEYS; .dev.vars locally)",
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    return err('is not valid JSON: expected {"keys":[{"kty":"EC","crv":"P-256","kid":…,"d":…}]}');
  }
  if (!isObject(doc) || !Array.isArray(doc.keys) || doc.keys.length === 0)
    return err('must be a JWK set: {"keys":[…]} with at least one key');
  if (doc.keys.length > MAX_KEYS) return err(`holds ${doc.keys.length} keys; at most ${MAX_KEYS}`);

  const kids = new Set<string>();
  const publicKeys: JWK[] = [];
  let active: SigningKeys["active"] | undefined;
  for (const [i, jwk] of doc.keys.entries()) {
    const where = `keys[${i}]`;
    if (!isObject(jwk)) return err(`${where} is not an object`);
    const kid = jwk.kid;
    if (typeof kid !== "string" || kid.length === 0 || kid.length > 128)
      return err(`${where} needs a "kid" (1-128 characters)`);
    if (kids.has(kid)) return err(`${where}: kid "${kid}" is used twice`);
    kids.add(kid);
    const alg = algOf(jwk);
    if (!alg) return err(`${where} ("${kid}") must be an EC P-256 (ES256) or OKP Ed25519 (EdDSA) key`);
    if (jwk.alg !== undefined && jwk.alg !== alg)
      return err(`${where} ("${kid}") says alg "${String(jwk.alg)}" but is a ${alg} key`);
    const { key_ops: _ops, ext: _ext, ...material } = jwk; // usage is ours to set, not the document's
    if (i === 0) {
      if (typeof jwk.d !== "string") return err(`${where} ("${kid}") signs, so it must include its private part "d"`);
      try {
        active = { kid, alg, key: (await importJWK(material, alg, { extractable: false })) as CryptoKey };
      } catch {
        return err(`${where} ("${kid}") is not a usable ${alg} private key`);
      }
    }
    let publicJwk: JWK;
    try {
      // Published as jose exports it: the public members only, whatever else the secret holds.
      const { d: _d, ...publicMaterial } = material;
      publicJwk = {
        ...(await exportJWK(await importJWK(publicMaterial, alg, { extractable: true }))),
        kid,
        alg,
        use: "sig",
      };
    } catch {
      return err(`${where} ("${kid}") is not a usable ${alg} public key`);
    }
    publicKeys.push(publicJwk);
  }
  return ok(
    Object.freeze({ active: Object.freeze(active!), publicJwks: Object.freeze({ keys: Object.freeze(publicKeys) }) }),
  );
}

function algOf(jwk: Record<string, unknown>): BrokerAlg | undefined {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}
