import { checkDelegation } from "./delegation.ts";
import { checkSenderConstraint, type PresentedRequest } from "./dpop.ts";
import { BrokerTokenError } from "./errors.ts";
import { failure, type Failure } from "./failure.ts";
import { type BrokerTokenOptions, parseOptions, type VerifierConfig } from "./options.ts";
import { checkLifetime, checkScopes } from "./request-checks.ts";
import { err, ok, type Result } from "./result.ts";
import { checkShape, checkSize, verifySignedToken } from "./signed-token.ts";
import { stateFor, type VerifierState } from "./state.ts";
import type { BrokerToken } from "./token.ts";
import { tokenCacheKey } from "./verified-tokens.ts";

// The verification pipeline, shared by verifyBrokerToken and both middlewares. Two halves:
//   per token (cached by SHA-256): shape → header → key → signature and claims → BrokerToken
//   per request (always):        lifetime → revocations → scopes → delegation chain → DPoP sender constraint
// New checks slot in as one more stage in the half they belong to.

/** The parts of an HTTP request that a DPoP proof is about (RFC 9449 §4.3). */
export interface RequestParts {
  readonly method: string;
  /** The request target's path (and query, which the proof ignores), as received. */
  readonly path: string;
  /** The `DPoP` header value(s), if any. */
  readonly dpop: string | readonly string[] | null | undefined;
}

export interface Verifier {
  readonly config: VerifierConfig;
  verify(jwt: string, presented?: PresentedRequest): Promise<Result<BrokerToken, Failure>>;
  /**
   * The same, starting from an Authorization header value: `Bearer` (RFC 6750 §2.1) or `DPoP`
   * (RFC 9449 §7.1, which needs the request's parts for its proof).
   */
  verifyAuthorization(header: string | null | undefined, request?: RequestParts): Promise<Result<BrokerToken, Failure>>;
  toError(failure: Failure): BrokerTokenError;
}

/** RFC 6750 §2.1 / RFC 9449 §7.1: the scheme (any case), one or more spaces, a b64token. */
const CREDENTIALS = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function createVerifier(options: BrokerTokenOptions): Verifier {
  const config = parseOptions(options);
  const state = stateFor(config);
  const verify = (jwt: string, presented?: PresentedRequest) =>
    verifyToken(jwt, presented, config, state, config.clock());
  return {
    config,
    verify,
    verifyAuthorization(header, request) {
      if (!header || !/^(?:bearer|dpop)(?: |$)/i.test(header)) {
        return Promise.resolve(err(failure("token_missing")));
      }
      const match = CREDENTIALS.exec(header);
      if (!match)
        return Promise.resolve(err(failure("token_malformed", { detail: "Authorization: Bearer|DPoP <token>" })));
      const scheme = match[1]!.toLowerCase() === "dpop" ? "DPoP" : "Bearer";
      // The proof's htu is compared with this origin's own URL for the path: never with a Host header.
      const path = request?.path.startsWith("/") ? request.path : "/";
      return verify(match[2]!, {
        scheme,
        method: request?.method ?? "",
        url: `${config.audience}${path}`,
        proof: request?.dpop,
      });
    },
    toError: (f) => new BrokerTokenError(f, { resourceMetadata: config.resourceMetadata, scopes: config.scopes }),
  };
}

function verifyToken(
  jwt: string,
  presented: PresentedRequest | undefined,
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
  if (cached) return Promise.resolve(checkRequest(cached, jwt, presented, config, state, now));
  return verifyFresh(jwt, cacheKey, presented, config, state, now);
}

async function verifyFresh(
  jwt: string,
  cacheKey: string,
  presented: PresentedRequest | undefined,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Promise<Result<BrokerToken, Failure>> {
  const shaped = checkShape(jwt);
  if (!shaped.ok) return shaped;
  const verified = await verifySignedToken(jwt, config, state.keys, now);
  if (!verified.ok) return verified;
  state.verified.set(cacheKey, verified.value);
  return checkRequest(verified.value, jwt, presented, config, state, now);
}

function checkRequest(
  token: BrokerToken,
  jwt: string,
  presented: PresentedRequest | undefined,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Result<BrokerToken, Failure> | Promise<Result<BrokerToken, Failure>> {
  const alive = checkLifetime(token, now);
  if (!alive.ok) return alive;
  if (!state.revocations) return checkPresented(token, jwt, presented, config, state, now);
  // Synchronous while the revocation list is fresh; a promise only when a poll is due.
  const current = state.revocations.check(token, now);
  return current instanceof Promise
    ? current.then((r) => (r.ok ? checkPresented(token, jwt, presented, config, state, now) : r))
    : current.ok
      ? checkPresented(token, jwt, presented, config, state, now)
      : current;
}

/** The stages after revocations: scopes, the delegation chain, the DPoP sender constraint. */
function checkPresented(
  token: BrokerToken,
  jwt: string,
  presented: PresentedRequest | undefined,
  config: VerifierConfig,
  state: VerifierState,
  now: number,
): Result<BrokerToken, Failure> | Promise<Result<BrokerToken, Failure>> {
  const scoped = checkScopes(token, config.scopes);
  if (!scoped.ok) return scoped;
  const chain = checkDelegation(token, config.delegation);
  if (!chain.ok) return chain;
  // An unbound token presented as Bearer (the common case) stays synchronous: there is no proof.
  if (token.jkt === undefined && presented?.scheme !== "DPoP") return ok(token);
  return checkSenderConstraint(token, jwt, presented, state.proofs, config.clockSkewSeconds, now);
}
