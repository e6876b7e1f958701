import { explainedLifetime, type LifetimeCap } from "./lifetime.ts";
import { decide, type AccessRequest, type CallerIdentity, type Policy, type Rule } from "./policy.ts";

// Why a caller would get what it asks for, or why not: the decision of POST /token, computed by
// the same stages (decide, then the issued lifetime), with the rules that could have granted it
// and what the caller lacks for each. Nothing is minted. Used by POST /explain (a verified
// caller about itself), POST /admin/explain and `npm run policy -- explain` (what-if).
//
// Stages that refuse outside the policy (revocations, rate limits) need I/O, so the routes run
// them and hand the refusal to `explainRefusal`, which turns the answer into /token's denial.

/** Bounds the response for an origin that hundreds of role-only rules grant; the first ones in
 *  policy order are the ones decide() tries first. */
export const MAX_CANDIDATES = 50;

export interface Candidate {
  readonly rule: string;
  /** What the caller lacks for this rule: roles it does not hold, requested scopes beyond the rule. */
  readonly missing: { readonly roles: readonly string[]; readonly scopes: readonly string[] };
}

export interface Explanation {
  readonly decision: "granted" | "denied";
  /** The audit reason code /token would log: "granted", or the denial's reason. */
  readonly reason: string;
  /** Granted: the rule that grants, the scope the token would carry, its lifetime and what capped it. */
  readonly rule?: string;
  readonly scope?: string;
  readonly expiresIn?: number;
  readonly lifetimeCappedBy?: LifetimeCap;
  /** The rules that grant this origin to this client in this tenant, in policy order. */
  readonly candidates: readonly Candidate[];
  /** Denied as `revoked`: the id of the revocation that decides (its reason text stays in the admin API). */
  readonly revocation?: string;
  readonly revocationKind?: string;
  /** Denied as `rate_limited`: the tier that is exhausted and when to try again. */
  readonly rateLimit?: string;
  readonly retryAfter?: number;
}

/** A refusal /token would give after verification: a revocation or an exhausted rate limit. */
export type SafeguardRefusal =
  | { readonly reason: "revoked"; readonly revocation: { readonly id: string; readonly kind: string } }
  | { readonly reason: "rate_limited"; readonly binding: string; readonly retryAfterSeconds: number };

/**
 * /token checks revocations and rate limits before the policy, so such a refusal decides whatever
 * the policy says; the candidates stay, for the operator to see what would grant once it is lifted.
 */
export function explainRefusal(explanation: Explanation, refusal: SafeguardRefusal): Explanation {
  const { candidates } = explanation;
  return refusal.reason === "revoked"
    ? {
        decision: "denied",
        reason: "revoked",
        candidates,
        revocation: refusal.revocation.id,
        revocationKind: refusal.revocation.kind,
      }
    : {
        decision: "denied",
        reason: "rate_limited",
        candidates,
        rateLimit: refusal.binding,
        retryAfter: refusal.retryAfterSeconds,
      };
}

export interface ExplainSettings {
  readonly policy: Policy;
  readonly maxTokenTtlSeconds: number;
}

/**
 * `subjectRemaining`: seconds left on the subject token; undefined for a what-if without a token,
 * where only the rule and the broker cap the lifetime.
 */
export function explainDecision(
  caller: CallerIdentity,
  request: AccessRequest,
  settings: ExplainSettings,
  subjectRemaining: number | undefined,
): Explanation {
  const candidates = candidatesFor(caller, request, settings.policy);
  const decision = decide(caller, request, settings.policy);
  if (!decision.ok) return { decision: "denied", reason: decision.error.reason, candidates };
  const grant = decision.value;
  const lifetime = explainedLifetime(grant, settings.maxTokenTtlSeconds, subjectRemaining);
  if (!lifetime.ok) return { decision: "denied", reason: lifetime.error.reason, candidates };
  return {
    decision: "granted",
    reason: "granted",
    rule: grant.rule,
    scope: grant.scopes.join(" "),
    expiresIn: lifetime.value.seconds,
    lifetimeCappedBy: lifetime.value.cappedBy,
    candidates,
  };
}

/**
 * Rules for other clients or tenants are left out: the caller cannot change its client id or
 * tenant, and a workload must not learn how the rest of the fleet is authorised. What remains are
 * the rules whose gap the caller can close (a role assignment, a narrower scope).
 */
function candidatesFor(caller: CallerIdentity, request: AccessRequest, policy: Policy): Candidate[] {
  const rules = (policy.byOrigin.get(request.resource) ?? []).filter((rule) => appliesTo(rule, caller));
  return rules.slice(0, MAX_CANDIDATES).map((rule) => ({
    rule: rule.name,
    missing: {
      roles: (rule.match.roles ?? []).filter((role) => !caller.roles.includes(role)),
      scopes: (request.scopes ?? []).filter((scope) => !rule.grant.scopes.includes(scope)),
    },
  }));
}

function appliesTo(rule: Rule, caller: CallerIdentity): boolean {
  const { clients, tenants } = rule.match;
  return (!clients || clients.has(caller.appId)) && (!tenants || tenants.has(caller.tenantId));
}
