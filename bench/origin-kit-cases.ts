import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { type BrokerTokenOptions, verifyBrokerToken } from "../origin/src/index.ts";

// Section 6, the timed part, runtime-agnostic (jose, the kit, Web Crypto): the same code times
// verification per request in Node (bench/origin-kit.ts) and in workerd (bench/workerd/origin-kit.ts).
//   floor:    jose jwtVerify with a local JWKS (what a careful hand-written origin does per request)
//   first:    verifyBrokerToken, a token it has never seen (keys cached, token not)
//   repeated: verifyBrokerToken, the same token again (the verified-token cache)

export const ORIGIN_KIT_CASES = ["floor", "first", "repeated"] as const;
export type OriginKitCase = (typeof ORIGIN_KIT_CASES)[number];

export interface OriginKitSetup {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks: JSONWebKeySet;
  /** Distinct broker-shaped ES256 tokens; `first` never reuses one. */
  readonly tokens: readonly string[];
}

export interface OriginKitBench {
  /** Runs a batch; returns per-operation wall times in µs (where the clock resolves them: Node), or none. */
  run(name: OriginKitCase, n: number, offset: number, timed?: boolean): Promise<number[]>;
}

export async function prepareOriginKitBench(setup: OriginKitSetup): Promise<OriginKitBench> {
  const localJwks = createLocalJWKSet(setup.jwks);
  const metadata = JSON.stringify({
    issuer: setup.issuer,
    jwks_uri: `${setup.issuer}/.well-known/jwks.json`,
    access_token_signing_alg_values_supported: ["ES256", "EdDSA"],
  });
  const jwks = JSON.stringify(setup.jwks);
  // The broker's documents from memory: the timed loop never waits on the network.
  const options: BrokerTokenOptions = {
    issuer: setup.issuer,
    audience: setup.audience,
    scopes: ["inventory.read"],
    fetch: async (url) => new Response(url.endsWith("/jwks.json") ? jwks : metadata),
  };
  const cases: Record<OriginKitCase, (i: number) => Promise<unknown>> = {
    floor: (i) =>
      jwtVerify(setup.tokens[i % setup.tokens.length]!, localJwks, {
        issuer: setup.issuer,
        audience: setup.audience,
        algorithms: ["ES256"],
      }),
    first: (i) => verifyBrokerToken(setup.tokens[i]!, options),
    repeated: () => verifyBrokerToken(setup.tokens[0]!, options),
  };
  // Untimed warm-up: key discovery and import, JIT; uses tokens 0-19, which `first` skips.
  for (const run of Object.values(cases)) for (let i = 0; i < 20; i++) await run(i);
  return {
    async run(name, n, offset, timed = true) {
      const run = cases[name];
      if (name === "first" && offset + n > setup.tokens.length) {
        throw new Error(`first needs ${offset + n} distinct tokens, have ${setup.tokens.length}`);
      }
      const samples: number[] = [];
      if (!timed) {
        for (let i = 0; i < n; i++) await run(offset + i);
        return samples;
      }
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        await run(offset + i);
        samples.push((performance.now() - start) * 1000);
      }
      return samples;
    },
  };
}
