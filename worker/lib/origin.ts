import { err, ok, type Result } from "../result.ts";
import { LDH_HOST } from "./syntax.ts";

// Origins are identities here, so they are compared as exact strings. Anything that is not
// already the canonical ASCII serialisation is refused rather than "cleaned up": a broker that
// normalises would let two spellings name one audience, or one spelling name two.
const MAX_ORIGIN_LENGTH = 300; // far above any real host (253) + scheme + port; stops huge inputs early

export interface OriginProblem {
  readonly reason:
    | "not_a_url"
    | "not_canonical"
    | "scheme_not_allowed"
    | "http_not_loopback"
    | "trailing_dot"
    | "host_not_ldh";
}

// A host must be DNS letter-digit-hyphen labels (see LDH_HOST), an IPv4 address (URL has already
// normalised it) or a bracketed IPv6.
const IPV6_HOST = /^\[[0-9a-f:.]+\]$/;

export function canonicalOrigin(input: string): Result<string, OriginProblem> {
  if (input.length === 0 || input.length > MAX_ORIGIN_LENGTH) return err({ reason: "not_a_url" });
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return err({ reason: "not_a_url" });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return err({ reason: "scheme_not_allowed" });
  // URL#origin drops userinfo, path, query, fragment, default ports and upper case, and
  // punycodes IDNs: any of those in the input makes it differ from its origin.
  if (url.origin !== input) return err({ reason: "not_canonical" });
  if (url.hostname.endsWith(".")) return err({ reason: "trailing_dot" });
  if (!LDH_HOST.test(url.hostname) && !IPV6_HOST.test(url.hostname)) return err({ reason: "host_not_ldh" });
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) return err({ reason: "http_not_loopback" });
  return ok(url.origin);
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
