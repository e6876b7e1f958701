import { isObject } from "./json.ts";
import { GUID } from "./lib/syntax.ts";
import { err, ok, type Result } from "./result.ts";

// Per-client rate limits on exchanges and forwarded requests, counted by the Workers Rate Limiting
// binding ([[ratelimits]] in wrangler.toml). A binding has one limit and period, so each binding
// is a tier ("service": many requests a minute, "agent": few) and the policy says which tier a
// client is in:
//
//   [vars.POLICY.rateLimits]
//   default = "RATE_LIMIT_SERVICE"                                   # optional: everyone else
//   clients = { "<agent app id>" = "RATE_LIMIT_AGENT" }
//
// If the binding itself fails, the request goes through (fail open) and the failure is logged:
// rate limits protect capacity, not access. Stopping an identity is what revocations are for,
// and those fail closed; a counter outage must not become an outage of every exchange.

export interface RateLimitPolicy {
  /** Binding name for clients not listed; undefined = not limited. */
  readonly default?: string;
  /** Client app id → binding name. */
  readonly clients: ReadonlyMap<string, string>;
}

export type RateLimiters = ReadonlyMap<string, RateLimit>;

export type RateLimitOutcome =
  | { readonly limited: false; readonly binding?: string; readonly failed?: string }
  | { readonly limited: true; readonly binding: string; readonly retryAfterSeconds: number };

/**
 * The binding does not say when its window ends; 60 s is the longest period Workers rate limits
 * support, so a client that waits this long is always in a fresh window.
 */
export const RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
/** Binding names as wrangler accepts them (a JS identifier, upper case by convention). */
const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** One entry per client that needs a non-default tier; more is a policy mistake. */
const MAX_CLIENTS = 10_000;

export const NO_RATE_LIMITS: RateLimitPolicy = Object.freeze({ clients: new Map() });

export function parseRateLimitPolicy(raw: unknown): Result<RateLimitPolicy, string[]> {
  if (raw === undefined) return ok(NO_RATE_LIMITS);
  if (!isObject(raw))
    return err(['rateLimits: must be a table: { default = "BINDING", clients = { "<app id>" = "BINDING" } }']);
  const problems: string[] = [];
  for (const key of Object.keys(raw))
    if (key !== "default" && key !== "clients") problems.push(`rateLimits: unknown field "${key}"`);
  const fallback = raw.default;
  if (fallback !== undefined && (typeof fallback !== "string" || !BINDING_NAME.test(fallback)))
    problems.push("rateLimits.default: must be the name of a [[ratelimits]] binding");
  const clients = new Map<string, string>();
  if (raw.clients !== undefined) {
    if (!isObject(raw.clients)) problems.push('rateLimits.clients: must be a table of "<app id>" = "BINDING"');
    else {
      const entries = Object.entries(raw.clients);
      if (entries.length > MAX_CLIENTS) problems.push(`rateLimits.clients: at most ${MAX_CLIENTS} clients`);
      for (const [client, binding] of entries.slice(0, MAX_CLIENTS)) {
        if (!GUID.test(client)) problems.push(`rateLimits.clients: "${client}" is not a lower-case GUID client app id`);
        else if (typeof binding !== "string" || !BINDING_NAME.test(binding))
          problems.push(`rateLimits.clients."${client}": must be the name of a [[ratelimits]] binding`);
        else clients.set(client, binding);
      }
    }
  }
  if (problems.length > 0) return err(problems);
  return ok(Object.freeze({ ...(fallback !== undefined && { default: fallback as string }), clients }));
}

/** Every binding the policy names, so the config check can say which one is missing. */
export function bindingsNamed(policy: RateLimitPolicy): Set<string> {
  const names = new Set(policy.clients.values());
  if (policy.default) names.add(policy.default);
  return names;
}

export function isRateLimitBinding(value: unknown): value is RateLimit {
  return typeof value === "object" && value !== null && typeof (value as RateLimit).limit === "function";
}

/** Counts one request of a client against its tier. The key holds the tenant too: app ids are per tenant. */
export async function checkRateLimit(
  policy: RateLimitPolicy,
  limiters: RateLimiters,
  tenantId: string,
  appId: string,
): Promise<RateLimitOutcome> {
  const binding = policy.clients.get(appId) ?? policy.default;
  if (binding === undefined) return { limited: false };
  const limiter = limiters.get(binding);
  if (!limiter) return { limited: false, binding, failed: "binding missing" }; // config check prevents this
  try {
    const { success } = await limiter.limit({ key: `${tenantId}/${appId}` });
    return success
      ? { limited: false, binding }
      : { limited: true, binding, retryAfterSeconds: RATE_LIMIT_RETRY_AFTER_SECONDS };
  } catch (e) {
    console.error(
      JSON.stringify({
        event: "rate_limit_unavailable",
        binding,
        detail: String(e).slice(0, 200),
        behaviour: "fail_open",
      }),
    );
    return { limited: false, binding, failed: String(e).slice(0, 200) };
  }
}

/** 429 for both routes: an OAuth-style error body (RFC 6749 §5.2 shape) and when to come back. */
export function rateLimitedResponse(retryAfterSeconds: number): Response {
  return Response.json(
    {
      error: "rate_limited",
      error_description: "too many requests from this client; retry after the Retry-After delay",
    },
    { status: 429, headers: { "cache-control": "no-store", "retry-after": String(retryAfterSeconds) } },
  );
}
