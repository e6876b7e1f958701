import type { Config } from "./config.ts";
import { explainDecision, type Explanation } from "./explain.ts";
import { parseScopeParameter } from "./exchange-request.ts";
import { isObject } from "./json.ts";
import { canonicalOrigin } from "./lib/origin.ts";
import { GUID } from "./lib/syntax.ts";
import { err, ok, type Result } from "./result.ts";

// A what-if question for the policy, asked without any token: POST /admin/explain's body and
// `npm run policy -- explain`'s flags both become this, through the same validation.

export interface WhatIf {
  /** Absent: the broker's only allow-listed tenant (an error when there are several). */
  readonly tenant?: string;
  readonly client: string;
  readonly roles: readonly string[];
  readonly resource: string;
  /** Undefined: all that the rule grants, as when /token gets no scope. */
  readonly scopes: readonly string[] | undefined;
}

export interface WhatIfProblem {
  readonly reason: "what_if_invalid";
  readonly field: string;
  readonly problem: string;
}

/** As many roles as a verified Entra token may carry (entra-token.ts): a what-if is no bigger. */
const MAX_ROLES = 256;
const MAX_ROLE_LENGTH = 256;
const FIELDS = ["tenant", "client", "roles", "resource", "scope"];

export function parseWhatIf(raw: unknown): Result<WhatIf, WhatIfProblem> {
  const problem = (field: string, text: string) => err({ reason: "what_if_invalid" as const, field, problem: text });
  if (!isObject(raw)) return problem("body", `must be a JSON object with ${FIELDS.join(", ")}`);
  for (const key of Object.keys(raw)) if (!FIELDS.includes(key)) return problem(key, "unknown field");
  const { tenant, client, roles, resource, scope } = raw;
  if (tenant !== undefined && (typeof tenant !== "string" || !GUID.test(tenant)))
    return problem("tenant", "must be a lower-case tenant GUID");
  if (typeof client !== "string" || !GUID.test(client))
    return problem("client", "must be the client's app id, a lower-case GUID");
  if (
    !Array.isArray(roles) ||
    roles.length > MAX_ROLES ||
    !roles.every((r) => typeof r === "string" && r.length > 0 && r.length <= MAX_ROLE_LENGTH)
  )
    return problem("roles", `must be an array of up to ${MAX_ROLES} app role values ([] for none)`);
  if (typeof resource !== "string" || !canonicalOrigin(resource).ok)
    return problem("resource", "must be a canonical origin such as https://api.example.com");
  let scopes: string[] | undefined;
  if (scope !== undefined) {
    scopes = typeof scope === "string" ? parseScopeParameter(scope) : undefined;
    if (!scopes) return problem("scope", "must be space-separated scope tokens (RFC 6749 §3.3)");
  }
  return ok({ ...(tenant !== undefined && { tenant }), client, roles: [...new Set(roles)], resource, scopes });
}

export type WhatIfAnswer = Explanation & { readonly tenant: string };

export function explainWhatIf(question: WhatIf, config: Config): Result<WhatIfAnswer, WhatIfProblem> {
  const tenants = [...config.entra.tenants];
  const tenant = question.tenant ?? (tenants.length === 1 ? tenants[0] : undefined);
  if (tenant === undefined)
    return err({
      reason: "what_if_invalid",
      field: "tenant",
      problem: `is required: this broker accepts ${tenants.length} tenants`,
    });
  // /token would refuse such a token at verification: say so rather than evaluate rules for it.
  if (!config.entra.tenants.has(tenant))
    return ok({ decision: "denied", reason: "tenant_not_allowed", tenant, candidates: [] });
  const caller = { tenantId: tenant, appId: question.client, roles: question.roles };
  const explanation = explainDecision(
    caller,
    { resource: question.resource, scopes: question.scopes },
    config,
    undefined,
  );
  return ok({ ...explanation, tenant });
}
