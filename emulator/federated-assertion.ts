// Federated credentials (workload identity federation): the client assertion is an OIDC token from
// an external issuer (a CI system, a Kubernetes cluster) that the app trusts for one exact
// issuer + subject + audience, verified against that issuer's keys given inline in the tenant file.
import { compactVerify } from "jose";
import { entraErrors } from "./errors.ts";
import { checkTimeWindow, type DecodedAssertion, type Result } from "./client-assertion.ts";
import type { App } from "./tenant-file.ts";

/** Asymmetric algorithms an external OIDC issuer may sign with. */
const FEDERATED_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

// No jti replay check here: Entra accepts the same federated token for its whole lifetime (CI and
// Kubernetes hand out one token that clients present repeatedly until it expires).
export async function verifyFederatedAssertion(
  a: DecodedAssertion,
  client: App,
  nowSec: number,
): Promise<Result<void>> {
  const { iss, sub } = a.payload;
  if (typeof iss !== "string" || iss === "") return { ok: false, error: entraErrors.assertionFieldMissing("iss") };
  const auds = (Array.isArray(a.payload.aud) ? a.payload.aud : [a.payload.aud]).filter(
    (x): x is string => typeof x === "string",
  );
  if (auds.length === 0) return { ok: false, error: entraErrors.assertionFieldMissing("aud") };
  if (typeof sub !== "string" || sub === "") return { ok: false, error: entraErrors.assertionFieldMissing("sub") };
  // Narrowed field by field, so the error names the one that matched no credential.
  const byIssuer = client.federatedCredentials.filter((c) => c.issuer === iss);
  if (byIssuer.length === 0) return { ok: false, error: entraErrors.federatedIssuerNoMatch(iss) };
  const byAudience = byIssuer.filter((c) => auds.some((x) => c.audiences.includes(x)));
  if (byAudience.length === 0) return { ok: false, error: entraErrors.federatedAudienceNoMatch(auds.join(",")) };
  const fc = byAudience.find((c) => c.subject === sub);
  if (!fc) return { ok: false, error: entraErrors.federatedSubjectNoMatch(sub) };
  try {
    await compactVerify(a.raw, fc.keys, { algorithms: FEDERATED_ALGS });
  } catch {
    // Entra reports a bad external signature as an invalid client assertion signature (AADSTS700027).
    return { ok: false, error: entraErrors.assertionSignatureInvalid(client.appId) };
  }
  return checkTimeWindow(a.payload, nowSec);
}
