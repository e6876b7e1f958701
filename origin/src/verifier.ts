import { BrokerTokenError } from "./errors.ts";
import { failure, type Failure } from "./failure.ts";
import { type BrokerTokenOptions, parseOptions, type VerifierConfig } from "./options.ts";
import { checkLifetime, checkScopes } from "./request-checks.ts";
import { err, type Result } from "./result.ts";
import { checkShape, checkSize, verifySignedToken } from "./signed-token.ts";
import { stateFor, type VerifierState } from "./state.ts";
import type { BrokerToken } from "./token.ts";
import { tokenCacheKey } from "./verified-tokens.ts";

// The verification pipeline, shared by verifyBrokerToken and both middlewares. Two halves:
//   per token (cached by SHA-256): shape → header → key → signature and claims → BrokerToken
//   per request (always):        lifetime → revocations → scopes
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

function verifyToken(
  jwt: string,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  if (typeof jwt !== "string" || jwt.length === 0) return Promise.resolve(err(failure("token_missing")));
  const sized = checkSize(jwt);
  if (!sized.ok) return Promise.resolve(sized);
  const cacheKey = tokenCacheKey(jwt);
  const cached = state.verified.get(cacheKey);
  // A cache hit stays synchronous up to here: a hash and a lookup, no signature, no await.
  if (cached) return Promise.resolve(checkRequest(cached, config, state, now));
  return verifyFresh(jwt, cacheKey, config, state, now);
}

async function verifyFresh(
  jwt: string,
  cacheKey: string,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  const shaped = checkShape(jwt);
  if (!shaped.ok) return shaped;
  const verified = await verifySignedToken(jwt, config, state.keys, now);
  if (!verified.ok) return verified;
  state.verified.set(cacheKey, verified.value);
  return checkRequest(verified.value, config, state, now);
}

function checkRequest(
  token: BrokerToken,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Result<BrokerToken, Failure> | Promise<Result<BrokerToken, Failure>> {
  const alive = checkLifetime(token, now);
  if (!alive.ok) return alive;
  if (!state.revocations) return checkScopes(token, config.scopes);
  // Synchronous while the revocation list is fresh; a promise only when a poll is due.
  const current = state.revocations.check(token, now);
  return current instanceof Promise
    ? current.then((r) => (r.ok ? checkScopes(token, config.scopes) : r))
    : current.ok
      ? checkScopes(token, config.scopes)
      : current;
}
