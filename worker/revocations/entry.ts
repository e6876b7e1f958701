import { canonicalOrigin } from "../lib/origin.ts";
import { GUID, ITEM_NAME } from "../lib/syntax.ts";
import { isObject } from "../json.ts";
import { err, ok, type Result } from "../result.ts";

// A revocation stops one identity (or one minted token) everywhere: each names its kind and value,
// why, who, when, and optionally when it lifts by itself (a temporary block).

export const REVOCATION_KINDS = ["client", "tenant", "rule", "origin", "token"] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export interface Revocation {
  readonly id: string;
  readonly kind: RevocationKind;
  readonly value: string;
  readonly reason: string;
  /** The admin client's app id (and tenant) that revoked it: the audit trail in the entry itself. */
  readonly revokedBy: string;
  /** Unix seconds. */
  readonly revokedAt: number;
  /** Unix seconds; absent = until lifted with DELETE. */
  readonly expiresAt?: number;
}

export interface RevocationRequest {
  readonly kind: RevocationKind;
  readonly value: string;
  readonly reason: string;
  readonly expiresIn?: number;
}

export type RevocationRequestProblem = {
  readonly reason: "revocation_invalid";
  readonly field: string;
  readonly detail: string;
};

/** A reason is a sentence for the next operator, not a document. */
export const MAX_REASON_CHARS = 500;
/** A temporary block shorter than a minute is lifted before it has reached every location (KV's propagation). */
export const MIN_EXPIRES_IN_SECONDS = 60;
/** A block meant to last longer than 90 days is a permanent one: lift it by hand. */
export const MAX_EXPIRES_IN_SECONDS = 90 * 24 * 3600;
/** Caps the request body: the JSON above is a few hundred bytes. */
export const MAX_REQUEST_BYTES = 4096;

/** A minted token's jti is a UUID; other issuers' jti values are opaque, so allow a safe superset. */
const JTI = /^[A-Za-z0-9._~-]{1,128}$/;

const VALUE_RULES: Record<RevocationKind, { readonly test: (value: string) => boolean; readonly what: string }> = {
  client: { test: (v) => GUID.test(v), what: "a lower-case GUID client app id" },
  tenant: { test: (v) => GUID.test(v), what: "a lower-case GUID tenant id" },
  rule: { test: (v) => ITEM_NAME.test(v), what: "a policy rule name" },
  origin: { test: (v) => canonicalOrigin(v).ok, what: "a canonical origin such as https://api.example.com" },
  token: { test: (v) => JTI.test(v), what: "a minted token's jti" },
};

export function parseRevocationRequest(body: unknown): Result<RevocationRequest, RevocationRequestProblem> {
  const invalid = (field: string, detail: string) => err({ reason: "revocation_invalid" as const, field, detail });
  if (!isObject(body)) return invalid("body", 'must be a JSON object: {"kind","value","reason","expiresIn"?}');
  for (const key of Object.keys(body))
    if (!["kind", "value", "reason", "expiresIn"].includes(key)) return invalid(key, "is not a known field");
  const kind = body.kind;
  if (typeof kind !== "string" || !(REVOCATION_KINDS as readonly string[]).includes(kind))
    return invalid("kind", `must be one of ${REVOCATION_KINDS.join(", ")}`);
  const rule = VALUE_RULES[kind as RevocationKind];
  if (typeof body.value !== "string" || !rule.test(body.value)) return invalid("value", `must be ${rule.what}`);
  const reason = body.reason;
  if (typeof reason !== "string" || reason.trim() === "" || reason.length > MAX_REASON_CHARS)
    return invalid("reason", `is required: 1-${MAX_REASON_CHARS} characters saying why`);
  const expiresIn = body.expiresIn;
  if (
    expiresIn !== undefined &&
    (!Number.isInteger(expiresIn) ||
      (expiresIn as number) < MIN_EXPIRES_IN_SECONDS ||
      (expiresIn as number) > MAX_EXPIRES_IN_SECONDS)
  )
    return invalid(
      "expiresIn",
      `must be whole seconds from ${MIN_EXPIRES_IN_SECONDS} to ${MAX_EXPIRES_IN_SECONDS} (omit it for a block that lasts until lifted)`,
    );
  return ok({
    kind: kind as RevocationKind,
    value: body.value,
    reason: reason.trim(),
    ...(expiresIn !== undefined && { expiresIn: expiresIn as number }),
  });
}

export function isActive(entry: Revocation, now: number): boolean {
  return entry.expiresAt === undefined || now < entry.expiresAt;
}

/** Validates an entry read back from storage: anything else in the document is skipped, not trusted. */
export function readStoredEntry(value: unknown): Revocation | undefined {
  if (!isObject(value)) return undefined;
  const { id, kind, reason, revokedBy, revokedAt, expiresAt } = value;
  if (typeof id !== "string" || typeof kind !== "string" || !(REVOCATION_KINDS as readonly string[]).includes(kind))
    return undefined;
  if (typeof value.value !== "string" || !VALUE_RULES[kind as RevocationKind].test(value.value)) return undefined;
  if (typeof reason !== "string" || typeof revokedBy !== "string" || !Number.isInteger(revokedAt)) return undefined;
  if (expiresAt !== undefined && !Number.isInteger(expiresAt)) return undefined;
  return {
    id,
    kind: kind as RevocationKind,
    value: value.value,
    reason,
    revokedBy,
    revokedAt: revokedAt as number,
    ...(expiresAt !== undefined && { expiresAt: expiresAt as number }),
  };
}
