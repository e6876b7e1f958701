import { createHash } from "node:crypto";
import type { Config } from "../../worker/config.ts";

// `npm run policy -- entra-roles`: the app roles the broker's Entra app registration must define,
// derived from the policy (plus ADMIN_ROLES), and the az CLI commands that assign each role to the
// service principals the policy names. Ids are UUIDv5 of the role value, so the same role keeps
// the same id on every run and in every environment: re-applying the manifest changes nothing.

/** UUIDv5 namespace for broker app roles: UUIDv5(URL namespace, "urn:identity-broker:app-role"). */
const APP_ROLE_NAMESPACE = uuidV5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "urn:identity-broker:app-role");
/** Entra's limit on an app role's description. */
const MAX_DESCRIPTION = 250;

export interface AppRole {
  readonly allowedMemberTypes: readonly ["Application"];
  readonly description: string;
  readonly displayName: string;
  readonly id: string;
  readonly isEnabled: true;
  readonly value: string;
}

export function appRoles(config: Config): AppRole[] {
  const uses = new Map<string, string[]>();
  for (const rule of config.policy.rules)
    for (const role of rule.match.roles ?? []) uses.set(role, [...(uses.get(role) ?? []), rule.name]);
  for (const role of config.operations.adminRoles)
    uses.set(role, [...(uses.get(role) ?? []), "the broker's admin API"]);
  return [...uses.keys()].sort().map((value) => ({
    allowedMemberTypes: ["Application"] as const,
    description: shorten(`Identity broker: ${uses.get(value)!.join(", ")}`, MAX_DESCRIPTION),
    displayName: value,
    id: appRoleId(value),
    isEnabled: true as const,
    value,
  }));
}

export function appRoleId(value: string): string {
  return uuidV5(APP_ROLE_NAMESPACE, value);
}

/** Shell commands (bash) for the az CLI: set the roles, then assign them to the named clients. */
export function azCommands(config: Config, rolesFile: string, clientNames: ReadonlyMap<string, string>): string {
  const audiences = [...config.entra.audiences];
  const brokerApp = audiences.find((a) => /^[0-9a-f-]{36}$/.test(a)) ?? audiences[0]!;
  const lines = [
    "# The broker's app registration (from ENTRA_AUDIENCES) and its service principal.",
    `BROKER_APP=${shellQuote(brokerApp)}`,
    'BROKER_SP=$(az ad sp show --id "$BROKER_APP" --query id -o tsv)',
    "# 1. Define the app roles (the whole appRoles array; ids are stable). Entra refuses to delete an",
    "#    enabled role: disable one first (isEnabled: false) if the policy stopped using it.",
    `az ad app update --id "$BROKER_APP" --app-roles @${rolesFile}`,
    "# 2. Assign each role to the client apps the policy names (app-only: the client's service principal).",
  ];
  const assignments = new Map<string, Set<string>>(); // client → roles
  const unassigned: string[] = [];
  for (const rule of config.policy.rules) {
    const roles = rule.match.roles ?? [];
    if (roles.length === 0) continue;
    if (!rule.match.clients) {
      unassigned.push(`#    rule "${rule.name}" admits any client holding ${roles.join(" + ")}: assign by hand.`);
      continue;
    }
    for (const client of rule.match.clients) {
      const set = assignments.get(client) ?? new Set<string>();
      for (const role of roles) set.add(role);
      assignments.set(client, set);
    }
  }
  for (const client of [...assignments.keys()].sort()) {
    const name = clientNames.get(client);
    lines.push(`# ${name ? `${name} (${client})` : client}`);
    lines.push(`CLIENT_SP=$(az ad sp show --id ${client} --query id -o tsv)`);
    for (const role of [...assignments.get(client)!].sort()) {
      lines.push(
        `az rest --method POST --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$BROKER_SP/appRoleAssignedTo" \\`,
        `  --body "{\\"principalId\\":\\"$CLIENT_SP\\",\\"resourceId\\":\\"$BROKER_SP\\",\\"appRoleId\\":\\"${appRoleId(role)}\\"}"  # ${role}`,
      );
    }
  }
  if (unassigned.length > 0) lines.push("# Rules that name roles but no clients:", ...unassigned);
  if (config.operations.adminRoles.size > 0)
    lines.push(
      `#    Admin roles (${[...config.operations.adminRoles].join(", ")}): assign to operators' tools by hand.`,
    );
  return `${lines.join("\n")}\n`;
}

/** RFC 9562 §5.5: name-based UUID, SHA-1. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ""), "hex");
  const hash = createHash("sha1").update(ns).update(name, "utf8").digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
