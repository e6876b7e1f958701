/**
 * Wires one signer from its config: loads the credential (refusing unsafe key files), builds the HTTPS
 * client (with the configured CA), the token source and the broker exchange. The CLI commands and the
 * daemon use this; nothing else holds the private key.
 */
import { validateScope, type SignerConfig } from "./config.ts";
import { loadCertificateCredential, selectSigningCredential, type CertificateCredential } from "./credential.ts";
import { SignerError } from "./errors.ts";
import { exchangeToken, validateResource, type ExchangedToken } from "./exchange.ts";
import { silentLogger, tokenHash, type Logger } from "./log.ts";
import { createHttpClient, createMsalNetworkClient, readCaFile } from "./network.ts";
import { createTokenSource, type AccessToken, type CredentialDescription } from "./token-source.ts";

export type SignerService = {
  getToken(scope: string): Promise<AccessToken>;
  exchange(resource: string, scope?: string): Promise<ExchangedToken>;
  describe(): CredentialDescription;
  stats(): { assertionsSigned: number; tokenRequests: number };
  idle(): Promise<void>;
};

export type ServiceOptions = { log?: Logger; now?: () => number };

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
    async exchange(resource, scope) {
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
      const entra = await tokens.getToken(config.brokerScope);
      const out = await exchangeToken(http, config.brokerUrl, entra.accessToken, resource, scope);
      log.info("token.exchanged", {
        resource,
        scope: out.scope,
        subjectTokenHash: tokenHash(entra.accessToken),
        tokenHash: tokenHash(out.access_token),
        expiresIn: out.expires_in,
      });
      return out;
    },
    describe: () => tokens.describe(),
    stats: () => tokens.stats(),
    idle: () => tokens.idle(),
  };
}
