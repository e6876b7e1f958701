// What the tenant segment of a path names: a tenant of the directory, one of Entra's multi-tenant
// aliases, or nothing (unknown, or not even a well-formed tenant name).
import { GUID } from "./json-fields.ts";
import type { Directory, Tenant } from "./tenant-file.ts";

export type MultiTenantAlias = "common" | "organizations" | "consumers";

export type TenantRef =
  | { kind: "tenant"; tenant: Tenant }
  | { kind: "alias"; alias: MultiTenantAlias }
  | { kind: "unknown"; name: string }
  | { kind: "malformed"; name: string };

/** A DNS name with at least two labels, the shape of a verified domain like contoso.onmicrosoft.com. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;

export function resolveTenant(directory: Directory, segment: string): TenantRef {
  const name = segment.toLowerCase();
  if (name === "common" || name === "organizations" || name === "consumers") return { kind: "alias", alias: name };
  const tenant = directory.byName.get(name);
  if (tenant) return { kind: "tenant", tenant };
  if (!GUID.test(name) && !DNS_NAME.test(name)) return { kind: "malformed", name: segment };
  return { kind: "unknown", name: segment };
}
