import { parseIssuer, parseOrigin, parseScopes, PROTECTED_RESOURCE_PATH } from "./options.ts";

// RFC 9728 protected resource metadata: a client that knows only this origin learns which broker
// issues its tokens and which scopes exist, from /.well-known/oauth-protected-resource. The 401s of
// the middlewares point here (resource_metadata), so MCP clients and agents find the broker alone.

export interface ProtectedResourceOptions {
  /** This origin, exactly as tokens' `aud` names it (RFC 9728 §3.3: equal to the URL it is fetched from). */
  readonly resource: string;
  /** The broker's issuer URL. */
  readonly issuer: string;
  /** Scopes this origin understands (scopes_supported). */
  readonly scopes?: readonly string[];
}

export interface ProtectedResourceDocument {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly bearer_methods_supported: readonly string[];
}

interface HonoContextLike {
  readonly req: { readonly path: string; readonly method: string };
}

interface NodeRequestLike {
  readonly url?: string;
  readonly method?: string;
}

interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export interface ProtectedResourceMetadata {
  /** Hono middleware or handler: answers GET on the well-known path, passes anything else on. */
  (c: HonoContextLike, next: () => Promise<void>): Promise<Response | undefined>;
  /** node:http / Express / Connect middleware: answers GET on the well-known path, else calls next. */
  (req: NodeRequestLike, res: NodeResponseLike, next?: (error?: unknown) => void): void;
  /** The well-known path this serves. */
  readonly path: string;
  readonly document: ProtectedResourceDocument;
  /** For a bare fetch handler: the metadata response for that path, otherwise undefined. */
  fetch(request: Request): Response | undefined;
}

/** Clients may cache it: it changes only when the origin's configuration does. */
const CACHE_CONTROL = "public, max-age=3600";

export function protectedResourceMetadata(options: ProtectedResourceOptions): ProtectedResourceMetadata {
  const resource = parseOrigin("resource", options.resource);
  const document: ProtectedResourceDocument = Object.freeze({
    resource,
    authorization_servers: Object.freeze([parseIssuer(options.issuer)]),
    scopes_supported: parseScopes(options.scopes),
    bearer_methods_supported: Object.freeze(["header"]),
  });
  const body = JSON.stringify(document);
  const respond = () =>
    new Response(body, { headers: { "content-type": "application/json", "cache-control": CACHE_CONTROL } });
  const serves = (method: string | undefined, path: string) =>
    (method === "GET" || method === "HEAD") && path === PROTECTED_RESOURCE_PATH;

  function handler(
    a: HonoContextLike | NodeRequestLike,
    b?: (() => Promise<void>) | NodeResponseLike,
    c?: (error?: unknown) => void,
  ): Promise<Response | undefined> | undefined {
    if (b !== undefined && typeof b === "object") {
      const req = a as NodeRequestLike;
      if (!serves(req.method, new URL(req.url ?? "/", "http://origin").pathname)) {
        c?.();
        return undefined;
      }
      b.statusCode = 200;
      b.setHeader("content-type", "application/json");
      b.setHeader("cache-control", CACHE_CONTROL);
      b.end(body);
      return undefined;
    }
    const ctx = a as HonoContextLike;
    if (serves(ctx.req.method, ctx.req.path)) return Promise.resolve(respond());
    return (b as () => Promise<void>)().then(() => undefined);
  }

  return Object.assign(handler as ProtectedResourceMetadata, {
    path: PROTECTED_RESOURCE_PATH,
    document,
    fetch: (request: Request) => (serves(request.method, new URL(request.url).pathname) ? respond() : undefined),
  });
}
