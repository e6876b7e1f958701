import { audit } from "../audit.ts";
import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import { toWireError, type ExchangeFailure } from "../errors.ts";
import { readExchangeRequest } from "../exchange-request.ts";
import { explainDelegation } from "../delegation/explain.ts";
import { explainDecision, explainRefusal } from "../explain.ts";
import type { KeepAlive } from "../jwks.ts";
import { firstRevoked } from "../revocations/guard.ts";
import { guardCaller, guardFields, tokenGuardResponse } from "../safeguards.ts";

// POST /explain: the /token form, the /token checks, and instead of a token the decision with its
// reasons. Verification is exactly as strict and fails exactly as /token does (the same generic
// invalid_request), so explain is no oracle for forging tokens: only a caller that /token would
// have verified learns anything, and only about itself.

export async function explainSelf(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Response> {
  const { config } = broker;
  if (config.explain === "off") return Response.json({ error: "not_found" }, { status: 404 });
  const parsed = await readExchangeRequest(request);
  if (!parsed.ok) return refuse({ stage: "request", ...parsed.error }, config, now);
  const { subjectToken, resource, scopes, actorToken } = parsed.value;

  if (actorToken !== undefined) {
    const result = await explainDelegation(request, { ...parsed.value, actorToken }, broker, now, keepAlive);
    if ("refused" in result) return refuse(result.refused, config, now, result.fields);
    const { explanation, fields } = result;
    audit({ event: "explain", outcome: explanation.decision, reason: explanation.reason, ...fields }, now, config);
    return Response.json(explanation, { headers: NO_STORE });
  }

  const verified = await broker.callers.verify(subjectToken, now, keepAlive);
  if (!verified.ok) return refuse({ stage: "verify", ...verified.error }, config, now, { resource });
  const { caller } = verified.value;

  // The same safeguards as /token, and they count: the rate limit binding has no read-only check,
  // and an explain call costs the broker what an exchange does (verification, KV, policy), so a
  // caller cannot use /explain to get around its limit. An explain call is one request of the
  // caller's budget; a caller over it is told `rate_limited`, which is what /token would say.
  const guarded = await guardCaller(
    config.operations,
    config.policy.rateLimits,
    broker.revocations,
    caller,
    resource,
    now,
    keepAlive,
  );
  if (!guarded.ok && guarded.error.reason === "revocations_unavailable") {
    audit(
      { event: "explain", outcome: "error", ...guardFields(guarded.error), reason: guarded.error.reason },
      now,
      config,
    );
    return tokenGuardResponse(guarded.error);
  }
  const decided = explainDecision(caller, { resource, scopes }, config, caller.expiresAt - now);
  const ruleRevoked =
    guarded.ok && decided.rule !== undefined
      ? firstRevoked(guarded.value.revocations, [["rule", decided.rule]], now)
      : undefined;
  const refusal = guarded.ok ? ruleRevoked : guarded.error;
  const explanation =
    refusal && refusal.reason !== "revocations_unavailable" ? explainRefusal(decided, refusal) : decided;
  audit(
    {
      event: "explain",
      outcome: explanation.decision,
      reason: explanation.reason,
      tenant: caller.tenantId,
      client_id: caller.appId,
      token_version: caller.tokenVersion,
      resource,
      ...(decided.rule !== undefined && { rule: decided.rule }),
      ...(explanation.revocation !== undefined && { revocation: explanation.revocation }),
      ...(explanation.rateLimit !== undefined && { rate_limit: explanation.rateLimit }),
      ...(scopes && { scope: scopes.join(" ") }),
      subject_token_remaining_s: caller.expiresAt - now,
    },
    now,
    config,
  );
  return Response.json(explanation, { headers: NO_STORE });
}

// Explanations describe one caller's authorisation at one moment: never cached, like /token's answers.
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

/** The request or the subject token failed before any decision: /token's response, byte for byte. */
function refuse(failure: ExchangeFailure, config: Config, now: number, fields: Record<string, unknown> = {}) {
  const wire = toWireError(failure);
  audit({ event: "explain", outcome: "denied", reason: failure.reason, ...fields }, now, config);
  const headers: Record<string, string> = { ...NO_STORE };
  if (wire.retryAfterSeconds !== undefined) headers["retry-after"] = String(wire.retryAfterSeconds);
  return Response.json({ error: wire.error, error_description: wire.description }, { status: wire.status, headers });
}
