// One structured line per decision, for the operator: the precise reason the client was not
// told. Never a token or key: the minted token appears only as its jti and a SHA-256.
//
// Each line is a CloudEvents 1.0 event in the JSON format (docs/audit-events.md), so log pipelines
// and SIEMs can route on `type` without knowing the broker: the decision's fields are its `data`,
// with `policy_sha256` naming the policy version that decided. CloudEvents extension attributes
// must be [a-z0-9] only, so the hash lives in `data`, not beside `type`.

export type AuditEventName = "token_exchange" | "forward" | "explain" | "admin" | "config_invalid";

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly outcome: "granted" | "denied" | "error";
  readonly reason: string;
  readonly detail?: string;
  readonly tenant?: string;
  readonly client_id?: string;
  readonly token_version?: string;
  readonly roles?: readonly string[];
  readonly rule?: string;
  readonly resource?: string;
  readonly scope?: string;
  readonly jti?: string;
  readonly exp?: number;
  readonly token_sha256?: string;
  readonly subject_token_remaining_s?: number;
  /** Delegation: on whose behalf (the subject token's sub), the origin it was issued for, the
   *  actors newest first (the issued token's client_id, then earlier hops), the subject token's jti. */
  readonly sub?: string;
  readonly via?: string;
  readonly actors?: readonly string[];
  readonly subject_jti?: string;
  /** RFC 9449: thumbprint of the key the issued token is bound to. */
  readonly dpop_jkt?: string;
  /** Forward mode: the route, the request method, whether the minted token was reused, the origin's status. */
  readonly route?: string;
  readonly method?: string;
  readonly token_reused?: boolean;
  readonly origin_status?: number;
  /** Admin API: what the operator did, and (what-if) the identity asked about. */
  readonly action?: string;
  readonly target_tenant?: string;
  readonly target_client?: string;
  /** Revocations: the entry that refused a request (or that an admin call made or lifted). */
  readonly revocation?: string;
  readonly revocation_kind?: string;
  readonly revoked_value?: string;
  /** Rate limits: the [[ratelimits]] binding (tier) that counted the request. */
  readonly rate_limit?: string;
}

/** Who is speaking and under which policy: the loaded Config provides both. */
export interface AuditContext {
  /** The broker's public URL, the CloudEvents `source`. */
  readonly issuer: string;
  readonly policySha256: string;
}

/** The CloudEvents `type` of each event: reverse-DNS prefix plus the decision kind. */
const EVENT_TYPES: Readonly<Record<AuditEventName, string>> = {
  token_exchange: "dev.identity-broker.exchange",
  forward: "dev.identity-broker.forward",
  explain: "dev.identity-broker.explain",
  admin: "dev.identity-broker.admin",
  config_invalid: "dev.identity-broker.config",
};
/** `source` before a configuration could be loaded (no issuer known yet). */
const UNCONFIGURED_SOURCE = "/identity-broker";
/** Log pipelines split or drop long lines (many cap at 1-2 KiB): a line never grows past this;
 *  variable-length fields (roles, detail) give way first. Typical lines are 400-700 bytes. */
export const MAX_AUDIT_LINE_BYTES = 1024;
/** What is left of a long text field in a truncated line. */
const TRUNCATED_TEXT_CHARS = 120;

export function audit(event: AuditEvent, now: number, context?: AuditContext): void {
  console.log(auditLine(event, now, context));
}

export function auditLine(event: AuditEvent, now: number, context?: AuditContext): string {
  const { event: name, ...fields } = event;
  const envelope = (data: Record<string, unknown>) =>
    JSON.stringify({
      specversion: "1.0",
      type: EVENT_TYPES[name],
      source: context?.issuer ?? UNCONFIGURED_SOURCE,
      id: crypto.randomUUID(),
      // RFC 3339, whole seconds: decisions are taken at whole-second `now`.
      time: new Date(now * 1000).toISOString().replace(".000Z", "Z"),
      data: { ...data, ...(context && { policy_sha256: context.policySha256 }) },
    });
  const line = envelope(fields);
  if (byteLength(line) <= MAX_AUDIT_LINE_BYTES) return line;
  const { roles, detail, scope, ...rest } = fields;
  const shortened = envelope({
    ...rest,
    ...(roles && { roles_count: roles.length }),
    ...(detail !== undefined && { detail: detail.slice(0, TRUNCATED_TEXT_CHARS) }),
    ...(scope !== undefined && { scope: scope.slice(0, TRUNCATED_TEXT_CHARS) }),
    truncated: true,
  });
  if (byteLength(shortened) <= MAX_AUDIT_LINE_BYTES) return shortened;
  // Long names everywhere at once (rule, route, origin): keep the fields of bounded size only.
  const { outcome, reason, tenant, client_id, jti, exp, token_sha256, action } = fields;
  return envelope({ outcome, reason, tenant, client_id, jti, exp, token_sha256, action, truncated: true });
}

/** UTF-8 length without encoding the line (a TextEncoder per line costs more than the JSON). */
function byteLength(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Surrogate pairs count 2 + 2 here: 4 bytes in UTF-8, as they should.
    if (code > 0x7f) bytes += code > 0x7ff && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
