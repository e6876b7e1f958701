import type { Revocation, RevocationKind } from "./entry.ts";
import { UNAVAILABLE_RETRY_AFTER_SECONDS, type RevocationSnapshot, type RevocationStore } from "./store.ts";
import type { KeepAlive } from "../jwks.ts";
import { err, ok, type Result } from "../result.ts";

// The revocation check both routes run after the caller is verified: one list per request (from
// the isolate's cache), then a lookup per kind that applies at that stage.

export type RevocationsUnavailable = {
  readonly reason: "revocations_unavailable";
  readonly detail: string;
  readonly retryAfterSeconds: number;
};
export type RevocationRefusal =
  | { readonly reason: "revoked"; readonly revocation: Revocation }
  | RevocationsUnavailable;

/** The list for this request; an isolate without the REVOCATIONS binding has nothing revoked. */
export async function revocationsNow(
  store: RevocationStore | undefined,
  now: number,
  keepAlive?: KeepAlive,
): Promise<Result<RevocationSnapshot | undefined, RevocationsUnavailable>> {
  if (!store) return ok(undefined);
  const snapshot = await store.snapshot(now, keepAlive);
  if (snapshot.ok) return snapshot;
  return err({
    reason: "revocations_unavailable",
    detail: "detail" in snapshot.error ? String(snapshot.error.detail) : snapshot.error.reason,
    retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
  });
}

/** The first active revocation among (kind, value) pairs, in the order given. */
export function firstRevoked(
  snapshot: RevocationSnapshot | undefined,
  subjects: ReadonlyArray<readonly [RevocationKind, string | undefined]>,
  now: number,
): RevocationRefusal | undefined {
  if (!snapshot) return undefined;
  for (const [kind, value] of subjects) {
    if (value === undefined) continue;
    const revocation = snapshot.find(kind, value, now);
    if (revocation) return { reason: "revoked", revocation };
  }
  return undefined;
}

/** Audit fields of a refusal: the revocation's id, never its reason text (that stays in the admin API). */
export function refusalFields(refusal: RevocationRefusal): Record<string, unknown> {
  return refusal.reason === "revoked"
    ? { revocation: refusal.revocation.id, revocation_kind: refusal.revocation.kind }
    : { detail: refusal.detail };
}

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

/** POST /token: a revoked caller is a bad request; a revoked destination is a bad target (RFC 8693 §2.2.2). */
export function tokenRefusalResponse(refusal: RevocationRefusal): Response {
  if (refusal.reason === "revocations_unavailable") {
    return Response.json(
      {
        error: "temporarily_unavailable",
        error_description: "the broker cannot check revocations right now; retry later",
      },
      { status: 503, headers: { ...NO_STORE, "retry-after": String(refusal.retryAfterSeconds) } },
    );
  }
  const { kind } = refusal.revocation;
  const target = kind === "origin" || kind === "rule";
  return Response.json(
    {
      error: target ? "invalid_target" : "invalid_request",
      error_description: target
        ? "the requested resource has been revoked by the broker's operator"
        : `this ${kind === "tenant" ? "tenant" : kind === "token" ? "subject token" : "client"} has been revoked by the broker's operator`,
    },
    { status: 400, headers: NO_STORE },
  );
}
