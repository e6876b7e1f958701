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
  const auds = (Array.isArray(a.payload.aud) ? a.payload.aud : [a.payload.aud]).filter(
    (x): x is string => typeof x === "string",
  );
  const fc = client.federatedCredentials.find(
    (c) => c.issuer === iss && c.subject === sub && auds.some((x) => c.audiences.includes(x)),
  );
  if (!fc) return { ok: false, error: entraErrors.federatedNoMatch(String(iss), String(sub), auds.join(",")) };
  try {
    await compactVerify(a.raw, fc.keys, { algorithms: FEDERATED_ALGS });
  } catch {
    // Entra reports a bad external signature as an invalid client assertion signature (AADSTS700027).
    return { ok: false, error: entraErrors.assertionSignatureInvalid(client.appId) };
  }
  return checkTimeWindow(a.payload, nowSec);
}
