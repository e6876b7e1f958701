import type { BrokerTokenError } from "./errors.ts";
import type { BrokerAuthOptions } from "./options.ts";
import type { BrokerToken } from "./token.ts";
import { createVerifier } from "./verifier.ts";

// (req, res, next) middleware for node:http, Express, Connect and Fastify's middie. Typed by the
// shape it uses, not by a framework, so that it fits all of them and needs no Node types.

export interface NodeRequestLike {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  brokerToken?: BrokerToken;
}

export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export type NextFunction = (error?: unknown) => void;

export function requireBrokerToken(
  options: BrokerAuthOptions,
): (req: NodeRequestLike, res: NodeResponseLike, next: NextFunction) => void {
  const verifier = createVerifier(options); // options are checked here, at start-up
  return (req, res, next) => {
    const header = req.headers.authorization;
    verifier.verifyAuthorization(typeof header === "string" ? header : undefined).then(
      (result) => {
        if (!result.ok) {
          const error = verifier.toError(result.error);
          options.onRefusal?.(error);
          return writeRefusal(res, error);
        }
        req.brokerToken = result.value;
        next();
      },
      (bug: unknown) => next(bug), // a defect in the kit, not a refusal: the framework's error path
    );
  };
}

export function writeRefusal(res: NodeResponseLike, error: BrokerTokenError): void {
  res.statusCode = error.status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  if (error.status === 503) res.setHeader("retry-after", String(error.retryAfter));
  else res.setHeader("www-authenticate", error.wwwAuthenticate);
  res.end(JSON.stringify(error.toJSON()));
}
