// Which headers cross the gateway. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one
// connection and are dropped both ways. On the way in, the caller's credentials and every header
// an origin might take as a statement about who is calling are dropped too: the caller's
// identity reaches the origin only inside the minted token.
//
// Identity headers are removed by exact name and by prefix, because the families are open-ended
// (X-Forwarded-*, X-Ms-Client-Principal-*, Cf-Access-*…). A denylist rather than an allowlist so
// that ordinary application headers (Accept, Content-Type, X-Request-Id…) pass unchanged.

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host", // set by fetch from the origin URL
]);
const HOP_BY_HOP_PREFIXES = ["proxy-"]; // Proxy-Authorization, Proxy-Authenticate, …

const CALLER_ONLY = new Set([
  "authorization", // the caller's Entra token: replaced by the minted one
  "dpop", // the caller's proof is for the broker's URL and key; the origin gets a bearer token from the broker
  // Cookies are ambient credentials: an origin that also accepts a session cookie would
  // authenticate whoever the cookie names instead of the minted token's caller. Machine callers
  // have no use for them, so they are not forwarded.
  "cookie",
  "forwarded", // RFC 7239
  "x-real-ip",
  "true-client-ip",
  "remote-user",
  "cf-connecting-ip",
  "cf-connecting-ipv6",
  "x-cluster-client-ip",
  "x-id-token",
  "x-access-token",
  // A method override would let a request authorised as GET act as DELETE at the origin.
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  // IIS/nginx-style original-URL headers would let the caller pick the path the origin serves.
  "x-rewrite-url",
]);
const CALLER_ONLY_PREFIXES = [
  "x-forwarded-", // -for, -host, -proto, -user, -email, -access-token (oauth2-proxy)…
  "x-client-",
  "x-user",
  "x-remote-",
  "x-authenticated-",
  "x-auth-",
  "x-original-",
  "x-ms-client-principal", // App Service Easy Auth: -name, -id, -idp
  "x-ms-token-",
  "cf-access-", // Cloudflare Access: -jwt-assertion, -authenticated-user-email
  "x-goog-authenticated-",
  "x-amzn-oidc-",
  "x-jwt-",
];

/** Headers for the origin: the caller's minus hop-by-hop and identity, plus the minted token. */
export function toOriginHeaders(incoming: Headers, mintedToken: string): Headers {
  const headers = copyWithout(
    incoming,
    (name) => isHopByHop(name) || CALLER_ONLY.has(name) || CALLER_ONLY_PREFIXES.some((p) => name.startsWith(p)),
    incoming.get("connection"),
  );
  headers.set("authorization", `Bearer ${mintedToken}`);
  return headers;
}

/** Headers for the caller: the origin's minus hop-by-hop. */
export function toCallerHeaders(fromOrigin: Headers): Headers {
  return copyWithout(fromOrigin, isHopByHop, fromOrigin.get("connection"));
}

function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || HOP_BY_HOP_PREFIXES.some((p) => name.startsWith(p));
}

function copyWithout(source: Headers, drop: (lowerCaseName: string) => boolean, connection: string | null): Headers {
  // Connection names further headers that are hop-by-hop for this connection only (§7.6.1).
  const named = new Set(
    (connection ?? "")
      .split(",")
      .map((n) => n.trim().toLowerCase())
      .filter(Boolean),
  );
  const headers = new Headers();
  for (const [name, value] of source) {
    if (drop(name) || named.has(name)) continue;
    headers.append(name, value);
  }
  // Headers iteration joins repeated Set-Cookie values, which would corrupt them.
  const cookies = source.getSetCookie();
  if (cookies.length > 0 && !drop("set-cookie") && !named.has("set-cookie")) {
    headers.delete("set-cookie");
    for (const cookie of cookies) headers.append("set-cookie", cookie);
  }
  return headers;
}
