import type { DelegationRequirements } from "./delegation.ts";
import type { BrokerTokenError } from "./errors.ts";

// Options are checked once, when a middleware is created (or on the first verifyBrokerToken call
// with them): a misconfigured origin fails at start-up with a message naming the setting, never
// by quietly accepting tokens.

/** How the kit fetches the broker's metadata and keys; a Workers service binding's fetch fits. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface BrokerTokenOptions {
  /** The broker's issuer URL, exactly as its RFC 8414 metadata and its tokens' `iss` spell it. */
  readonly issuer: string;
  /** This origin, as a canonical origin (https://host[:port]); tokens' `aud` must equal it exactly. */
  readonly audience: string;
  /** Scopes a token must all carry; none by default. */
  readonly scopes?: readonly string[];
  /** Allowed clock difference for `nbf` and `iat`, in seconds (default 60, at most 300). `exp` is strict. */
  readonly clockSkewSeconds?: number;
  /** Replaces the global fetch for discovery and keys (for example a service binding's fetch). */
  readonly fetch?: FetchLike;
  /** Milliseconds since the epoch; the system clock by default (tests freeze it). */
  readonly clock?: () => number;
  /** Most actors a delegated token may carry (RFC 8693 `act`); 0 refuses delegated tokens. Any by default. */
  readonly maxDelegationDepth?: number;
  /** When set, every actor in a delegated token's chain must be one of these client ids. */
  readonly allowedActors?: readonly string[];
  /**
   * How often the broker's revocation list (GET /revocations) is re-read, in seconds (default 30,
   * at least 5); 0 turns the check off. Tokens issued before a matching revocation are refused.
   */
  readonly revocationPollSeconds?: number;
}

/** The middlewares' options: the verification options plus a hook for the operator's log. */
export interface BrokerAuthOptions extends BrokerTokenOptions {
  /**
   * Called with every refusal before it is answered: `error.code` and `error.message` say exactly
   * why (the client only sees the fixed description). Must not throw.
   */
  readonly onRefusal?: (error: BrokerTokenError) => void;
}

export interface VerifierConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly clockSkewSeconds: number;
  readonly fetch: FetchLike;
  readonly clock: () => number;
  /** RFC 9728 §3: this origin's protected resource metadata URL, named in every challenge. */
  readonly resourceMetadata: string;
  readonly delegation: DelegationRequirements;
  /** 0 = revocations not checked. */
  readonly revocationPollSeconds: number;
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/** A larger skew would let a token live minutes past what the broker's policy allowed. */
export const MAX_CLOCK_SKEW_SECONDS = 300;
/** Far above any real host name plus scheme and port; stops absurd inputs early. */
const MAX_URL_LENGTH = 2048;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** The broker caps chains at 10 actors; a larger limit here would be a typo. */
const MAX_DELEGATION_DEPTH = 10;
/** A revoked token keeps working at most this long at an origin (plus the broker's 5 s caching). */
export const DEFAULT_REVOCATION_POLL_SECONDS = 30;
/** The broker caches its list for 5 s: polling faster only costs requests. */
export const MIN_REVOCATION_POLL_SECONDS = 5;
/** Slower than the longest token lifetime would make the check pointless. */
export const MAX_REVOCATION_POLL_SECONDS = 3600;
export const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource";

const globalFetch: FetchLike = (input, init) => fetch(input, init);
const systemClock = () => Date.now();

export function parseOptions(options: BrokerTokenOptions): VerifierConfig {
  if (typeof options !== "object" || options === null) fail("options", "must be an object");
  const issuer = parseIssuer(options.issuer);
  const audience = parseOrigin("audience", options.audience);
  const scopes = parseScopes(options.scopes);
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isInteger(skew) || skew < 0 || skew > MAX_CLOCK_SKEW_SECONDS) {
    fail("clockSkewSeconds", `must be a whole number of seconds from 0 to ${MAX_CLOCK_SKEW_SECONDS}`);
  }
  if (options.fetch !== undefined && typeof options.fetch !== "function") fail("fetch", "must be a function");
  if (options.clock !== undefined && typeof options.clock !== "function") fail("clock", "must be a function");
  const depth = options.maxDelegationDepth;
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 0 || depth > MAX_DELEGATION_DEPTH)) {
    fail("maxDelegationDepth", `must be a whole number from 0 to ${MAX_DELEGATION_DEPTH}`);
  }
  const actors = options.allowedActors;
  if (actors !== undefined && (!Array.isArray(actors) || !actors.every((a) => typeof a === "string" && a.length > 0))) {
    fail("allowedActors", "must be an array of client ids");
  }
  const poll = options.revocationPollSeconds ?? DEFAULT_REVOCATION_POLL_SECONDS;
  if (
    !Number.isInteger(poll) ||
    (poll !== 0 && (poll < MIN_REVOCATION_POLL_SECONDS || poll > MAX_REVOCATION_POLL_SECONDS))
  ) {
    fail(
      "revocationPollSeconds",
      `must be 0 (off) or whole seconds from ${MIN_REVOCATION_POLL_SECONDS} to ${MAX_REVOCATION_POLL_SECONDS}`,
    );
  }
  return Object.freeze({
    issuer,
    audience,
    scopes,
    clockSkewSeconds: skew,
    fetch: options.fetch ?? globalFetch,
    clock: options.clock ?? systemClock,
    resourceMetadata: `${audience}${PROTECTED_RESOURCE_PATH}`,
    delegation: Object.freeze({
      maxDepth: depth,
      allowedActors: actors === undefined ? undefined : new Set(actors),
    }),
    revocationPollSeconds: poll,
  });
}

/** The issuer is compared exactly, so it is taken as given, but it must be a URL we may fetch. */
export function parseIssuer(input: unknown): string {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_URL_LENGTH) {
    fail("issuer", "must be the broker's URL, e.g. https://broker.example.com");
  }
  const url = parseUrl("issuer", input);
  if (url.search || url.hash || url.username || url.password)
    fail("issuer", "must not carry a query, fragment or userinfo");
  requireSecureScheme("issuer", url);
  return input;
}

/** Origins are identities: only the canonical serialisation, so one origin has one spelling. */
export function parseOrigin(setting: string, input: unknown): string {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_URL_LENGTH) {
    fail(setting, "must be this origin, e.g. https://inventory.example.com");
  }
  const url = parseUrl(setting, input);
  requireSecureScheme(setting, url);
  if (url.origin !== input)
    fail(setting, `must be a canonical origin (scheme://host[:port], lower case, no path): "${url.origin}"?`);
  return input;
}

export function parseScopes(input: unknown): readonly string[] {
  if (input === undefined) return Object.freeze([]);
  if (!Array.isArray(input)) fail("scopes", 'must be an array of scope names, e.g. ["inventory.read"]');
  for (const scope of input) {
    if (typeof scope !== "string" || !SCOPE_TOKEN.test(scope)) {
      fail("scopes", `holds ${JSON.stringify(scope)}, which is not a scope name (RFC 6749 §3.3: no spaces or quotes)`);
    }
  }
  return Object.freeze([...new Set(input as string[])]);
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function parseUrl(setting: string, input: string): URL {
  try {
    return new URL(input);
  } catch {
    return fail(setting, `is not a URL: ${JSON.stringify(input)}`);
  }
}

// Plain http would let anyone on the path swap the keys; it is allowed for loopback only, where
// local development runs.
function requireSecureScheme(setting: string, url: URL): void {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return;
  fail(setting, "must use https (http only for localhost / 127.0.0.1 / [::1])");
}

function fail(setting: string, problem: string): never {
  throw new TypeError(`@identity-broker/origin: ${setting} ${problem}`);
}
