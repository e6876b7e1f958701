import type { MiddlewareHandler } from "hono";
import type { BrokerTokenError } from "./errors.ts";
import type { BrokerAuthOptions } from "./options.ts";
import type { BrokerToken } from "./token.ts";
import { createVerifier } from "./verifier.ts";

// Hono middleware (Workers or Node): refuses with RFC 6750 401/403 (or 503 when the broker's keys
// cannot be had), otherwise `c.get("brokerToken")` holds the verified token for the handlers.

export interface BrokerAuthVariables {
  brokerToken: BrokerToken;
}

export function brokerAuth(options: BrokerAuthOptions): MiddlewareHandler<{ Variables: BrokerAuthVariables }> {
  const verifier = createVerifier(options); // options are checked here, at start-up
  return async (c, next) => {
    const result = await verifier.verifyAuthorization(c.req.header("authorization"));
    if (!result.ok) {
      const error = verifier.toError(result.error);
      options.onRefusal?.(error);
      return refusal(error);
    }
    c.set("brokerToken", result.value);
    await next();
  };
}

/** The refusal as a fetch Response: status, challenge, Retry-After, and the RFC 6750 JSON body. */
export function refusal(error: BrokerTokenError): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (error.status === 503) headers["retry-after"] = String(error.retryAfter);
  else headers["www-authenticate"] = error.wwwAuthenticate;
  return Response.json(error.toJSON(), { status: error.status, headers });
}
