import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  type BrokerToken,
  type NodeRequestLike,
  protectedResourceMetadata,
  requireBrokerToken,
} from "../origin/src/index.ts";

// A downstream service that accepts only broker tokens, through the origin kit: one
// requireBrokerToken guard per route (its scope), RFC 9728 metadata so that clients can find the
// broker from this origin alone, and the kit's precise refusal reasons in the log.

export interface SampleOriginOptions {
  readonly name: string;
  readonly port: number;
  /** The broker's issuer URL; the kit discovers its JWKS from it (RFC 8414). */
  readonly brokerIssuer: string;
  /** "METHOD /path" -> required scope. */
  readonly routes: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface SampleOrigin {
  readonly origin: string;
  close(): Promise<void>;
}

type Guard = ReturnType<typeof requireBrokerToken>;

export async function startSampleOrigin(options: SampleOriginOptions): Promise<SampleOrigin> {
  const log = options.log ?? (() => {});
  // The kit needs this origin's own URL (tokens' aud), known once the port is bound.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("origin has no port");
  const origin = `http://127.0.0.1:${address.port}`;

  const scopes = Object.values(options.routes);
  const metadata = protectedResourceMetadata({ resource: origin, issuer: options.brokerIssuer, scopes });
  const guards = new Map<string, Guard>();
  for (const [route, scope] of Object.entries(options.routes)) {
    guards.set(
      route,
      requireBrokerToken({
        issuer: options.brokerIssuer,
        audience: origin,
        scopes: [scope],
        onRefusal: (error) =>
          log(`[${options.name}] ${error.status} ${route}: ${error.code}${error.detail ? ` (${error.detail})` : ""}`),
      }),
    );
  }

  handle = (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = `${req.method} ${path}`;
    metadata(req, res, () => {
      const guard = guards.get(route);
      if (!guard) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_found" }));
        return;
      }
      const request = req as IncomingMessage & NodeRequestLike;
      guard(request, res, (error) => {
        if (error) {
          res.writeHead(500).end();
          return;
        }
        const token = request.brokerToken as BrokerToken;
        const scope = token.scopes.join(" ");
        log(`[${options.name}] 200 ${route}: client ${token.clientId}, scope "${scope}"`);
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ origin: options.name, route, client_id: token.clientId, scope }));
      });
    });
  };

  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
