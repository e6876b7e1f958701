import type { Config } from "./config.ts";
import type { DpopReplayCache } from "./dpop.ts";
import { createMintedTokens, type MintedTokens } from "./forward/minted-tokens.ts";
import type { JwksCache } from "./jwks.ts";
import type { RevocationStore } from "./revocations/store.ts";
import { createVerifiedCallers, type VerifiedCallers } from "./verified-callers.ts";

// What the broker keeps across requests, per isolate and parsed config, created in one place
// (worker/index.ts) and handed to the handlers. Shared by POST /token and forward mode: a token used
// for both is verified once, the memory bounds hold for the isolate as a whole, and an entry is only
// ever reused under the settings (tenants, audiences, keys, policy) that produced it.

export interface Broker {
  readonly config: Config;
  readonly callers: VerifiedCallers;
  /** Minted downstream tokens, reused by POST /token and forward mode while they have life left. */
  readonly mintedTokens: MintedTokens;
  /** DPoP proofs seen by this isolate, at /token and in forward mode (RFC 9449 §11.1). */
  readonly dpopProofs: DpopReplayCache;
  /** The revocation list of the REVOCATIONS binding (shared by every config that binds it); undefined when unbound. */
  readonly revocations: RevocationStore | undefined;
}

/** Entra's keys are per URL, not per config, so one key cache serves every config of the isolate; so
 *  does the DPoP replay cache: a proof is spent in this isolate whatever settings are in force. */
export function createBroker(
  config: Config,
  jwks: JwksCache,
  dpopProofs: DpopReplayCache,
  revocations: RevocationStore | undefined,
): Broker {
  return Object.freeze({
    config,
    callers: createVerifiedCallers(config.entra, jwks),
    mintedTokens: createMintedTokens(config.signingKeys),
    dpopProofs,
    revocations,
  });
}
