// One structured line per decision, for the operator: the precise reason the client was not
// told. Never a token or key: the minted token appears only as its jti and a SHA-256.

export interface AuditEvent {
  readonly event: "token_exchange" | "forward" | "config_invalid" | "admin";
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
  /** Forward mode: the route, the request method, whether the minted token was reused, the origin's status. */
  readonly route?: string;
  readonly method?: string;
  readonly token_reused?: boolean;
  readonly origin_status?: number;
  /** Revocations: the entry that refused a request (or that an admin call made or lifted). */
  readonly revocation?: string;
  readonly revocation_kind?: string;
  readonly revoked_value?: string;
  /** Admin API: what was asked. */
  readonly action?: string;
  /** Rate limits: the [[ratelimits]] binding (tier) that counted the request. */
  readonly rate_limit?: string;
}

export function audit(event: AuditEvent, now: number): void {
  console.log(JSON.stringify({ ts: new Date(now * 1000).toISOString(), ...event }));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
