import type { BrokerToken } from "../broker-token.ts";
import type { CallerIdentity, Grant } from "../policy.ts";
import { err, ok, type Result } from "../result.ts";
import type { DelegationPolicy, DelegationRule } from "./policy.ts";

// The delegation decision (RFC 8693 §2.1, §4.1): may this actor carry this broker token on to that
// origin? Only narrowing is possible: the actor must own the origin the token was issued for, a
// delegation rule must name the hop, and the new token's scopes are a subset of the subject
// token's and the rule's. Pure: the caller verified both tokens and passes the results.

export interface DelegationRequest {
  /** T1: the broker token the actor received. */
  readonly subject: BrokerToken;
  /** The actor, from its own Entra app-only token. */
  readonly actor: CallerIdentity;
  readonly resource: string;
  readonly scopes: readonly string[] | undefined;
}

export interface DelegatedGrant extends Grant {
  /** T1's `sub`: on whose behalf, unchanged along the chain. */
  readonly subject: string;
  /** The new chain, newest first: the actor, then T1's actors. */
  readonly actors: readonly string[];
}

export type DelegationDenial =
  /** The subject token was issued for an origin the actor does not own (or nobody owns). */
  | { readonly reason: "actor_not_owner"; readonly via: string }
  | { readonly reason: "actor_tenant_mismatch" }
  /** The actor is already the subject or an earlier actor (A → B → A). */
  | { readonly reason: "chain_loop" }
  | { readonly reason: "chain_too_deep"; readonly depth: number; readonly maxDepth: number }
  /** No delegation rule lets this actor carry this subject's token from that origin to this one. */
  | { readonly reason: "delegation_not_allowed" }
  /** A requested scope that the subject token does not carry. */
  | { readonly reason: "scope_widened"; readonly scopes: readonly string[] }
  /** A requested scope inside the subject token's, but beyond every matching rule. */
  | { readonly reason: "scope_not_granted"; readonly scopes: readonly string[] }
  /** Nothing left: the subject token and the rule have no scope in common. */
  | { readonly reason: "scope_empty" };

export function decideDelegation(
  request: DelegationRequest,
  policy: DelegationPolicy,
): Result<DelegatedGrant, DelegationDenial> {
  const { subject, actor, resource } = request;
  if (!policy.owners.get(subject.audience)?.has(actor.appId))
    return err({ reason: "actor_not_owner", via: subject.audience });
  // One chain, one tenant: the subject's rights are its tenant's, and no rule spans tenants.
  if (actor.tenantId !== subject.tenantId) return err({ reason: "actor_tenant_mismatch" });
  if (actor.appId === subject.subject || subject.actors.includes(actor.appId)) return err({ reason: "chain_loop" });
  const depth = subject.actors.length + 1;
  if (depth > policy.maxDepth) return err({ reason: "chain_too_deep", depth, maxDepth: policy.maxDepth });

  const wanted = request.scopes;
  if (wanted) {
    const widened = wanted.filter((s) => !subject.scopes.includes(s));
    if (widened.length > 0) return err({ reason: "scope_widened", scopes: widened });
  }
  const candidates = (policy.byOrigin.get(resource) ?? []).filter((rule) => matches(rule, subject, actor));
  if (candidates.length === 0) return err({ reason: "delegation_not_allowed" });
  const rule = wanted ? candidates.find((r) => wanted.every((s) => r.grant.scopes.includes(s))) : candidates[0]!;
  if (!rule) {
    const grantable = new Set(candidates.flatMap((r) => r.grant.scopes));
    return err({ reason: "scope_not_granted", scopes: wanted!.filter((s) => !grantable.has(s)) });
  }
  // With no scope asked for: everything the rule allows that the subject token still carries.
  const scopes = wanted ?? rule.grant.scopes.filter((s) => subject.scopes.includes(s));
  if (scopes.length === 0) return err({ reason: "scope_empty" });
  return ok({
    rule: rule.name,
    resource,
    scopes,
    roles: rule.match.actors.roles ?? [],
    maxTtlSeconds: rule.grant.maxTtlSeconds,
    requireDpop: rule.requireDpop,
    subject: subject.subject,
    actors: [actor.appId, ...subject.actors],
  });
}

function matches(rule: DelegationRule, subject: BrokerToken, actor: CallerIdentity): boolean {
  const { subjects, actors, via } = rule.match;
  if (via !== subject.audience) return false;
  if (subjects && !subjects.has(subject.subject)) return false;
  if (actors.clients && !actors.clients.has(actor.appId)) return false;
  if (actors.tenants && !actors.tenants.has(actor.tenantId)) return false;
  if (actors.roles && !actors.roles.every((role) => actor.roles.includes(role))) return false;
  return true;
}
