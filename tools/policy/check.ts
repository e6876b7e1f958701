import { readFileSync } from "node:fs";
import { parseTenantFile } from "../../emulator/tenant-file.ts";
import type { Config } from "../../worker/config.ts";
import type { Rule } from "../../worker/policy.ts";

// What `check` adds to the Worker's own validation: rules that are valid but cannot do anything,
// grants written twice, forward routes that policy never lets through, and (given the emulator's
// tenant file) roles and clients that no app registration backs. Warnings, not errors: each may
// be a deliberate step of a rollout.

export function policyWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const { rules } = config.policy;
  const tenants = config.entra.tenants;
  for (const rule of rules) {
    const accepted = rule.match.tenants && [...rule.match.tenants].filter((t) => tenants.has(t));
    if (accepted && accepted.length === 0)
      warnings.push(
        `rule "${rule.name}" can never match: none of its match.tenants is in ENTRA_TENANT_IDS, so such tokens are refused before policy`,
      );
  }
  // decide() takes the first matching rule that covers the requested scopes, so a later rule whose
  // callers the earlier one always matches, and whose scopes it covers, never decides anything.
  rules.forEach((rule, i) => {
    for (const origin of rule.grant.origins) {
      const earlier = rules.slice(0, i).find((e) => e.grant.origins.has(origin) && covers(e, rule));
      if (!earlier) continue;
      const same = sameMatch(earlier, rule);
      warnings.push(
        same
          ? `rules "${earlier.name}" and "${rule.name}" are duplicate grants: same callers, same origin ${origin}; "${rule.name}" never decides there`
          : `rule "${rule.name}" can never match for ${origin}: "${earlier.name}" comes first, matches every caller it matches and grants all its scopes`,
      );
    }
  });
  for (const route of config.forward?.table.routes ?? []) {
    const granting = config.policy.byOrigin.get(route.origin) ?? [];
    if (granting.length === 0) {
      warnings.push(`route "${route.name}": no rule grants its origin ${route.origin}, so every request is refused`);
      continue;
    }
    for (const [method, scopes] of route.scopes) {
      if (!granting.some((rule) => scopes.every((s) => rule.grant.scopes.includes(s))))
        warnings.push(
          `route "${route.name}": no rule grants ${route.origin} the scopes ${method} needs (${scopes.join(" ")})`,
        );
    }
  }
  return warnings;
}

/** `earlier` matches whenever `later` does, and grants every scope `later` grants. */
function covers(earlier: Rule, later: Rule): boolean {
  const e = earlier.match;
  const l = later.match;
  const clientsOk = !e.clients || (l.clients !== undefined && [...l.clients].every((c) => e.clients!.has(c)));
  const tenantsOk = !e.tenants || (l.tenants !== undefined && [...l.tenants].every((t) => e.tenants!.has(t)));
  const rolesOk = (e.roles ?? []).every((role) => (l.roles ?? []).includes(role));
  const scopesOk = later.grant.scopes.every((s) => earlier.grant.scopes.includes(s));
  return clientsOk && tenantsOk && rolesOk && scopesOk;
}

function sameMatch(a: Rule, b: Rule): boolean {
  const set = (s: ReadonlySet<string> | readonly string[] | undefined) => (s ? [...s].sort().join(" ") : "*");
  return (
    set(a.match.clients) === set(b.match.clients) &&
    set(a.match.roles) === set(b.match.roles) &&
    set(a.match.tenants) === set(b.match.tenants)
  );
}

export interface TenantFacts {
  /** Client app id → display name, from every tenant in the file. */
  readonly clientNames: ReadonlyMap<string, string>;
  /** Client app id → the roles it is assigned on the broker's app registration. */
  readonly assignedRoles: ReadonlyMap<string, readonly string[]>;
  readonly warnings: readonly string[];
}

/** Reads the emulator's tenant file (its own parser) and compares it with the policy. */
export function tenantFileFacts(file: string, config: Config): TenantFacts {
  let parsed: ReturnType<typeof parseTenantFile>;
  try {
    parsed = parseTenantFile(JSON.parse(readFileSync(file, "utf8")));
  } catch (e) {
    throw new Error(`cannot read the tenant file ${file}: ${(e as Error).message}`);
  }
  if (!parsed.ok) throw new Error(`the tenant file ${file} is invalid:\n  ${parsed.issues.join("\n  ")}`);
  const clientNames = new Map<string, string>();
  const assigned = new Set<string>();
  const assignedRoles = new Map<string, string[]>();
  let brokerFound = false;
  for (const tenant of parsed.directory.tenants) {
    for (const app of tenant.apps.values()) {
      clientNames.set(app.appId, app.displayName);
      // The broker's own registration is the app whose app id or identifier URI is an audience.
      const isBroker = [app.appId, ...app.identifierUris].some((id) => config.entra.audiences.has(id));
      if (!isBroker) continue;
      brokerFound = true;
      for (const [client, roles] of app.roleAssignments) {
        for (const role of roles) assigned.add(role);
        assignedRoles.set(client, [...new Set([...(assignedRoles.get(client) ?? []), ...roles])]);
      }
    }
  }
  const warnings: string[] = [];
  if (!brokerFound)
    warnings.push(`tenant file ${file}: no app has an app id or identifier URI in ENTRA_AUDIENCES (the broker's app)`);
  for (const rule of config.policy.rules) {
    for (const role of rule.match.roles ?? [])
      if (brokerFound && !assigned.has(role))
        warnings.push(`rule "${rule.name}": role "${role}" is never assigned in ${file}, so no token carries it`);
    for (const client of rule.match.clients ?? [])
      if (!clientNames.has(client))
        warnings.push(`rule "${rule.name}": client ${client} is not an app registration in ${file}`);
  }
  return { clientNames, assignedRoles, warnings };
}
