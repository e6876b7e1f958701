/**
 * RFC 8693 token exchange at the broker: an Entra ID access token in, a downstream token for one
 * resource (RFC 8707 origin) out. Errors keep the broker's RFC 6749 `error` code; the subject token
 * never appears in them.
 */
// The broker's own origin check, built into this package (it uses only URL): the signer's pre-check
// can never drift from what the broker accepts.
import { canonicalOrigin } from "../worker/lib/origin.ts";
import { SignerError } from "./errors.ts";
import type { HttpClient } from "./network.ts";

export type ExchangedToken = {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
};

const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** A broker's error_description is a sentence; more is noise (or a misbehaving peer) in our errors and logs. */
const MAX_DESCRIPTION_CHARS = 300;

/** The broker compares origins exactly (canonical ASCII origin); say so here rather than spend a round trip. */
export function validateResource(resource: string): string {
  if (canonicalOrigin(resource).ok) return resource;
  let suggestion = "https://host[:port]";
  try {
    const origin = new URL(resource).origin;
    if (origin !== "null" && origin !== resource) suggestion = origin;
  } catch {
    // Not a URL at all: the generic form is the best hint.
  }
  throw new SignerError(
    "ERR_REQUEST",
    `resource "${resource.slice(0, 200)}" is not a canonical origin the broker accepts; use ${suggestion} (https, a DNS host name or IP address in lower case, no path, no trailing slash, no default port; http only for localhost)`,
  );
}

/**
 * The broker answers every subject-token verification failure with this one description (the precise
 * reason stays in its audit log); it is the signal that a cached Entra token must be replaced.
 */
const SUBJECT_REFUSED = /^subject_token (is not a valid|expires too soon)/;

export function isSubjectTokenRefusal(e: unknown): boolean {
  return (
    e instanceof SignerError &&
    e.code === "ERR_EXCHANGE" &&
    e.oauthError === "invalid_request" &&
    e.brokerDescription !== undefined &&
    SUBJECT_REFUSED.test(e.brokerDescription)
  );
}

export type ExchangeOptions = {
  /** Delegation (RFC 8693 §2.1): the signer's own Entra token, acting for the subject token's owner. */
  actorToken?: string;
  /** RFC 9449: a proof for POST {brokerUrl}/token, so the broker binds the issued token to our key. */
  dpopProof?: string;
};

export async function exchangeToken(
  http: HttpClient,
  brokerUrl: string,
  subjectToken: string,
  resource: string,
  scope?: string,
  options: ExchangeOptions = {},
): Promise<ExchangedToken> {
  validateResource(resource);
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    resource,
  });
  if (scope !== undefined && scope !== "") form.set("scope", scope);
  if (options.actorToken !== undefined) {
    form.set("actor_token", options.actorToken);
    form.set("actor_token_type", ACCESS_TOKEN_TYPE);
  }
  const res = await http.request(
    "POST",
    `${brokerUrl}/token`,
    {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      ...(options.dpopProof !== undefined && { dpop: options.dpopProof }),
    },
    form.toString(),
  );
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
    if (typeof body !== "object" || body === null) throw new Error();
  } catch {
    throw new SignerError(
      "ERR_NETWORK",
      `the broker at ${brokerUrl} answered ${res.status} without a JSON body; is brokerUrl right?`,
      { status: res.status },
    );
  }
  if (res.status !== 200) {
    const error = typeof body.error === "string" ? body.error.slice(0, 64) : "unknown_error";
    const description =
      typeof body.error_description === "string"
        ? body.error_description
            .split(subjectToken)
            .join("[subject token]")
            .split(options.actorToken ?? subjectToken)
            .join("[actor token]")
            .slice(0, MAX_DESCRIPTION_CHARS)
        : "";
    throw new SignerError(
      "ERR_EXCHANGE",
      `the broker refused the exchange for ${resource}: ${error}${description ? `: ${description}` : ""}`,
      { oauthError: error, status: res.status, brokerDescription: description },
    );
  }
  if (typeof body.access_token !== "string" || typeof body.expires_in !== "number") {
    throw new SignerError("ERR_NETWORK", `the broker at ${brokerUrl} answered 200 without access_token/expires_in`);
  }
  return {
    access_token: body.access_token,
    issued_token_type: typeof body.issued_token_type === "string" ? body.issued_token_type : ACCESS_TOKEN_TYPE,
    token_type: typeof body.token_type === "string" ? body.token_type : "Bearer",
    expires_in: body.expires_in,
    scope: typeof body.scope === "string" ? body.scope : "",
  };
}
