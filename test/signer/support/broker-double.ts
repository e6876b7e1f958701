// A TEST DOUBLE for the broker's RFC 8693 endpoint (the real broker runs in workerd and is tested in
// test/worker). It implements just the wire contract the signer's `exchange` relies on: form fields,
// success body, RFC 6749 error bodies. Loopback only.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt } from "jose";
import { createDpopReplayCache, verifyDpopProof, type DpopProof } from "../../../worker/dpop.ts";

export type BrokerDouble = {
  url: string;
  requests: URLSearchParams[];
  /** Per request: the DPoP proof as the broker's own verifier (worker/dpop.ts) judged it, if one was sent. */
  proofs: Array<DpopProof | { problem: string } | undefined>;
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
  const proofs: BrokerDouble["proofs"] = [];
  const replay = createDpopReplayCache();
  let url = "";
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      requests.push(form);
      // RFC 9449 at the token endpoint, checked by the broker's own code rather than a copy of it.
      const header = req.headers.dpop;
      let proof: DpopProof | undefined;
      if (typeof header === "string") {
        const checked = await verifyDpopProof(
          header,
          { method: "POST", url: `${url}/token`, clockSkewSeconds: 60 },
          replay,
          Math.floor(Date.now() / 1000),
        );
        proofs.push(checked.ok ? checked.value : { problem: checked.error.reason });
        if (!checked.ok) {
          res.writeHead(400, { "content-type": "application/json" });
          return res.end(JSON.stringify({ error: "invalid_dpop_proof", error_description: checked.error.reason }));
        }
        proof = checked.value;
      } else proofs.push(undefined);
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
      // Delegation: the Entra token is the actor's, and the subject is whatever broker token came with it.
      const actor = form.get("actor_token");
      if (actor !== null && form.get("actor_token_type") !== "urn:ietf:params:oauth:token-type:access_token")
        return reply(400, { error: "invalid_request", error_description: "actor_token_type" });
      const entraToken = actor ?? form.get("subject_token") ?? "";
      let aud: unknown;
      try {
        aud = decodeJwt(entraToken).aud;
      } catch {
        return reply(400, {
          error: "invalid_request",
          error_description: "subject_token is not a valid Entra ID app-only access token for this broker",
        });
      }
      if (aud !== o.expectedAudience || (o.acceptSubject && !o.acceptSubject(entraToken)))
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
        token_type: proof ? "DPoP" : "Bearer",
        expires_in: o.expiresIn ?? 300,
        scope: form.get("scope") ?? "orders.read",
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    requests,
    proofs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
