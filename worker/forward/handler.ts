import { audit, sha256Hex } from "../audit.ts";
import type { Config } from "../config.ts";
import type { Caller } from "../entra-token.ts";
import { readBearerToken } from "./bearer.ts";
import { toOriginHeaders } from "./headers.ts";
import { createMintedTokens, type MintedTokens } from "./minted-tokens.ts";
import { failureReason, failureResponse, type ForwardFailure } from "./refusals.ts";
import { allowedMethods, isBrokerPath, matchRoute, originPath, scopesFor, type Route } from "./route-table.ts";
import { sendToOrigin } from "./send.ts";
import { tokenHash, verifiedCallersFor } from "../verified-callers.ts";
import type { JwksCache } from "../jwks.ts";
import { issuedLifetime } from "../lifetime.ts";
import { decide } from "../policy.ts";
import { firstRevoked } from "../revocations/guard.ts";
import type { RevocationStore } from "../revocations/store.ts";
import { forwardGuardResponse, guardCaller, guardFields, type GuardRefusal } from "../safeguards.ts";

// Forward mode: bearer ─► verify Entra token ─► policy (route scopes for the method) ─► mint (or
// reuse) ─► send to origin ─► stream back. Returns undefined when no route matches, so the
// broker's 404 answers.

// Per isolate, per parsed config: a minted token is only ever reused under the exact settings
// (keys, policy) it was produced with. Verified callers are shared with POST /token.
const mintedByConfig = new WeakMap<Config, MintedTokens>();

function mintedTokensFor(config: Config): MintedTokens {
  let tokens = mintedByConfig.get(config);
  if (!tokens) mintedByConfig.set(config, (tokens = createMintedTokens(config.signingKeys)));
  return tokens;
}

export async function forward(
  request: Request,
  config: Config,
  jwks: JwksCache,
  now: number,
  revocations?: RevocationStore,
): Promise<Response | undefined> {
  if (!config.forward) return undefined;
  const url = new URL(request.url);
  if (isBrokerPath(url.pathname)) return undefined;
  const route = matchRoute(config.forward.table, url.hostname, url.pathname);
  if (!route) return undefined;
  const method = request.method;
  const base = { route: route.name, method, resource: route.origin };
  const refuse = (failure: ForwardFailure, fields: Record<string, unknown> = {}) => {
    audit(
      {
        event: "forward",
        outcome: failure.stage === "origin" ? "error" : "denied",
        reason: failureReason(failure),
        ...base,
        ...fields,
      },
      now,
    );
    return failureResponse(failure, config.issuer);
  };

  const bearer = readBearerToken(request.headers, url);
  if (!bearer.ok) return refuse({ stage: "bearer", problem: bearer.error });
  const token = bearer.value;
  const hash = await tokenHash(token);

  const verified = await verifiedCallersFor(config, jwks).verify(token, hash, now);
  if (!verified.ok) return refuse({ stage: "verify", problem: verified.error });
  const caller = verified.value;
  const fields = callerFields(caller, now);
  const guardRefusal = (refusal: GuardRefusal, extra: Record<string, unknown> = {}) => {
    const outcome = refusal.reason === "revocations_unavailable" ? "error" : "denied";
    audit(
      { event: "forward", outcome, reason: refusal.reason, ...base, ...fields, ...extra, ...guardFields(refusal) },
      now,
    );
    return forwardGuardResponse(refusal, config.issuer);
  };
  // Revocations and rate limits, on every request: a cached verification or minted token must not outlive a revocation.
  const guarded = await guardCaller(
    config.operations,
    config.policy.rateLimits,
    revocations,
    caller,
    route.origin,
    now,
  );
  if (!guarded.ok) return guardRefusal(guarded.error);
  const revoked = guarded.value.revocations;

  const scopes = scopesFor(route, method);
  if (!scopes)
    return refuse({ stage: "method", problem: "method_not_routed", allow: allowedMethods(route) ?? [] }, fields);
  const decision = decide(caller, { resource: route.origin, scopes }, config.policy);
  if (!decision.ok) return refuse({ stage: "policy", denial: decision.error, scopes }, fields);
  const grant = decision.value;
  const ruleRevoked = firstRevoked(revoked, [["rule", grant.rule]], now);
  if (ruleRevoked) return guardRefusal(ruleRevoked, { rule: grant.rule });

  const lifetime = issuedLifetime(grant, config.maxTokenTtlSeconds, caller, now);
  if (!lifetime.ok) return refuse({ stage: "lifetime", problem: lifetime.error }, fields);
  const ttlSeconds = lifetime.value;
  const { issued, reused } = await mintedTokensFor(config).get(
    hash,
    { issuer: config.issuer, caller, grant, ttlSeconds, now },
    (jti) => firstRevoked(revoked, [["token", jti]], now) !== undefined,
  );
  const tokenFields = {
    ...fields,
    rule: grant.rule,
    roles: grant.roles,
    scope: issued.scope,
    jti: issued.jti,
    exp: issued.expiresAt,
    token_reused: reused,
    ...(guarded.value.rateLimit !== undefined && { rate_limit: guarded.value.rateLimit }),
    ...(!reused && { token_sha256: await sha256Hex(issued.token) }),
  };

  const sent = await sendToOrigin(
    { url: targetUrl(route, url), method, headers: toOriginHeaders(request.headers, issued.token), body: request.body },
    config.forward.timeoutMs,
  );
  if (!sent.ok) return refuse({ stage: "origin", problem: sent.error }, tokenFields);
  audit(
    {
      event: "forward",
      outcome: "granted",
      reason: "granted",
      ...base,
      ...tokenFields,
      origin_status: sent.value.status,
    },
    now,
  );
  return sent.value;
}

function targetUrl(route: Route, url: URL): string {
  // Concatenated, never resolved: a path like //evil.example must stay a path on this origin.
  return `${route.origin}${originPath(route, url.pathname)}${url.search}`;
}

function callerFields(caller: Caller, now: number) {
  return {
    tenant: caller.tenantId,
    client_id: caller.appId,
    token_version: caller.tokenVersion,
    subject_token_remaining_s: caller.expiresAt - now,
  };
}
