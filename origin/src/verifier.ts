import { BrokerTokenError } from "./errors.ts";
import { failure, type Failure } from "./failure.ts";
import { type BrokerTokenOptions, parseOptions, type VerifierConfig } from "./options.ts";
import { checkLifetime, checkScopes } from "./request-checks.ts";
import { err, ok, type Result } from "./result.ts";
import { readHeader, verifySignedToken } from "./signed-token.ts";
import { stateFor, type VerifierState } from "./state.ts";
import type { BrokerToken } from "./token.ts";
import { tokenCacheKey } from "./verified-tokens.ts";

// The verification pipeline, shared by verifyBrokerToken and both middlewares. Two halves:
//   per token (cached by hash):  header → key → signature and claims → BrokerToken
//   per request (always):        lifetime → scopes
// New checks slot in as one more stage in the half they belong to.

export interface Verifier {
  readonly config: VerifierConfig;
  verify(jwt: string): Promise<Result<BrokerToken, Failure>>;
  /** The same, starting from an Authorization header value (RFC 6750 §2.1). */
  verifyAuthorization(header: string | null | undefined): Promise<Result<BrokerToken, Failure>>;
  toError(failure: Failure): BrokerTokenError;
}

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function createVerifier(options: BrokerTokenOptions): Verifier {
  const config = parseOptions(options);
  const state = stateFor(config);
  const verify = (jwt: string) => verifyToken(jwt, config, state, config.clock());
  return {
    config,
    verify,
    verifyAuthorization(header) {
      if (!header || !/^bearer(?: |$)/i.test(header)) {
        return Promise.resolve(err(failure("token_missing")));
      }
      const match = BEARER.exec(header);
      if (!match) return Promise.resolve(err(failure("token_malformed", { detail: "Authorization: Bearer <token>" })));
      return verify(match[1]!);
    },
    toError: (f) => new BrokerTokenError(f, { resourceMetadata: config.resourceMetadata, scopes: config.scopes }),
  };
}

async function verifyToken(
  jwt: string,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  if (typeof jwt !== "string" || jwt.length === 0) return err(failure("token_missing"));
  const header = readHeader(jwt);
  if (!header.ok) return header;
  const cacheKey = await tokenCacheKey(jwt);
  let token = state.verified.get(cacheKey);
  if (!token) {
    const verified = await verifySignedToken(jwt, header.value, config, state.keys, now);
    if (!verified.ok) return verified;
    token = verified.value;
    state.verified.set(cacheKey, token);
  }
  const alive = checkLifetime(token, now);
  if (!alive.ok) return alive;
  const scoped = checkScopes(token, config.scopes);
  if (!scoped.ok) return scoped;
  return ok(token);
}
