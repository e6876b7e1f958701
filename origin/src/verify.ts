import type { BrokerTokenOptions } from "./options.ts";
import type { BrokerToken } from "./token.ts";
import { createVerifier, type Verifier } from "./verifier.ts";

// The framework-free entry point. Options are usually one constant object; its parsed form is
// kept beside it so that each call costs a map lookup, not a re-validation.
const verifiers = new WeakMap<BrokerTokenOptions, Verifier>();

/**
 * Verifies a broker token for this origin and returns what it says.
 * @throws {import("./errors.ts").BrokerTokenError} with `code`, `status` and `wwwAuthenticate` on any refusal.
 * @throws {TypeError} when the options themselves are wrong (a configuration bug).
 */
export async function verifyBrokerToken(jwt: string, options: BrokerTokenOptions): Promise<BrokerToken> {
  let verifier = verifiers.get(options);
  if (!verifier) {
    verifier = createVerifier(options);
    verifiers.set(options, verifier);
  }
  const result = await verifier.verify(jwt);
  if (!result.ok) throw verifier.toError(result.error);
  return result.value;
}
