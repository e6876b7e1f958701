// HTTP routing: the same routes on the HTTPS listener and the optional loopback HTTP listener.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { entraErrors, errorBody, type EntraError } from "./errors.ts";
import { handleTokenRequest, type TokenEndpointDeps } from "./token-endpoint.ts";
import { jwks, openIdConfigurationV1, openIdConfigurationV2, type PublishedKey } from "./discovery.ts";
import type { Issuers } from "./token-issue.ts";
import type { FaultSet } from "./faults.ts";
import { resolveTenant } from "./tenant-names.ts";
import { headerOf, readBody, send, sleep } from "./http-util.ts";
import type { Directory, Tenant } from "./tenant-file.ts";

/** Largest token request body: a form with an x5c-bearing assertion is a few KB; this stops memory abuse. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface RouteContext {
  readonly directory: Directory;
  /** The keys a tenant's JWKS publishes (tenant given), or the /common key set (undefined). */
  readonly publishedKeys: (tenant: Tenant | undefined, hideNewest: boolean) => readonly PublishedKey[];
  readonly issuers: Issuers;
  readonly token: TokenEndpointDeps;
  readonly faults: FaultSet;
  readonly now: () => number;
  readonly record: (path: string) => void;
  /** The control API (`/_emulator/...`), handled outside the Entra routes. */
  readonly control: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
}

type Kind = "openid-v2" | "openid-v1" | "keys-v2" | "keys-v1" | "token-v2" | "token-v1";

const ROUTES: [RegExp, Kind][] = [
  [/^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/, "openid-v2"],
  [/^\/([^/]+)\/\.well-known\/openid-configuration$/, "openid-v1"],
  [/^\/([^/]+)\/discovery\/v2\.0\/keys$/, "keys-v2"],
  [/^\/([^/]+)\/discovery\/keys$/, "keys-v1"],
  [/^\/([^/]+)\/oauth2\/v2\.0\/token$/, "token-v2"],
  [/^\/([^/]+)\/oauth2\/token$/, "token-v1"],
];

function route(pathname: string): { kind: Kind; tenant: string } | undefined {
  for (const [re, kind] of ROUTES) {
    const m = re.exec(pathname);
    if (m) return { kind, tenant: decodeURIComponent(m[1]!) };
  }
  return undefined;
}

const endpointOf = (k: Kind) => (k.startsWith("token") ? "token" : k.startsWith("keys") ? "keys" : "discovery");

/** A request handler bound to the origin (scheme://host:port) its listener is reached on. */
export function createHandler(ctx: RouteContext, origin: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(ctx, origin, req, res).catch(() => {
      // A bug, not bad input: answer 500 without details, once.
      if (!res.headersSent) send(res, 500, { error: "server_error" });
      else res.destroy();
    });
  };
}

interface Trace {
  traceId: string;
  correlationId: string;
}

async function handle(ctx: RouteContext, origin: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", origin);
  if (url.pathname.startsWith("/_emulator/")) return ctx.control(req, res, url);
  ctx.record(url.pathname);
  const r = route(url.pathname);
  if (!r) return send(res, 404, { error: "not_found" });
  const wantMethod = r.kind.startsWith("token") ? "POST" : "GET";
  if (req.method !== wantMethod) {
    res.setHeader("Allow", wantMethod);
    return send(res, 405, { error: "method_not_allowed" });
  }
  const trace = { traceId: randomUUID(), correlationId: headerOf(req, "client-request-id") ?? randomUUID() };
  res.setHeader("x-ms-request-id", trace.traceId);
  res.setHeader("client-request-id", trace.correlationId);
  const reply = (err: EntraError, override?: string, headers?: Record<string, string>) =>
    sendError(ctx, res, origin, err, trace, override, headers);
  const isToken = r.kind.startsWith("token");
  const ref = resolveTenant(ctx.directory, r.tenant);

  const fault = ctx.faults.apply(endpointOf(r.kind), ref.kind === "tenant" ? ref.tenant.tenantId : r.tenant);
  if (fault.delayMs > 0) await sleep(fault.delayMs);
  if (fault.answer?.kind === "drop") return void req.socket.destroy();
  if (fault.answer) {
    const retryAfter = fault.answer.retryAfterSeconds;
    const headers = retryAfter !== undefined ? { "Retry-After": String(retryAfter) } : undefined;
    return reply(
      fault.answer.kind === "throttle" ? entraErrors.throttled() : entraErrors.unavailable(),
      undefined,
      headers,
    );
  }

  // Entra answers discovery for a bad tenant with error "invalid_tenant", the token endpoint with "invalid_request".
  const tenantError = isToken ? undefined : "invalid_tenant";
  if (ref.kind === "malformed") return reply(entraErrors.tenantMalformed(ref.name), tenantError);
  if (ref.kind === "unknown" || (ref.kind === "alias" && ref.alias === "consumers" && !isToken))
    return reply(entraErrors.tenantNotFound(r.tenant), tenantError);
  if (ref.kind === "alias" && isToken)
    return reply(
      ref.alias === "organizations" ? entraErrors.tenantRealmMissing() : entraErrors.tenantEndpointUnsupported(),
    );

  const tenant = ref.kind === "tenant" ? ref.tenant : undefined;
  const segment = tenant?.tenantId ?? r.tenant.toLowerCase();
  switch (r.kind) {
    case "keys-v2":
    case "keys-v1":
      return send(res, 200, jwks(ctx.publishedKeys(tenant, fault.hideNewestKey), r.kind === "keys-v2" ? 2 : 1), {
        "Cache-Control": "max-age=86400, private",
      });
    case "openid-v2":
    case "openid-v1": {
      const v2 = r.kind === "openid-v2";
      const issuerOf = v2 ? ctx.issuers.v2 : ctx.issuers.v1;
      const doc = {
        origin,
        tenantId: segment,
        issuer: issuerOf(tenant?.tenantId ?? "{tenantid}"),
        regionScope: tenant?.tenantRegionScope ?? null,
      };
      return send(res, 200, v2 ? openIdConfigurationV2(doc) : openIdConfigurationV1(doc));
    }
    case "token-v2":
    case "token-v1":
      return token(ctx, tenant!, r.kind === "token-v2" ? 2 : 1, req, res, reply);
  }
}

async function token(
  ctx: RouteContext,
  tenant: Tenant,
  version: 1 | 2,
  req: IncomingMessage,
  res: ServerResponse,
  reply: (err: EntraError) => void,
): Promise<void> {
  const type = (headerOf(req, "content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded")
    return reply(entraErrors.requestMalformed("The request body must be application/x-www-form-urlencoded."));
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined)
    return send(res, 413, { error: "invalid_request", error_description: "Request body too large." });
  const call = { form: new URLSearchParams(body), version, authorization: headerOf(req, "authorization") };
  const result = await handleTokenRequest(tenant, call, ctx.token, Math.floor(ctx.now() / 1000));
  if (!result.ok) return reply(result.error);
  return send(res, 200, result.value, { "Cache-Control": "no-store, no-cache", Pragma: "no-cache" });
}

function sendError(
  ctx: RouteContext,
  res: ServerResponse,
  origin: string,
  err: EntraError,
  trace: Trace,
  errorOverride?: string,
  headers: Record<string, string> = {},
): void {
  const body: Record<string, unknown> = { ...errorBody(err, ctx.now(), trace.traceId, trace.correlationId, origin) };
  if (errorOverride) body.error = errorOverride;
  send(res, err.status, body, { "Cache-Control": "no-store, no-cache", ...headers });
}
