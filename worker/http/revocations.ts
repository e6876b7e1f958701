import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { KeepAlive } from "../jwks.ts";
import type { RevocationKind } from "../revocations/entry.ts";
import { revocationsNow } from "../revocations/guard.ts";
import { REFRESH_SECONDS } from "../revocations/store.ts";

// GET /revocations: what origins need to refuse tokens that were minted before a revocation.
// Only kinds that a minted token carries (client_id/sub, tid, jti) or that name its grant (rule),
// and only entries that can still matter: a revocation older than the longest lifetime a token
// can have (plus clock skew) has outlived every token minted before it, and the broker itself
// refuses new ones. Reasons and who revoked stay in the admin API.

const PUBLISHED_KINDS: ReadonlySet<RevocationKind> = new Set(["client", "tenant", "rule", "token"]);

export async function publishedRevocations(broker: Broker, now: number, keepAlive?: KeepAlive): Promise<Response> {
  const { config, revocations: store } = broker;
  const longestLifetime = longestTokenLifetime(config);
  const current = await revocationsNow(store, now, keepAlive);
  if (!current.ok) {
    return Response.json(
      { error: "temporarily_unavailable", error_description: "revocations cannot be read right now; retry later" },
      { status: 503, headers: { "cache-control": "no-store", "retry-after": String(current.error.retryAfterSeconds) } },
    );
  }
  const horizon = now - longestLifetime - config.entra.clockSkewSeconds;
  const revocations = (current.value?.entries ?? [])
    .filter(
      (e) => PUBLISHED_KINDS.has(e.kind) && e.revokedAt >= horizon && (e.expiresAt === undefined || now < e.expiresAt),
    )
    .map(({ id, kind, value, revokedAt, expiresAt }) => ({
      id,
      kind,
      value,
      revokedAt,
      ...(expiresAt !== undefined && { expiresAt }),
    }));
  return Response.json(
    { revocations, generatedAt: now, maxTokenLifetimeSeconds: longestLifetime },
    // Shared caches may hold it as long as an isolate holds its own copy: no revocation is
    // delayed further than it already is by the per-isolate cache.
    { headers: { "cache-control": `public, max-age=${REFRESH_SECONDS}` } },
  );
}

/** The longest lifetime any minted token can have under this config: a rule's cap, within the global cap. */
export function longestTokenLifetime(config: Config): number {
  const longestRule = config.policy.rules.reduce((longest, r) => Math.max(longest, r.grant.maxTtlSeconds), 0);
  return Math.min(config.maxTokenTtlSeconds, longestRule);
}
