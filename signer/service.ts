/**
 * Wires one signer from its config: loads the credential (refusing unsafe key files), builds the HTTPS
 * client (with the configured CA), the token source and the broker exchange. The CLI commands and the
 * daemon use this; nothing else holds the private key.
 */
import { validateScope, type SignerConfig } from "./config.ts";
import { loadCertificateCredential, selectSigningCredential, type CertificateCredential } from "./credential.ts";
import { SignerError } from "./errors.ts";
import { validateSubjectToken } from "./delegation.ts";
import { createBoundTokens, dpopKeySource, type DpopProof } from "./dpop.ts";
import { exchangeToken, validateResource, type ExchangedToken } from "./exchange.ts";
import { silentLogger, tokenHash, type Logger } from "./log.ts";
import { createHttpClient, createMsalNetworkClient, readCaFile } from "./network.ts";
import { createTokenSource, type AccessToken, type CredentialDescription } from "./token-source.ts";

export type SignerService = {
  getToken(scope: string): Promise<AccessToken>;
  /** With `subjectToken` (a broker token this service received): delegation, the signer's identity as actor. */
  exchange(resource: string, scope?: string, options?: { subjectToken?: string }): Promise<ExchangedToken>;
  /** RFC 9449: a proof for one request with a bound token (given, or the newest bound token for the URL's origin). */
  dpopProof(method: string, url: string, accessToken?: string): Promise<DpopProof>;
  describe(): CredentialDescription;
  stats(): { assertionsSigned: number; tokenRequests: number };
  idle(): Promise<void>;
};

export type ServiceOptions = {
  log?: Logger;
  now?: () => number;
  /** Where the DPoP key lives when `dpop` is configured: the daemon's memory, or the CLI's key file. */
  dpopKeyIn?: "memory" | "file";
};

export function createSignerService(config: SignerConfig, options: ServiceOptions = {}): SignerService {
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  let certificates: CertificateCredential[] | undefined;
  if (config.credential.kind === "certificate") {
    certificates = config.credential.certificates.map(loadCertificateCredential);
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
  const tokens = createTokenSource({ config, certificates, network: createMsalNetworkClient(http), log, now });
  const dpopKey = dpopKeySource(config, options.dpopKeyIn ?? "memory", now);
  const bound = createBoundTokens();

  return {
    async getToken(scope) {
      try {
        validateScope(scope, "scope");
      } catch (e) {
        // From a caller, a bad scope is a bad request, not the signer's configuration.
        throw e instanceof SignerError ? new SignerError("ERR_REQUEST", e.message) : e;
      }
      return tokens.getToken(scope);
    },
    async exchange(resource, scope, exchangeOptions = {}) {
      if (config.brokerUrl === undefined)
        throw new SignerError(
          "ERR_CONFIG",
          'brokerUrl: not set; set BROKER_SIGNER_BROKER_URL or "brokerUrl" in the config file',
        );
      if (config.brokerScope === undefined)
        throw new SignerError(
          "ERR_CONFIG",
          'brokerScope: not set; set BROKER_SIGNER_BROKER_SCOPE or "brokerScope" (the broker app\'s scope, e.g. api://broker/.default)',
        );
      validateResource(resource);
      const { subjectToken } = exchangeOptions;
      if (subjectToken !== undefined) validateSubjectToken(subjectToken, "subject_token");
      const entra = await tokens.getToken(config.brokerScope);
      const key = await dpopKey?.();
      const out = await exchangeToken(http, config.brokerUrl, subjectToken ?? entra.accessToken, resource, scope, {
        ...(subjectToken !== undefined && { actorToken: entra.accessToken }),
        ...(key && { dpopProof: await key.proof("POST", `${config.brokerUrl}/token`) }),
      });
      if (key && out.token_type === "DPoP") bound.remember(resource, out.access_token);
      log.info("token.exchanged", {
        resource,
        scope: out.scope,
        subjectTokenHash: tokenHash(subjectToken ?? entra.accessToken),
        ...(subjectToken !== undefined && { actorTokenHash: tokenHash(entra.accessToken) }),
        tokenHash: tokenHash(out.access_token),
        tokenType: out.token_type,
        expiresIn: out.expires_in,
      });
      return out;
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
    stats: () => tokens.stats(),
    idle: () => tokens.idle(),
  };
}
