// The control API under /_emulator/ on both listeners: switch faults on and off, roll signing keys.
// Loopback callers only: it changes what every client of the emulator sees.
//   GET    /_emulator/faults             list             POST /_emulator/faults   {kind, endpoint, ...}
//   DELETE /_emulator/faults             clear all        DELETE /_emulator/faults/{id}
//   GET    /_emulator/keys[?tenant=]     key state        POST /_emulator/keys/rotate {tenant?, mode?}
//   POST   /_emulator/keys/drop-retired  {tenant?}
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultSet, FaultSpec } from "./faults.ts";
import type { KeyState, Rotation, RotationMode } from "./signing-keys.ts";
import { readBody, send } from "./http-util.ts";

/** Control requests are a few fields of JSON. */
const MAX_CONTROL_BODY_BYTES = 4 * 1024;

export interface ControlTarget {
  readonly faults: FaultSet;
  /** Tenant id for an id or domain; undefined when unknown. */
  tenantId(name: string): string | undefined;
  rotate(tenant: string | undefined, mode: RotationMode): Rotation;
  dropRetired(tenant: string | undefined): string[];
  keyState(tenant: string | undefined): KeyState;
}

type Failure = { status: number; reason: string; detail: string };
const fail = (status: number, reason: string, detail: string): Failure => ({ status, reason, detail });

function isLoopback(addr: string | undefined): boolean {
  return addr === "127.0.0.1" || addr === "::1" || addr === "::ffff:127.0.0.1";
}

export function createControlApi(target: ControlTarget) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (!isLoopback(req.socket.remoteAddress))
      return send(res, 403, { reason: "control_forbidden", detail: "the control API answers loopback callers only" });
    const out = await dispatch(target, req, url);
    if ("status" in out && "reason" in out) return send(res, out.status, { reason: out.reason, detail: out.detail });
    return send(res, out.created ? 201 : 200, out.body);
  };
}

type Ok = { body: unknown; created?: boolean };

async function dispatch(t: ControlTarget, req: IncomingMessage, url: URL): Promise<Ok | Failure> {
  const path = url.pathname.slice("/_emulator".length);
  const method = req.method ?? "GET";
  const json = async (): Promise<Record<string, unknown> | Failure> => {
    const raw = await readBody(req, MAX_CONTROL_BODY_BYTES);
    if (raw === undefined) return fail(413, "body_too_large", `at most ${MAX_CONTROL_BODY_BYTES} bytes`);
    if (raw.trim() === "") return {};
    try {
      const v: unknown = JSON.parse(raw);
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {}
    return fail(400, "body_invalid", "the body must be a JSON object");
  };
  const tenantOf = (v: unknown): string | undefined | Failure => {
    if (v === undefined || v === null) return undefined;
    const id = typeof v === "string" ? t.tenantId(v) : undefined;
    return id ?? fail(404, "tenant_unknown", `no tenant '${String(v)}' in the tenant file`);
  };
  const isFailure = (v: unknown): v is Failure => typeof v === "object" && v !== null && "reason" in v;

  if (path === "/faults" && method === "GET") return { body: { faults: t.faults.list() } };
  if (path === "/faults" && method === "DELETE") {
    const n = t.faults.list().length;
    t.faults.clear();
    return { body: { cleared: n } };
  }
  if (path === "/faults" && method === "POST") {
    const body = await json();
    if (isFailure(body)) return body;
    const tenant = tenantOf(body.tenant);
    if (isFailure(tenant)) return tenant;
    const added = t.faults.add({ ...body, ...(tenant ? { tenant } : {}) } as FaultSpec);
    return added.ok ? { body: { fault: added.value }, created: true } : fail(400, "fault_invalid", added.reason);
  }
  const one = /^\/faults\/(\d+)$/.exec(path);
  if (one && method === "DELETE")
    return t.faults.remove(Number(one[1]))
      ? { body: { removed: Number(one[1]) } }
      : fail(404, "fault_unknown", `no fault ${one[1]}`);
  if (path === "/keys" && method === "GET") {
    const tenant = tenantOf(url.searchParams.get("tenant") ?? undefined);
    return isFailure(tenant) ? tenant : { body: t.keyState(tenant) };
  }
  if ((path === "/keys/rotate" || path === "/keys/drop-retired") && method === "POST") {
    const body = await json();
    if (isFailure(body)) return body;
    const tenant = tenantOf(body.tenant);
    if (isFailure(tenant)) return tenant;
    if (path === "/keys/drop-retired") return { body: { dropped: t.dropRetired(tenant) } };
    const mode = body.mode ?? "planned";
    if (mode !== "planned" && mode !== "emergency") return fail(400, "mode_invalid", 'mode: "planned" or "emergency"');
    try {
      return { body: t.rotate(tenant, mode) };
    } catch (e) {
      return fail(409, "rotation_busy", (e as Error).message);
    }
  }
  return fail(404, "control_unknown", `no control route ${method} ${url.pathname}`);
}
