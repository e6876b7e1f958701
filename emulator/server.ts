// HTTP routing: the same routes on the HTTPS listener and the optional loopback HTTP listener.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { entraErrors, errorBody, type EntraError } from "./errors.ts";
import { handleTokenRequest, type TokenEndpointDeps } from "./token-endpoint.ts";
import { jwks, openIdConfigurationV1, openIdConfigurationV2 } from "./discovery.ts";
import type { Issuers } from "./token-issue.ts";
import type { KeyRing } from "./signing-keys.ts";
import type { Directory, Tenant } from "./tenant-file.ts";

/** Largest token request body: a form with an x5c-bearing assertion is a few KB; this stops memory abuse. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface RouteContext {
  readonly directory: Directory;
  readonly keys: KeyRing;
  readonly issuers: Issuers;
  readonly token: TokenEndpointDeps;
  readonly now: () => number;
  readonly record: (path: string) => void;
}

type Route = { kind: "openid-v2" | "openid-v1" | "keys-v2" | "keys-v1" | "token"; tenant: string };

const ROUTES: [RegExp, Route["kind"]][] = [
  [/^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/, "openid-v2"],
  [/^\/([^/]+)\/\.well-known\/openid-configuration$/, "openid-v1"],
  [/^\/([^/]+)\/discovery\/v2\.0\/keys$/, "keys-v2"],
  [/^\/([^/]+)\/discovery\/keys$/, "keys-v1"],
  [/^\/([^/]+)\/oauth2\/v2\.0\/token$/, "token"],
];

function route(pathname: string): Route | undefined {
  for (const [re, kind] of ROUTES) {
    const m = re.exec(pathname);
    if (m) return { kind, tenant: decodeURIComponent(m[1]!) };
  }
  return undefined;
}

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

async function handle(ctx: RouteContext, origin: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", origin);
  ctx.record(url.pathname);
  const r = route(url.pathname);
  if (!r) return send(res, 404, { error: "not_found" });
  const wantMethod = r.kind === "token" ? "POST" : "GET";
  if (req.method !== wantMethod) {
    res.setHeader("Allow", wantMethod);
    return send(res, 405, { error: "method_not_allowed" });
  }
  const trace = { traceId: randomUUID(), correlationId: headerOf(req, "client-request-id") ?? randomUUID() };
  res.setHeader("x-ms-request-id", trace.traceId);
  res.setHeader("client-request-id", trace.correlationId);

  // Keys are the same for every tenant, and Entra serves them under /common too.
  if (r.kind === "keys-v2" || r.kind === "keys-v1") {
    if (r.tenant !== "common" && !ctx.directory.byName.has(r.tenant.toLowerCase())) {
      return sendError(ctx, res, origin, entraErrors.tenantNotFound(r.tenant), trace, "invalid_tenant");
    }
    const template = r.kind === "keys-v2" ? ctx.issuers.v2("{tenantid}") : undefined;
    return send(res, 200, jwks(ctx.keys.published(), template), { "Cache-Control": "max-age=86400, private" });
  }

  const tenant = ctx.directory.byName.get(r.tenant.toLowerCase());
  if (!tenant) {
    // Entra answers discovery for an unknown tenant with error "invalid_tenant", the token endpoint with "invalid_request".
    return sendError(
      ctx,
      res,
      origin,
      entraErrors.tenantNotFound(r.tenant),
      trace,
      r.kind === "token" ? undefined : "invalid_tenant",
    );
  }
  switch (r.kind) {
    case "openid-v2":
      return send(
        res,
        200,
        openIdConfigurationV2({ origin, tenantId: tenant.tenantId, issuer: ctx.issuers.v2(tenant.tenantId) }),
      );
    case "openid-v1":
      return send(
        res,
        200,
        openIdConfigurationV1({ origin, tenantId: tenant.tenantId, issuer: ctx.issuers.v1(tenant.tenantId) }),
      );
    case "token":
      return token(ctx, tenant, origin, req, res, trace);
  }
}

async function token(
  ctx: RouteContext,
  tenant: Tenant,
  origin: string,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
): Promise<void> {
  const type = (headerOf(req, "content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    return sendError(
      ctx,
      res,
      origin,
      entraErrors.requestMalformed("The request body must be application/x-www-form-urlencoded."),
      trace,
    );
  }
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined)
    return send(res, 413, { error: "invalid_request", error_description: "Request body too large." });
  const result = await handleTokenRequest(tenant, new URLSearchParams(body), ctx.token, Math.floor(ctx.now() / 1000));
  if (!result.ok) return sendError(ctx, res, origin, result.error, trace);
  return send(res, 200, result.value, { "Cache-Control": "no-store, no-cache", Pragma: "no-cache" });
}

interface Trace {
  traceId: string;
  correlationId: string;
}

function sendError(
  ctx: RouteContext,
  res: ServerResponse,
  origin: string,
  err: EntraError,
  trace: Trace,
  errorOverride?: string,
): void {
  const body: Record<string, unknown> = { ...errorBody(err, ctx.now(), trace.traceId, trace.correlationId, origin) };
  if (errorOverride) body.error = errorOverride;
  send(res, err.status, body, { "Cache-Control": "no-store, no-cache" });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads the body as UTF-8, or undefined once it passes `limit` bytes (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
