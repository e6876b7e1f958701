// A TEST DOUBLE for the broker's RFC 8693 endpoint (the real broker runs in workerd and is tested in
// test/worker). It implements just the wire contract the signer's `exchange` relies on: form fields,
// success body, RFC 6749 error bodies. Loopback only.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt } from "jose";

export type BrokerDouble = {
  url: string;
  requests: URLSearchParams[];
  close(): Promise<void>;
};

/** Grants `allowedResources`; anything else is `invalid_target`. The subject token must be a JWT for `expectedAudience`. */
export async function startBrokerDouble(o: {
  allowedResources: string[];
  expectedAudience: string;
  /** Further subject-token check (e.g. its signing key is still published); refused like the broker does. */
  acceptSubject?: (subjectToken: string) => boolean;
  expiresIn?: number;
}): Promise<BrokerDouble> {
  const requests: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      requests.push(form);
      const reply = (status: number, body: object) => {
        res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/token")
        return reply(404, { error: "invalid_request", error_description: "not found" });
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:token-exchange")
        return reply(400, { error: "unsupported_grant_type", error_description: "grant_type" });
      if (form.get("subject_token_type") !== "urn:ietf:params:oauth:token-type:access_token")
        return reply(400, { error: "invalid_request", error_description: "subject_token_type" });
      let aud: unknown;
      try {
        aud = decodeJwt(form.get("subject_token") ?? "").aud;
      } catch {
        return reply(400, {
          error: "invalid_request",
          error_description: "subject_token is not a valid Entra ID app-only access token for this broker",
        });
      }
      if (aud !== o.expectedAudience || (o.acceptSubject && !o.acceptSubject(form.get("subject_token") ?? "")))
        return reply(400, {
          error: "invalid_request",
          // The broker's own description for every verification failure.
          error_description: "subject_token is not a valid Entra ID app-only access token for this broker",
        });
      const resource = form.get("resource") ?? "";
      if (!o.allowedResources.includes(resource))
        return reply(400, { error: "invalid_target", error_description: `resource not granted: ${resource}` });
      return reply(200, {
        access_token: `downstream.${Buffer.from(resource).toString("base64url")}.${requests.length}`,
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
        token_type: "Bearer",
        expires_in: o.expiresIn ?? 300,
        scope: form.get("scope") ?? "orders.read",
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
