import { audit, sha256Hex } from "../audit.ts";
import type { Broker } from "../broker.ts";
import { readDpopProof } from "../dpop.ts";
import type { Caller } from "../entra-token.ts";
import type { KeepAlive } from "../jwks.ts";
import { issuedLifetime } from "../lifetime.ts";
import { readBearerToken } from "./bearer.ts";
import { toOriginHeaders } from "./headers.ts";
import { failureResponse, type ForwardFailure } from "./refusals.ts";
import { allowedMethods, isBrokerPath, matchRoute, originPath, scopesFor, type Route } from "./route-table.ts";
import { sendToOrigin } from "./send.ts";
import { decide } from "../policy.ts";
import { firstRevoked } from "../revocations/guard.ts";
import { forwardGuardResponse, guardCaller, guardFields, type GuardRefusal } from "../safeguards.ts";

// Forward mode: bearer ─► verify Entra token ─► policy (route scopes for the method) ─► mint (or
// reuse) ─► send to origin ─► stream back. Returns undefined when no route matches, so the
// broker's 404 answers.

export async function forward(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Response | undefined> {
  const { config } = broker;
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
        reason: failure.reason,
        ...base,
        ...fields,
      },
      now,
      config,
    );
    return failureResponse(failure, config.issuer);
  };

  const bearer = readBearerToken(request.headers, url);
  if (!bearer.ok) return refuse({ stage: "bearer", ...bearer.error });
  // A caller may bind its request to its key with a proof for this URL (RFC 9449 §7, ath of its
  // Entra token). The binding ends here: the origin hop carries the broker's own bearer token.
  const expectation = {
    method,
    url: request.url,
    accessToken: bearer.value,
    clockSkewSeconds: config.entra.clockSkewSeconds,
  };
  const proof = await readDpopProof(request.headers, expectation, broker.dpopProofs, now);
  if (!proof.ok) return refuse({ stage: "dpop", ...proof.error });
  const jkt = proof.value?.jkt;

  const verified = await broker.callers.verify(bearer.value, now, keepAlive);
  if (!verified.ok) return refuse({ stage: "verify", ...verified.error });
  const { caller, subjectKey } = verified.value;
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
    broker.revocations,
    caller,
    route.origin,
    now,
    keepAlive,
  );
  if (!guarded.ok) return guardRefusal(guarded.error);
  const revoked = guarded.value.revocations;

  const scopes = scopesFor(route, method);
  if (!scopes)
    return refuse({ stage: "method", reason: "method_not_routed", allow: allowedMethods(route) ?? [] }, fields);
  const decision = decide(caller, { resource: route.origin, scopes }, config.policy);
  if (!decision.ok) return refuse({ stage: "policy", ...decision.error, routeScopes: scopes }, fields);
  const grant = decision.value;
  if (grant.requireDpop && !jkt) return refuse({ stage: "dpop", reason: "dpop_required", because: "rule" }, fields);
  const ruleRevoked = firstRevoked(revoked, [["rule", grant.rule]], now);
  if (ruleRevoked) return guardRefusal(ruleRevoked, { rule: grant.rule });

  const lifetime = issuedLifetime(grant, config.maxTokenTtlSeconds, caller, now);
  if (!lifetime.ok) return refuse({ stage: "lifetime", ...lifetime.error }, fields);
  const ttlSeconds = lifetime.value;
  const { issued, reused } = await broker.mintedTokens.get(
    subjectKey,
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
    ...(jkt && { dpop_jkt: jkt }),
    ...(guarded.value.rateLimit !== undefined && { rate_limit: guarded.value.rateLimit }),
    ...(!reused && { token_sha256: await sha256Hex(issued.token) }),
  };

  const sent = await sendToOrigin(
    { url: targetUrl(route, url), method, headers: toOriginHeaders(request.headers, issued.token), body: request.body },
    config.forward.timeoutMs,
  );
  if (!sent.ok) return refuse({ stage: "origin", ...sent.error }, tokenFields);
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
    config,
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
