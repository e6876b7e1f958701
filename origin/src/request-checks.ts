import { failure, type Failure } from "./failure.ts";
import { err, ok, type Result } from "./result.ts";
import type { BrokerToken } from "./token.ts";

// Checks that depend on the moment and the route, not only on the token: they run on every
// request, cached token or not.

/** `exp` is strict (no skew): the broker's policy sets the lifetime and an origin must not extend it. */
export function checkLifetime(token: BrokerToken, now: number): Result<BrokerToken, Failure> {
  const nowSeconds = Math.floor(now / 1000);
  if (nowSeconds >= token.expiresAt) {
    return err(failure("token_expired", { detail: `exp ${token.expiresAt}, now ${nowSeconds}` }));
  }
  return ok(token);
}

export function checkScopes(token: BrokerToken, required: readonly string[]): Result<BrokerToken, Failure> {
  if (required.every((scope) => token.scopes.includes(scope))) return ok(token);
  const missing = required.filter((scope) => !token.scopes.includes(scope));
  return err(
    failure("scope_insufficient", {
      requiredScopes: required,
      detail: `missing ${missing.join(" ")}; the token has ${token.scopes.join(" ")}`,
    }),
  );
}
