import { adminRefusalFields, adminRefusalResponse, authenticateAdmin } from "../admin/auth.ts";
import { audit } from "../audit.ts";
import type { Broker } from "../broker.ts";
import type { KeepAlive } from "../jwks.ts";
import { readCapped } from "../lib/read-capped.ts";
import { explainRefusal } from "../explain.ts";
import { firstRevoked, refusalFields, revocationsNow, tokenRefusalResponse } from "../revocations/guard.ts";
import { explainWhatIf, parseWhatIf, type WhatIfProblem } from "../what-if.ts";

// POST /admin/explain: an operator asks what the policy would decide for any identity, with no
// token of that identity: {"tenant", "client", "roles", "resource", "scope"} in, POST /explain's
// answer out.

/** A what-if names one client, up to 256 roles of 256 characters and one origin: 80 KiB is ample. */
const MAX_BODY_BYTES = 80 * 1024;

export async function adminExplain(
  request: Request,
  broker: Broker,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Response> {
  const { config } = broker;
  const admin = await authenticateAdmin(request, broker, now, keepAlive);
  if (!admin.ok) {
    audit({ event: "admin", action: "explain", outcome: "denied", ...adminRefusalFields(admin.error) }, now, config);
    return adminRefusalResponse(admin.error, config);
  }
  const adminFields = { action: "explain", tenant: admin.value.tenantId, client_id: admin.value.appId };

  const body = await readJson(request);
  const question = body.ok ? parseWhatIf(body.value) : body;
  const answer = question.ok ? explainWhatIf(question.value, config) : question;
  if (!answer.ok) {
    audit({ event: "admin", ...adminFields, outcome: "denied", reason: answer.error.reason }, now, config);
    return Response.json(
      { error: "invalid_request", error_description: `${answer.error.field} ${answer.error.problem}` },
      { status: 400, headers: NO_STORE },
    );
  }
  const asked = question.ok ? question.value : undefined;
  // Revocations decide here as on /token (client, tenant, origin, then the granting rule). Rate
  // limits do not: the binding has no read-only check, and asking would spend the budget of the
  // identity asked about, which is not the admin's to spend. The admin's own calls are not limited.
  let { value } = answer;
  if (asked && value.reason !== "tenant_not_allowed") {
    const list = await revocationsNow(broker.revocations, now, keepAlive);
    if (!list.ok) {
      audit(
        { event: "admin", ...adminFields, outcome: "error", ...refusalFields(list.error), reason: list.error.reason },
        now,
        config,
      );
      return tokenRefusalResponse(list.error);
    }
    const subjects = [
      ["client", asked.client],
      ["tenant", value.tenant],
      ["origin", asked.resource],
      ["rule", value.rule],
    ] as const;
    const revoked = firstRevoked(list.value, subjects, now);
    if (revoked?.reason === "revoked") value = { ...explainRefusal(value, revoked), tenant: value.tenant };
  }
  audit(
    {
      event: "admin",
      ...adminFields,
      outcome: value.decision,
      reason: value.reason,
      target_tenant: value.tenant,
      target_client: asked?.client,
      resource: asked?.resource,
      ...(value.rule !== undefined && { rule: value.rule }),
      ...(value.revocation !== undefined && { revocation: value.revocation }),
    },
    now,
    config,
  );
  return Response.json(value, { headers: NO_STORE });
}

const NO_STORE = { "cache-control": "no-store" } as const;

type BodyResult = { ok: true; value: unknown } | { ok: false; error: WhatIfProblem };

async function readJson(request: Request): Promise<BodyResult> {
  const bad = (problem: string): BodyResult => ({
    ok: false,
    error: { reason: "what_if_invalid", field: "body", problem },
  });
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType !== "application/json") return bad("must be application/json");
  if (!request.body) return bad("is empty");
  const bytes = await readCapped(request.body, MAX_BODY_BYTES).catch(() => "unreadable" as const);
  if (bytes === "too_large") return bad(`is larger than ${MAX_BODY_BYTES} bytes`);
  if (bytes === "unreadable") return bad("could not be read");
  try {
    return { ok: true, value: JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) };
  } catch {
    return bad("is not valid UTF-8 JSON");
  }
}
