// How long anyone may cache the broker's JWKS (/.well-known/jwks.json sends it as max-age). Key
// rotation depends on it: a new key must be published at least this long (plus the longest token
// lifetime) before it signs, so every verifier has fetched it by then. `npm run keys` reads this
// constant, so the tool and the header cannot drift apart. No imports: Node tools use it too.
export const JWKS_MAX_AGE_SECONDS = 300;
