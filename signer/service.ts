/**
 * Wires one signer from its config: loads the credential (refusing unsafe key files), builds the HTTPS
 * client (with the configured CA), the token source, the broker exchange and its cache. The CLI
 * commands and the daemon use this; nothing else holds the private key. Every assertion signed and
 * every token or exchange served is one audit line (public facts only: jti, thumbprint, hashes, caller).
 */
import type { SignerConfig } from "./config.ts";
import { validateScope } from "./config-values.ts";
import { loadCertificateCredential, selectSigningCredential, type CertificateCredential } from "./credential.ts";
import { OPERATION_DEADLINE_MS, withDeadline } from "./deadline.ts";
import { SignerError } from "./errors.ts";
import { validateSubjectToken } from "./delegation.ts";
import { createBoundTokens, dpopKeySource, type DpopProof } from "./dpop.ts";
import { createExchangeCache } from "./exchange-cache.ts";
import {
  exchangeToken,
  isSubjectTokenRefusal,
  validateResource,
  type ExchangedToken,
  type ExchangeOptions,
} from "./exchange.ts";
import { silentLogger, tokenHash, type Logger } from "./log.ts";
import { createHttpClient, createMsalNetworkClient, readCaFile } from "./network.ts";
import type { Caller } from "./peer.ts";
import { createTokenSource, type AccessToken, type CredentialDescription } from "./token-source.ts";

export type SignerService = {
  /** `caller` is who asked (for the audit line); it may still be being looked up, which never delays the answer. */
  getToken(scope: string, caller?: CallerInfo): Promise<AccessToken>;
  /** With `subjectToken` (a broker token this service received): delegation, the signer's identity as actor. */
  exchange(
    resource: string,
    scope?: string,
    caller?: CallerInfo,
    options?: { subjectToken?: string | undefined },
  ): Promise<ExchangedToken>;
  /** RFC 9449: a proof for one request with a bound token (given, or the newest bound token for the URL's origin). */
  dpopProof(method: string, url: string, accessToken?: string): Promise<DpopProof>;
  describe(): CredentialDescription;
  stats(): { assertionsSigned: number; tokenRequests: number; exchanges: number; exchangesCached: number };
  idle(): Promise<void>;
};

type CallerInfo = Caller | Promise<Caller>;

export type ServiceOptions = {
  log?: Logger;
  now?: () => number;
  deadlineMs?: number;
  /** Where the DPoP key lives when `dpop` is configured: the daemon's memory, or the CLI's key file. */
  dpopKeyIn?: "memory" | "file";
};

export function createSignerService(config: SignerConfig, options: ServiceOptions = {}): SignerService {
  const log = options.log ?? silentLogger;
  const now = options.now ?? (() => Date.now());
  const deadlineMs = options.deadlineMs ?? OPERATION_DEADLINE_MS;
  let certificates: CertificateCredential[] | undefined;
  if (config.credential.kind === "certificate") {
    certificates = config.credential.certificates.map((source) => loadCertificateCredential(source));
    // Fail at start, not at the first request, when no certificate is usable now.
    const signing = selectSigningCredential(certificates, new Date(now()));
    log.info("credential.loaded", {
      kind: "certificate",
      certificates: certificates.length,
      signingThumbprintSha256: signing.thumbprintSha256,
    });
  } else {
    log.info("credential.loaded", { kind: "federated", tokenFile: config.credential.tokenFile });
  }
  const http = createHttpClient(readCaFile(config.caFile));
  const tokens = createTokenSource({
    config,
    certificates,
    network: createMsalNetworkClient(http),
    log,
    now,
    onAssertionSigned: (signed) =>
      log.audit("assertion.signed", {
        jti: signed.jti,
        thumbprintSha256: signed.thumbprintSha256,
        aud: config.tokenEndpoint,
        exp: signed.exp,
      }),
  });
  const dpopKey = dpopKeySource(config, options.dpopKeyIn ?? "memory", now);
  const bound = createBoundTokens();
  /** RFC 9449: with a DPoP key, every request to the broker carries a fresh proof for its token endpoint. */
  const withProof = async (brokerUrl: string, extra: ExchangeOptions = {}): Promise<ExchangeOptions> => {
    const key = await dpopKey?.();
    return key ? { ...extra, dpopProof: await key.proof("POST", `${brokerUrl}/token`) } : extra;
  };
  const exchanges = createExchangeCache();
  let exchangeCount = 0;
  let exchangesCached = 0;

  const brokerExchange = async (
    resource: string,
    scope: string | undefined,
    brokerUrl: string,
    brokerScope: string,
  ) => {
    const entra = await tokens.getToken(brokerScope);
    exchangeCount++;
    try {
      const out = await exchangeToken(http, brokerUrl, entra.accessToken, resource, scope, await withProof(brokerUrl));
      return { out, entra };
    } catch (e) {
      if (!isSubjectTokenRefusal(e)) throw e;
      // The broker no longer accepts this Entra token (its signing key was retired, or it was
      // revoked): drop it and try once with a new one. Concurrent refusals share that one fetch.
      log.warn("token.refused_by_broker", { scope: brokerScope, tokenHash: tokenHash(entra.accessToken) });
      tokens.invalidate(brokerScope, entra.accessToken);
      const fresh = await tokens.getToken(brokerScope);
      if (fresh.accessToken === entra.accessToken) throw e;
      exchangeCount++;
      const out = await exchangeToken(http, brokerUrl, fresh.accessToken, resource, scope, await withProof(brokerUrl));
      return { out, entra: fresh };
    }
  };

  return {
    async getToken(scope, caller) {
      validateScope(scope, "scope", "ERR_REQUEST");
      const t = await withDeadline(tokens.getToken(scope), deadlineMs, `a token for ${scope}`);
      const fields = {
        scope,
        tokenHash: tokenHash(t.accessToken),
        expiresOn: t.expiresOn.toISOString(),
        assertionJti: t.assertionJti,
        thumbprintSha256: t.thumbprintSha256,
      };
      void Promise.resolve(caller).then((c) => log.audit("token.served", { ...fields, ...c }));
      return t;
    },
    async exchange(resource, scope, caller, exchangeOptions = {}) {
      const { brokerUrl, brokerScope } = config;
      if (brokerUrl === undefined)
        throw new SignerError(
          "ERR_CONFIG",
          'brokerUrl: not set; set BROKER_SIGNER_BROKER_URL or "brokerUrl" in the config file',
        );
      if (brokerScope === undefined)
        throw new SignerError(
          "ERR_CONFIG",
          'brokerScope: not set; set BROKER_SIGNER_BROKER_SCOPE or "brokerScope" (the broker app\'s scope, e.g. api://broker/.default)',
        );
      validateResource(resource);
      const { subjectToken } = exchangeOptions;
      if (subjectToken !== undefined) {
        // Delegation: never cached, the subject token is the caller's and each answer is for it alone.
        validateSubjectToken(subjectToken, "subject_token");
        const actor = await tokens.getToken(brokerScope);
        exchangeCount++;
        const out = await withDeadline(
          withProof(brokerUrl, { actorToken: actor.accessToken }).then((extra) =>
            exchangeToken(http, brokerUrl, subjectToken, resource, scope, extra),
          ),
          deadlineMs,
          `the exchange for ${resource}`,
        );
        if (out.token_type === "DPoP") bound.remember(resource, out.access_token);
        const fields = {
          resource,
          scope: out.scope,
          tokenHash: tokenHash(out.access_token),
          expiresIn: out.expires_in,
          tokenType: out.token_type,
          subjectTokenHash: tokenHash(subjectToken),
          actorTokenHash: tokenHash(actor.accessToken),
        };
        void Promise.resolve(caller).then((c) => log.audit("exchange.served", { ...fields, ...c }));
        return out;
      }
      let subject: AccessToken | undefined;
      const { token, cached } = await withDeadline(
        exchanges.get(resource, scope, now, async () => {
          const { out, entra } = await brokerExchange(resource, scope, brokerUrl, brokerScope);
          subject = entra;
          return out;
        }),
        deadlineMs,
        `the exchange for ${resource}`,
      );
      if (cached) exchangesCached++;
      if (token.token_type === "DPoP") bound.remember(resource, token.access_token);
      const fields = {
        resource,
        scope: token.scope,
        tokenHash: tokenHash(token.access_token),
        expiresIn: token.expires_in,
        cached,
        ...(subject
          ? {
              subjectTokenHash: tokenHash(subject.accessToken),
              assertionJti: subject.assertionJti,
              thumbprintSha256: subject.thumbprintSha256,
            }
          : {}),
      };
      void Promise.resolve(caller).then((c) => log.audit("exchange.served", { ...fields, ...c }));
      return token;
    },
    async dpopProof(method, url, accessToken) {
      const key = await dpopKey?.();
      if (!key)
        throw new SignerError(
          "ERR_REQUEST",
          'DPoP is not enabled for this identity; set "dpop": true (or BROKER_SIGNER_DPOP=true)',
        );
      let origin: string;
      try {
        origin = new URL(url).origin;
      } catch {
        throw new SignerError("ERR_REQUEST", `"${url.slice(0, 200)}" is not a URL`);
      }
      const token = accessToken ?? bound.forOrigin(origin);
      if (token === undefined)
        throw new SignerError("ERR_REQUEST", `no DPoP-bound token for ${origin}: exchange for it first`);
      return { proof: await key.proof(method, url, token), jkt: key.jkt };
    },
    describe: () => tokens.describe(),
    stats: () => ({ ...tokens.stats(), exchanges: exchangeCount, exchangesCached }),
    idle: () => tokens.idle(),
  };
}
