// One structured line per decision, for the operator: the precise reason the client was not
// told. Never a token or key: the minted token appears only as its jti and a SHA-256.

export interface AuditEvent {
  readonly event: "token_exchange" | "forward" | "config_invalid";
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
}

export function audit(event: AuditEvent, now: number): void {
  console.log(JSON.stringify({ ts: new Date(now * 1000).toISOString(), ...event }));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
