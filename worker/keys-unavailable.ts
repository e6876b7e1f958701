// Entra's signing keys cannot be had (endpoint down, or an unknown kid while it is down): both the
// token endpoint and forward mode answer 503 temporarily_unavailable with this Retry-After, which
// clients treat as "try again", unlike the 400/401 they treat as final.

/** How long a client should wait before retrying: a few failure backoffs of the key fetch. */
const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

export const KEYS_UNAVAILABLE = {
  error: "temporarily_unavailable",
  description: "Entra ID signing keys are unavailable right now; retry later",
  retryAfterSeconds: KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS,
} as const;
