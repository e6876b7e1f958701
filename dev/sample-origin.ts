import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

// A downstream service that accepts only broker tokens, verified the way any origin should:
// signature against the broker's published JWKS, issuer, `aud` = its own origin exactly, `typ`
// at+jwt, expiry, and the scope its route needs. It says why it refuses (RFC 6750).

export interface SampleOriginOptions {
  readonly name: string;
  readonly port: number;
  /** The broker's issuer URL; its JWKS is at /.well-known/jwks.json. */
  readonly brokerIssuer: string;
  /** "METHOD /path" -> required scope. */
  readonly routes: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface SampleOrigin {
  readonly origin: string;
  close(): Promise<void>;
}

export interface Refusal {
  readonly status: 401 | 403 | 404;
  readonly error: string;
  readonly reason: string;
}

export async function startSampleOrigin(options: SampleOriginOptions): Promise<SampleOrigin> {
  const log = options.log ?? (() => {});
  const jwks = createRemoteJWKSet(new URL(`${options.brokerIssuer}/.well-known/jwks.json`), {
    // A verifier refetches at most this often on an unknown kid, and rereads the set this often.
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  let origin = "";

  async function authorize(
    req: IncomingMessage,
    route: string,
  ): Promise<{ ok: true; client: string; scope: string } | { ok: false; refusal: Refusal }> {
    const required = options.routes[route];
    if (!required) return { ok: false, refusal: { status: 404, error: "not_found", reason: `no route ${route}` } };
    const header = req.headers.authorization ?? "";
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) return { ok: false, refusal: { status: 401, error: "invalid_token", reason: "no bearer token" } };
    try {
      const { payload } = await jwtVerify(match[1]!, jwks, {
        issuer: options.brokerIssuer,
        audience: origin,
        typ: "at+jwt",
        algorithms: ["ES256", "EdDSA"],
        requiredClaims: ["exp", "iat", "jti", "scope", "client_id"],
      });
      const scopes = String(payload.scope).split(" ");
      if (!scopes.includes(required)) {
        return {
          ok: false,
          refusal: {
            status: 403,
            error: "insufficient_scope",
            reason: `needs scope ${required}, token has ${payload.scope}`,
          },
        };
      }
      return { ok: true, client: String(payload.client_id), scope: String(payload.scope) };
    } catch (e) {
      return { ok: false, refusal: { status: 401, error: "invalid_token", reason: describe(e) } };
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = `${req.method} ${path}`;
    void authorize(req, route).then((result) => {
      if (!result.ok) {
        const { status, error, reason } = result.refusal;
        log(`[${options.name}] ${status} ${route}: ${reason}`);
        if (status !== 404)
          res.setHeader(
            "www-authenticate",
            `Bearer error="${error}", error_description="${reason.replaceAll('"', "'")}"`,
          );
        res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify({ error, error_description: reason }));
        return;
      }
      log(`[${options.name}] 200 ${route}: client ${result.client}, scope "${result.scope}"`);
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ origin: options.name, route, client_id: result.client, scope: result.scope }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("origin has no port");
  origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "token expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    const value = JSON.stringify(e.payload[e.claim]);
    return e.claim === "aud"
      ? `token is for ${value}, not for this origin`
      : `claim ${e.claim} ${value} is not acceptable (${e.reason})`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return "signature does not verify against the broker's keys";
  if (e instanceof errors.JWKSNoMatchingKey) return "signed by a key the broker does not publish";
  if (e instanceof errors.JOSEError) return `${e.code}: ${e.message}`;
  return "token could not be verified";
}
