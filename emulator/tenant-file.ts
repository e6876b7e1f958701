// The tenant file: app registrations of one or more emulated tenants, as JSON. Parsed once into a
// frozen Directory; every problem is reported with the path of the field at fault.
import type { Tenant, App, TenantFileResult } from "./tenant-model.ts";
import { parseApp } from "./app-registration.ts";
import { GUID, isObject, optionalStringArray, type Fail } from "./json-fields.ts";

export * from "./tenant-model.ts";

/** Most commercial tenants report "NA" (North America); Microsoft's own reports "WW". */
const DEFAULT_REGION_SCOPE = "NA";
export { derivedGuid } from "./json-fields.ts";

/** Validates a parsed JSON value as a tenant file. Issues name the field: `tenants[0].apps[2].certificates[0]: ...`. */
export function parseTenantFile(input: unknown): TenantFileResult {
  const issues: string[] = [];
  const fail: Fail = Object.assign((path: string, msg: string) => void issues.push(`${path}: ${msg}`), { issues });
  if (!isObject(input) || !Array.isArray(input.tenants) || input.tenants.length === 0) {
    return { ok: false, issues: ["tenants: must be a non-empty array"] };
  }
  const tenants: Tenant[] = [];
  const byName = new Map<string, Tenant>();
  input.tenants.forEach((raw: unknown, ti: number) => {
    const tp = `tenants[${ti}]`;
    const tenant = parseTenant(raw, tp, fail);
    if (!tenant) return;
    for (const name of [tenant.tenant.tenantId, ...tenant.domains]) {
      const key = name.toLowerCase();
      if (byName.has(key)) fail(tp, `tenant name '${name}' is used twice`);
      byName.set(key, tenant.tenant);
    }
    tenants.push(tenant.tenant);
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, directory: Object.freeze({ tenants: Object.freeze(tenants), byName }) };
}

function parseTenant(raw: unknown, tp: string, fail: Fail): { tenant: Tenant; domains: string[] } | undefined {
  if (!isObject(raw)) return void fail(tp, "must be an object");
  const tenantId = raw.tenantId;
  if (typeof tenantId !== "string" || !GUID.test(tenantId)) fail(`${tp}.tenantId`, "must be a GUID");
  const domains = optionalStringArray(raw.domains, `${tp}.domains`, fail) ?? [];
  if (raw.rejectReplayedAssertions !== undefined && typeof raw.rejectReplayedAssertions !== "boolean") {
    fail(`${tp}.rejectReplayedAssertions`, "must be a boolean");
  }
  const region = raw.tenantRegionScope ?? DEFAULT_REGION_SCOPE;
  if (typeof region !== "string" || !/^[A-Z]{2,4}$/.test(region))
    fail(`${tp}.tenantRegionScope`, 'must be a region code like "NA", "EU", "AS", "OC", "SA", "AF" or "WW"');
  const signingKeys = raw.signingKeys ?? "shared";
  if (signingKeys !== "shared" && signingKeys !== "tenant") fail(`${tp}.signingKeys`, 'must be "shared" or "tenant"');
  if (!Array.isArray(raw.apps)) return void fail(`${tp}.apps`, "must be an array");
  const apps = new Map<string, App>();
  const rawApps: unknown[] = raw.apps;
  const appIds = new Set(rawApps.map((a) => (isObject(a) && typeof a.appId === "string" ? a.appId.toLowerCase() : "")));
  rawApps.forEach((rawApp, ai) => {
    const app = parseApp(rawApp, `${tp}.apps[${ai}]`, String(tenantId), appIds, fail);
    if (!app) return;
    if (apps.has(app.appId)) fail(`${tp}.apps[${ai}].appId`, `'${app.appId}' is registered twice`);
    apps.set(app.appId, app);
  });
  const resources = new Map<string, App>();
  for (const app of apps.values()) {
    for (const id of [app.appId, ...app.identifierUris]) {
      const key = id.toLowerCase();
      const other = resources.get(key);
      if (other && other !== app) fail(`${tp}.apps`, `identifier '${id}' is used by two apps`);
      resources.set(key, app);
    }
  }
  if (typeof tenantId !== "string") return undefined;
  const tenant: Tenant = Object.freeze({
    tenantId: tenantId.toLowerCase(),
    displayName: typeof raw.displayName === "string" ? raw.displayName : tenantId,
    rejectReplayedAssertions: raw.rejectReplayedAssertions === true,
    tenantRegionScope: String(region),
    ownSigningKeys: signingKeys === "tenant",
    apps,
    resources,
  });
  return { tenant, domains };
}
