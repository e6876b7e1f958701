/**
 * Entra ID app-only tokens through msal-node, which sends the requests; this module holds the tokens
 * (per scope) and adds what msal lacks for a shared daemon: one in-flight request per scope for many
 * concurrent callers, background refresh from half a token's lifetime, dropping a token the broker
 * refuses, and which assertion (jti) obtained which token, for the audit trail.
 */
import {
  AuthError,
  ConfidentialClientApplication,
  LogLevel,
  type AuthenticationResult,
  type INetworkModule,
} from "@azure/msal-node";
import { createAssertionSigner, type AssertionSigner, type SignedAssertion } from "./assertion.ts";
import type { SignerConfig } from "./config.ts";
import type { CertificateCredential } from "./credential.ts";
import { SignerError } from "./errors.ts";
import { readFederatedToken } from "./federated.ts";
import { tokenHash, type Logger } from "./log.ts";

export type AccessToken = {
  readonly accessToken: string;
  readonly expiresOn: Date;
  readonly scope: string;
  /** The `jti` of the assertion (signed, or the federated token) that obtained it: the audit trail's link. */
  readonly assertionJti: string | undefined;
  /** Hex SHA-256 thumbprint of the certificate that signed that assertion (absent for a federated credential). */
  readonly thumbprintSha256: string | undefined;
};

export type TokenSource = {
  getToken(scope: string): Promise<AccessToken>;
  /**
   * Forget `refused` (the broker said it is not valid: Entra retired its signing key, or it was revoked)
   * so the next getToken fetches a new one. A newer token already cached is kept.
   */
  invalidate(scope: string, refused: string): void;
  /** Public facts about the credential, for `cert show` and the daemon's /health. */
  describe(): CredentialDescription;
  /** Counters for /health and tests: private-key operations and token requests sent to Entra ID. */
  stats(): { assertionsSigned: number; tokenRequests: number };
  /** Resolves when no background refresh is running (tests, shutdown). */
  idle(): Promise<void>;
};

export type CredentialDescription =
  | {
      kind: "certificate";
      signingThumbprintSha256: string;
      certificates: { thumbprintSha256: string; thumbprintSha1: string; notBefore: string; notAfter: string }[];
    }
  | { kind: "federated"; tokenFile: string };

/**
 * Refresh in the background from half the token's lifetime (or Entra's refresh_in, if earlier), as
 * MSAL and SPIRE do: with a 60-minute token an Entra outage must last ~25 minutes before a caller
 * fails, where refreshing 10 minutes before expiry left 5.
 */
export const REFRESH_AT_FRACTION = 0.5;

/**
 * A token is never handed out with less than this left: the caller still has to send it, and the
 * receiving side allows only a few minutes of clock skew. msal-node uses the same 5-minute buffer.
 */
export const MIN_REMAINING_MS = 5 * 60_000;

/**
 * At most one background refresh per scope in this interval, whatever its outcome: after a failure the
 * token is still good (don't hammer Entra), and a very short-lived token must not turn every cached
 * read into a request.
 */
const REFRESH_MIN_INTERVAL_MS = 30_000;

export type TokenSourceOptions = {
  config: SignerConfig;
  /** Loaded certificates (for a certificate credential); ignored for a federated one. */
  certificates?: readonly CertificateCredential[];
  network: INetworkModule;
  log: Logger;
  now?: () => number;
  /** The audit trail: one call per assertion signed (public facts only). */
  onAssertionSigned?: (signed: SignedAssertion) => void;
};

function authorityMetadata(config: SignerConfig): string {
  // Supplying the metadata skips discovery: the token endpoint is the pinned one, not whatever a
  // discovery document says, so the assertion's `aud` and the endpoint msal posts to are the same string.
  const a = config.authority;
  return JSON.stringify({
    token_endpoint: config.tokenEndpoint,
    authorization_endpoint: `${a}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${a}/oauth2/v2.0/logout`,
    issuer: `${a}/v2.0`,
    jwks_uri: `${a}/discovery/v2.0/keys`,
  });
}

/**
 * Watches what msal actually sends so a client assertion goes over the wire at most once (unique jti
 * per request), and keeps the last transport failure: msal replaces it with a bare "network_error".
 */
function trackingNetwork(
  inner: INetworkModule,
  onAssertionSent: (assertion: string, scope: string) => void,
  onFailure: (e: unknown) => void,
): INetworkModule {
  const watch = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      onFailure(e);
      throw e;
    });
  return {
    sendGetRequestAsync: (url, options, timeout) => watch(inner.sendGetRequestAsync(url, options, timeout)),
    sendPostRequestAsync: (url, options) => {
      const form = new URLSearchParams(options?.body ?? "");
      const sent = form.get("client_assertion");
      if (sent) onAssertionSent(sent, form.get("scope") ?? "");
      return watch(inner.sendPostRequestAsync(url, options));
    },
  };
}

function mapMsalError(e: unknown, scope: string, lastNetworkError: unknown): SignerError {
  if (e instanceof SignerError) return e;
  if (e instanceof AuthError && e.errorCode === "network_error" && lastNetworkError instanceof SignerError) {
    return new SignerError(
      "ERR_NETWORK",
      `no token for ${scope}: ${lastNetworkError.message}; check authorityHost and caFile`,
    );
  }
  if (e instanceof AuthError) {
    // errorMessage is Entra's error_description (AADSTS code + text, trace ids): no secrets, and what an operator needs.
    const first = (e.errorMessage || e.message).split(/\r?\n/)[0]?.slice(0, 500) ?? "";
    return new SignerError("ERR_TOKEN", `Entra ID did not issue a token for ${scope}: ${e.errorCode}: ${first}`, {
      oauthError: e.errorCode,
    });
  }
  return new SignerError(
    "ERR_TOKEN",
    `Entra ID did not issue a token for ${scope}: ${e instanceof Error ? e.message : "unknown error"}`,
  );
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const { config, log } = options;
  const now = options.now ?? (() => Date.now());
  let signer: AssertionSigner | undefined;

  if (config.credential.kind === "certificate") {
    signer = createAssertionSigner({
      clientId: config.clientId,
      tokenEndpoint: config.tokenEndpoint,
      credentials: options.certificates ?? [],
      now,
      ...(options.onAssertionSigned ? { onSigned: options.onAssertionSigned } : {}),
    });
  }
  const credential = config.credential;
  let tokenRequests = 0;
  let lastNetworkError: unknown;

  /** Federated tokens read but not yet sent, by token: their jti for the audit line. */
  const federatedJtis = new Map<string, string | undefined>();
  /** What was last sent to Entra ID per requested scope string: links a token to its assertion. */
  const sentFor = new Map<string, { jti: string | undefined; thumbprintSha256: string | undefined }>();

  const clientAssertion = async ({ tokenEndpoint }: { tokenEndpoint?: string }): Promise<string> => {
    if (credential.kind === "federated") {
      const { token, jti } = readFederatedToken(credential.tokenFile, now());
      // Read once per request sent; a few entries at most (reads that were never sent age out).
      if (federatedJtis.size >= 16) federatedJtis.delete(federatedJtis.keys().next().value!);
      federatedJtis.set(token, jti);
      return token;
    }
    // The signer refuses any audience but the pinned token endpoint.
    return signer!.assertion(tokenEndpoint ?? config.tokenEndpoint);
  };

  const app = new ConfidentialClientApplication({
    auth: {
      clientId: config.clientId,
      authority: config.authority,
      knownAuthorities: [new URL(config.authorityHost).host],
      authorityMetadata: authorityMetadata(config),
      clientAssertion,
    },
    system: {
      networkClient: trackingNetwork(
        options.network,
        (sent, scope) => {
          tokenRequests++;
          const facts = signer?.markSent(sent);
          const federatedJti = federatedJtis.get(sent);
          federatedJtis.delete(sent);
          sentFor.set(scope, {
            jti: facts ? facts.jti : federatedJti,
            thumbprintSha256: facts?.thumbprintSha256,
          });
        },
        (e) => (lastNetworkError = e),
      ),
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message) => {
          // msal warns "No client info in response" on every client-credentials token, Entra's too
          // (client_info describes a user): its warnings are debug detail, its errors are ours.
          if (level <= LogLevel.Error) log.warn("msal", { message: message.slice(0, 300) });
          else log.debug("msal", { message: message.slice(0, 300) });
        },
      },
    },
  });

  const inflight = new Map<string, Promise<AccessToken>>();
  /**
   * Tokens are served from here, not from msal's cache: msal's cached read costs ~0.5 ms and puts a
   * GC tail on the socket's p99 (measured by bench/), and msal only refreshes 5 minutes before expiry.
   */
  const ready = new Map<string, { token: AccessToken; refreshAt: number; serveUntil: number }>();
  const refreshing = new Map<string, Promise<void>>();
  const lastRefreshStart = new Map<string, number>();

  const acquire = async (scope: string): Promise<AccessToken> => {
    let result: AuthenticationResult | null;
    try {
      // skipCache: serving from cache and refreshing are decided here (above); msal only fetches.
      // MSAL_FORCE_REGION in the environment would otherwise switch msal to a regional token endpoint.
      result = await app.acquireTokenByClientCredential({
        scopes: [scope],
        skipCache: true,
        azureRegion: "DisableMsalForceRegion",
      });
    } catch (e) {
      throw mapMsalError(e, scope, lastNetworkError);
    }
    if (!result?.accessToken || !result.expiresOn)
      throw new SignerError("ERR_TOKEN", `Entra ID answered without an access token for ${scope}`);
    const sent = [...sentFor].find(([requested]) => requested.split(" ").includes(scope))?.[1];
    const token: AccessToken = {
      accessToken: result.accessToken,
      expiresOn: result.expiresOn,
      scope,
      assertionJti: sent?.jti,
      thumbprintSha256: sent?.thumbprintSha256,
    };
    log.info("token.acquired", {
      scope,
      tokenHash: tokenHash(result.accessToken),
      expiresOn: result.expiresOn.toISOString(),
      assertionJti: sent?.jti,
      signatures: signer?.signatures,
    });
    const t = now();
    const expires = token.expiresOn.getTime();
    const refreshOn = result.refreshOn?.getTime() ?? Number.POSITIVE_INFINITY;
    const serveUntil = expires - MIN_REMAINING_MS;
    // A token too short-lived for half its lifetime to come before serveUntil (under 10 minutes)
    // refreshes from half of the time it may be served instead, so it is still refreshed ahead.
    const half = t + (expires - t) * REFRESH_AT_FRACTION;
    const refreshAt = Math.min(refreshOn, half < serveUntil ? half : t + Math.max(0, serveUntil - t) / 2);
    ready.set(scope, { token, refreshAt, serveUntil });
    return token;
  };

  const refreshInBackground = (scope: string, t: number): void => {
    if (refreshing.has(scope) || inflight.has(scope)) return;
    if (t - (lastRefreshStart.get(scope) ?? -Infinity) < REFRESH_MIN_INTERVAL_MS) return;
    lastRefreshStart.set(scope, t);
    const p = acquire(scope)
      .then(() => undefined)
      .catch((e: unknown) => {
        log.warn("token.refresh_failed", {
          scope,
          code: e instanceof SignerError ? e.code : "unknown",
          message: e instanceof Error ? e.message : "",
        });
      })
      .finally(() => refreshing.delete(scope));
    refreshing.set(scope, p);
  };

  return {
    getToken(scope) {
      const t = now();
      const hit = ready.get(scope);
      if (hit && t < hit.serveUntil) {
        if (t >= hit.refreshAt) refreshInBackground(scope, t);
        return Promise.resolve(hit.token);
      }
      const existing = inflight.get(scope);
      if (existing) return existing;
      const p = acquire(scope).finally(() => inflight.delete(scope));
      inflight.set(scope, p);
      return p;
    },
    invalidate(scope, refused) {
      if (ready.get(scope)?.token.accessToken === refused) ready.delete(scope);
    },
    stats: () => ({ assertionsSigned: signer?.signatures ?? 0, tokenRequests }),
    async idle() {
      while (refreshing.size > 0) await Promise.all(refreshing.values());
    },
    describe() {
      if (credential.kind === "federated") return { kind: "federated", tokenFile: credential.tokenFile };
      return {
        kind: "certificate",
        signingThumbprintSha256: signer!.signingCredential().thumbprintSha256,
        certificates: (options.certificates ?? []).map((c) => ({
          thumbprintSha256: c.thumbprintSha256,
          thumbprintSha1: c.thumbprintSha1,
          notBefore: c.notBefore.toISOString(),
          notAfter: c.notAfter.toISOString(),
        })),
      };
    },
  };
}
