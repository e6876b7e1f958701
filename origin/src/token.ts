import type { JWTPayload } from "jose";
import { failure, type Failure } from "./failure.ts";
import { err, ok, type Result } from "./result.ts";

// What a verified broker token says, as the origin uses it. Raw claims stay available in
// `claims`, but the named fields are the ones checked and typed here.

export interface BrokerToken {
  /** The calling application (the token's `client_id`). */
  readonly clientId: string;
  /** The granted scopes (the token's space-separated `scope`). */
  readonly scopes: readonly string[];
  /** The caller's Entra app roles the broker's grant used (`roles`); empty when absent. */
  readonly roles: readonly string[];
  /** The caller's Entra tenant (`tid`), when the token names one. */
  readonly tenantId: string | undefined;
  /** When the token expires, in seconds since the epoch (`exp`). */
  readonly expiresAt: number;
  /** The token's unique id (`jti`), for logs, replay and revocation checks. */
  readonly jti: string;
  /** Every claim of the verified token. */
  readonly claims: Readonly<JWTPayload>;
}

/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** Longest identifier claim kept (client_id, jti, tid); broker values are GUIDs or UUIDs. */
const MAX_ID_LENGTH = 256;

/** Claims jose has verified (signature, iss, exp/nbf/iat syntax) → the typed token, or why not. */
export function toBrokerToken(payload: JWTPayload): Result<BrokerToken, Failure> {
  const clientId = identifier(payload, "client_id");
  if (!clientId.ok) return clientId;
  const jti = identifier(payload, "jti");
  if (!jti.ok) return jti;
  if (typeof payload.exp !== "number") return err(failure("claim_missing", { claim: "exp" }));

  const scope = payload.scope;
  if (scope === undefined) return err(failure("claim_missing", { claim: "scope" }));
  const scopes = typeof scope === "string" ? scope.split(" ") : [];
  if (scopes.length === 0 || !scopes.every((s) => SCOPE_TOKEN.test(s))) {
    return err(failure("claim_invalid", { claim: "scope", detail: "scope must be space-separated scope names" }));
  }

  const roles = payload.roles ?? [];
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string")) {
    return err(failure("claim_invalid", { claim: "roles", detail: "roles must be an array of strings" }));
  }
  const tid = payload.tid;
  if (tid !== undefined && (typeof tid !== "string" || tid.length > MAX_ID_LENGTH)) {
    return err(failure("claim_invalid", { claim: "tid", detail: "tid must be a string" }));
  }

  return ok(
    Object.freeze({
      clientId: clientId.value,
      scopes: Object.freeze(scopes),
      roles: Object.freeze([...(roles as string[])]),
      tenantId: tid,
      expiresAt: payload.exp,
      jti: jti.value,
      claims: Object.freeze({ ...payload }),
    }),
  );
}

function identifier(payload: JWTPayload, claim: string): Result<string, Failure> {
  const value = payload[claim];
  if (value === undefined) return err(failure("claim_missing", { claim }));
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) {
    return err(failure("claim_invalid", { claim, detail: `${claim} must be a non-empty string` }));
  }
  return ok(value);
}
