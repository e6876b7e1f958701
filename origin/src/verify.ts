import type { BrokerTokenOptions } from "./options.ts";
import type { BrokerToken } from "./token.ts";
import { createVerifier, type Verifier } from "./verifier.ts";

/** The request a DPoP-bound token came with. */
export interface DpopRequest {
  readonly method: string;
  /** The request's URL (or its path); only the path is used, with this origin's own origin. */
  readonly url: string;
  /** The `DPoP` header value. */
  readonly proof: string | null | undefined;
}

// The framework-free entry point. Options are usually one constant object; its parsed form is
// kept beside it so that each call costs a map lookup, not a re-validation.
const verifiers = new WeakMap<BrokerTokenOptions, Verifier>();

/**
 * Verifies a broker token for this origin and returns what it says.
 * @throws {import("./errors.ts").BrokerTokenError} with `code`, `status` and `wwwAuthenticate` on any refusal.
 * Pass `dpop` when the token came as `Authorization: DPoP <token>` (RFC 9449): the request's method,
 * URL and `DPoP` header. Without it the token counts as a bearer token, and a DPoP-bound one is refused.
 * @throws {TypeError} when the options themselves are wrong (a configuration bug).
 */
export async function verifyBrokerToken(
  jwt: string,
  options: BrokerTokenOptions,
  dpop?: DpopRequest,
): Promise<BrokerToken> {
  let verifier = verifiers.get(options);
  if (!verifier) {
    verifier = createVerifier(options);
    verifiers.set(options, verifier);
  }
  const presented = dpop && {
    scheme: "DPoP" as const,
    method: dpop.method,
    // Compared on this origin's own URL: the path is the request's, the origin is the audience.
    url: `${verifier.config.audience}${new URL(dpop.url, verifier.config.audience).pathname}`,
    proof: dpop.proof,
  };
  const result = await verifier.verify(jwt, presented);
  if (!result.ok) throw verifier.toError(result.error);
  return result.value;
}
