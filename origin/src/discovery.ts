import { fetchJson, isObject } from "./fetch-json.ts";
import { failure, type Failure } from "./failure.ts";
import type { FetchLike } from "./options.ts";
import { isLoopbackHost } from "./options.ts";
import { err, ok, type Result } from "./result.ts";

// RFC 8414 discovery of the broker's keys and algorithms from its issuer URL alone.

/** What the broker can sign with; anything else (none, HS*, RS*) is refused before key lookup. */
export const BROKER_ALGORITHMS: readonly string[] = Object.freeze(["ES256", "EdDSA"]);

export interface BrokerMetadata {
  readonly jwksUri: string;
  /** The broker's algorithms, narrowed to BROKER_ALGORITHMS. */
  readonly algorithms: readonly string[];
}

/** RFC 8414 §3.1: the well-known segment goes between the host and any path of the issuer. */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

export async function discover(fetcher: FetchLike, issuer: string): Promise<Result<BrokerMetadata, Failure>> {
  const url = metadataUrl(issuer);
  const fetched = await fetchJson(fetcher, url);
  if (!fetched.ok) return err(failure("keys_unavailable", { detail: fetched.error }));
  const doc = fetched.value;
  if (!isObject(doc)) return err(failure("broker_metadata_invalid", { detail: `${url} is not a JSON object` }));
  // RFC 8414 §3.3: the metadata must name exactly the issuer it was discovered from, or an
  // attacker's metadata could be passed off as the broker's.
  if (doc.issuer !== issuer) {
    return err(
      failure("broker_metadata_invalid", {
        detail: `${url} names issuer ${JSON.stringify(doc.issuer)}, expected ${JSON.stringify(issuer)}`,
      }),
    );
  }
  const jwksUri = doc.jwks_uri;
  if (typeof jwksUri !== "string" || !isFetchableKeyUrl(jwksUri)) {
    return err(
      failure("broker_metadata_invalid", { detail: `${url}: jwks_uri ${JSON.stringify(jwksUri)} is not an https URL` }),
    );
  }
  const algorithms = algorithmsOf(doc.access_token_signing_alg_values_supported);
  if (algorithms.length === 0) {
    return err(
      failure("broker_metadata_invalid", {
        detail: `${url}: access_token_signing_alg_values_supported names none of ${BROKER_ALGORITHMS.join(", ")}`,
      }),
    );
  }
  return ok({ jwksUri, algorithms });
}

// The broker lists the algorithms of its published keys; a metadata document without the list
// (an older broker) gets the broker's two algorithms, never a wider set.
function algorithmsOf(declared: unknown): readonly string[] {
  if (!Array.isArray(declared)) return BROKER_ALGORITHMS;
  return BROKER_ALGORITHMS.filter((alg) => declared.includes(alg));
}

function isFetchableKeyUrl(input: string): boolean {
  try {
    const url = new URL(input);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}
