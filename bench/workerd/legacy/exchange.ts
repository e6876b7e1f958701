import { audit, sha256Hex } from "../../../worker/audit.ts";
import type { Config } from "../../../worker/config.ts";
import { readExchangeRequest } from "../../../worker/exchange-request.ts";
import { issuedLifetime } from "../../../worker/lifetime.ts";
import { decide } from "../../../worker/policy.ts";
import { createJwksCache } from "./jwks.ts";
import { mint } from "./mint.ts";
import { createVerifiedCallers, tokenHash, type VerifiedCallers } from "./verified-callers.ts";

// The hand-written JOSE path as it was before jose (verify: own JWS parser + Web Crypto; mint: own
// JWS serialisation), kept callable from the bench only so that both paths are measured in the
// same run. The successful POST /token path only: the bench never sends a failing exchange.

export interface LegacyBroker {
  readonly config: Config;
  readonly callers: VerifiedCallers;
}

export function createLegacyBroker(config: Config, jwksText: string): LegacyBroker {
  const jwks = createJwksCache(async () => new Response(jwksText, { headers: { "content-type": "application/json" } }));
  return { config, callers: createVerifiedCallers(config.entra, jwks) };
}

export async function legacyTokenExchange(request: Request, broker: LegacyBroker, now: number): Promise<Response> {
  const { config, callers } = broker;
  const parsed = await readExchangeRequest(request);
  if (!parsed.ok) throw new Error(`legacy: ${parsed.error.reason}`);
  const exchange = parsed.value;
  const verified = await callers.verify(exchange.subjectToken, await tokenHash(exchange.subjectToken), now);
  if (!verified.ok) throw new Error(`legacy: ${verified.error}`);
  const caller = verified.value;
  const decision = decide(caller, { resource: exchange.resource, scopes: exchange.scopes }, config.policy);
  if (!decision.ok) throw new Error(`legacy: ${decision.error.reason}`);
  const grant = decision.value;
  const lifetime = issuedLifetime(grant, config.maxTokenTtlSeconds, caller, now);
  if (!lifetime.ok) throw new Error("legacy: lifetime");
  const issued = await mint(
    { issuer: config.issuer, caller, grant, ttlSeconds: lifetime.value, now },
    config.signingKeys,
  );
  audit(
    {
      event: "token_exchange",
      outcome: "granted",
      reason: "granted",
      tenant: caller.tenantId,
      client_id: caller.appId,
      token_version: caller.tokenVersion,
      resource: grant.resource,
      subject_token_remaining_s: caller.expiresAt - now,
      roles: grant.roles,
      rule: grant.rule,
      scope: issued.scope,
      jti: issued.jti,
      exp: issued.expiresAt,
      token_sha256: await sha256Hex(issued.token),
    },
    now,
  );
  return Response.json(
    {
      access_token: issued.token,
      issued_token_type: exchange.requestedTokenType,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      scope: issued.scope,
    },
    { headers: { "cache-control": "no-store", pragma: "no-cache" } },
  );
}
