import type { Config } from "../config.ts";
import { DPOP_ALGORITHMS } from "../dpop.ts";
import { GRANT_TYPE_TOKEN_EXCHANGE } from "../exchange-request.ts";
import { JWKS_MAX_AGE_SECONDS } from "../jwks-max-age.ts";

// Keys rotate with overlap (a new key is published before it signs), so verifiers may cache the
// key set for a few minutes without missing a new kid for long.
// The max-age is what `npm run keys` assumes when it allows a new key to be promoted.
const PUBLIC_CACHE = { "cache-control": `public, max-age=${JWKS_MAX_AGE_SECONDS}` } as const;

export function jwksDocument(config: Config): Response {
  return Response.json(config.signingKeys.publicJwks, {
    headers: { ...PUBLIC_CACHE, "content-type": "application/jwk-set+json" },
  });
}

/** RFC 8414 authorization server metadata. `issuer` is exactly the configured public URL (§3.3). */
export function authorizationServerMetadata(config: Config): Response {
  return Response.json(
    {
      issuer: config.issuer,
      token_endpoint: `${config.issuer}/token`,
      jwks_uri: `${config.issuer}/.well-known/jwks.json`,
      // What the broker's published keys sign with, so that verifiers (the origin kit) accept
      // exactly these algorithms and no other (RFC 8414 has no standard member for this).
      access_token_signing_alg_values_supported: [
        ...new Set(config.signingKeys.publicJwks.keys.map((key) => String(key.alg))),
      ],
      grant_types_supported: [GRANT_TYPE_TOKEN_EXCHANGE],
      // The subject token is the credential: no separate client authentication.
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
      // RFC 9449 §5.1: proofs at /token bind the issued token to the client's key.
      dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    },
    { headers: PUBLIC_CACHE },
  );
}
