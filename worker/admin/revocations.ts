import { audit } from "../audit.ts";
import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { Caller } from "../entra-token.ts";
import type { KeepAlive } from "../jwks.ts";
import { readCapped } from "../lib/read-capped.ts";
import { MAX_REQUEST_BYTES, parseRevocationRequest } from "../revocations/entry.ts";
import type { StoreProblem } from "../revocations/store.ts";
import { adminRefusalFields, adminRefusalResponse, authenticateAdmin } from "./auth.ts";

// The admin API over revocations: POST /admin/revocations (201 + the stored entry),
// GET /admin/revocations (every stored entry that has not expired), DELETE /admin/revocations/{id}.
// Every call, allowed or refused, is one audit line naming the admin client.

export type AdminAction = "revoke" | "list_revocations" | "unrevoke";

const NO_STORE = { "cache-control": "no-store" } as const;

export async function adminRevocations(
  action: AdminAction,
  request: Request,
  broker: Broker,
  now: number,
  id?: string,
  keepAlive?: KeepAlive,
): Promise<Response> {
  const { config, revocations: store } = broker;
  const admin = await authenticateAdmin(request, broker, now, keepAlive);
  if (!admin.ok) {
    audit({ event: "admin", outcome: "denied", action, ...adminRefusalFields(admin.error) }, now, config);
    return adminRefusalResponse(admin.error, config);
  }
  const caller = admin.value;
  const who = { client_id: caller.appId, tenant: caller.tenantId };
  if (!store) {
    audit({ event: "admin", outcome: "error", action, reason: "revocations_not_configured", ...who }, now, config);
    return problem(501, "revocations_not_configured", "this broker has no REVOCATIONS KV namespace bound");
  }

  switch (action) {
    case "revoke": {
      const body = await readJson(request);
      const parsed = body.ok ? parseRevocationRequest(body.value) : body;
      if (!parsed.ok) {
        audit({ event: "admin", outcome: "denied", action, reason: "revocation_invalid", ...who }, now, config);
        const status = parsed.error.field === "body" && parsed.error.detail.startsWith("is over") ? 413 : 400;
        return problem(status, "invalid_request", `${parsed.error.field} ${parsed.error.detail}`);
      }
      const added = await store.add(parsed.value, revokedBy(caller), now);
      if (!added.ok) return storeFailure(added.error, action, who, now, config);
      const entry = added.value;
      audit(
        {
          event: "admin",
          outcome: "granted",
          action,
          reason: "revoked",
          ...who,
          revocation: entry.id,
          revocation_kind: entry.kind,
          revoked_value: entry.value,
          detail: entry.reason,
          ...(entry.expiresAt !== undefined && { exp: entry.expiresAt }),
        },
        now,
        config,
      );
      return Response.json(entry, {
        status: 201,
        headers: { ...NO_STORE, location: `${config.issuer}/admin/revocations/${entry.id}` },
      });
    }
    case "list_revocations": {
      const snapshot = await store.snapshot(now, keepAlive);
      if (!snapshot.ok) return storeFailure(snapshot.error, action, who, now, config);
      audit({ event: "admin", outcome: "granted", action, reason: "listed", ...who }, now, config);
      const revocations = snapshot.value.entries.filter((e) => e.expiresAt === undefined || now < e.expiresAt);
      return Response.json({ revocations, readAt: snapshot.value.readAt }, { headers: NO_STORE });
    }
    case "unrevoke": {
      const removed = await store.remove(id ?? "", now);
      if (!removed.ok) return storeFailure(removed.error, action, who, now, config);
      audit(
        {
          event: "admin",
          outcome: "granted",
          action,
          reason: "unrevoked",
          ...who,
          revocation: removed.value.id,
          revocation_kind: removed.value.kind,
          revoked_value: removed.value.value,
        },
        now,
        config,
      );
      return Response.json(removed.value, { headers: NO_STORE });
    }
  }
}

/** Who revoked it, as the entry records it: the admin's app id in its tenant. */
function revokedBy(caller: Caller): string {
  return `${caller.appId}@${caller.tenantId}`;
}

function storeFailure(
  failure: StoreProblem,
  action: AdminAction,
  who: Record<string, string>,
  now: number,
  config: Config,
): Response {
  switch (failure.reason) {
    case "revocation_not_found":
      audit(
        { event: "admin", outcome: "denied", action, reason: failure.reason, ...who, revocation: failure.id },
        now,
        config,
      );
      return problem(404, "not_found", "no revocation with this id (it may have expired already)");
    case "too_many_revocations":
      audit({ event: "admin", outcome: "denied", action, reason: failure.reason, ...who }, now, config);
      return problem(409, "too_many_revocations", `at most ${failure.max} active revocations; lift some first`);
    case "revocations_unavailable":
      audit(
        { event: "admin", outcome: "error", action, reason: failure.reason, ...who, detail: failure.detail },
        now,
        config,
      );
      return Response.json(
        { error: "temporarily_unavailable", error_description: "the revocation store cannot be reached; retry later" },
        { status: 503, headers: { ...NO_STORE, "retry-after": "5" } },
      );
  }
}

function problem(status: number, error: string, description: string): Response {
  return Response.json({ error, error_description: description }, { status, headers: NO_STORE });
}

type JsonBody = { ok: true; value: unknown } | { ok: false; error: { field: string; detail: string } };

async function readJson(request: Request): Promise<JsonBody> {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    return { ok: false, error: { field: "content-type", detail: "must be application/json" } };
  if (!request.body) return { ok: false, error: { field: "body", detail: "is required" } };
  const bytes = await readCapped(request.body, MAX_REQUEST_BYTES);
  if (bytes === "too_large")
    return { ok: false, error: { field: "body", detail: `is over ${MAX_REQUEST_BYTES} bytes` } };
  try {
    return { ok: true, value: JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) };
  } catch {
    return { ok: false, error: { field: "body", detail: "is not valid JSON" } };
  }
}
