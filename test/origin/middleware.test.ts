import { createServer, type Server } from "node:http";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BrokerAuthVariables,
  type BrokerToken,
  brokerAuth,
  type NodeRequestLike,
  protectedResourceMetadata,
  requireBrokerToken,
} from "../../origin/src/index.ts";
import { kitOptions, testClock, type TestClock } from "./support/kit-options.ts";
import { AUDIENCE, CLIENT_ID, type StandInBroker, standInBroker } from "./support/stand-in-broker.ts";

const METADATA_URL = "https://inventory.example.com/.well-known/oauth-protected-resource";

let broker: StandInBroker;
let clock: TestClock;
beforeEach(async () => {
  broker = await standInBroker();
  clock = testClock();
});

function honoApp() {
  const app = new Hono<{ Variables: BrokerAuthVariables }>();
  app.use(protectedResourceMetadata({ resource: AUDIENCE, issuer: broker.issuer, scopes: ["inventory.read"] }));
  app.use("/items/*", brokerAuth(kitOptions(broker, clock)));
  app.get("/items/:id", (c) => c.json({ client: c.get("brokerToken").clientId, id: c.req.param("id") }));
  return app;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("brokerAuth (Hono)", () => {
  it("lets a verified request through with c.get('brokerToken')", async () => {
    const response = await honoApp().request("/items/42", bearer(await broker.token({ now: clock.seconds() })));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ client: CLIENT_ID, id: "42" });
  });

  it("answers 401 without an error code and points at the resource metadata when there is no token", async () => {
    const response = await honoApp().request("/items/42");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `Bearer scope="inventory.read", resource_metadata="${METADATA_URL}"`,
    );
    expect(response.headers.get("cache-control")).toBe("no-store");
  });

  it("treats another authentication scheme as no token", async () => {
    const response = await honoApp().request("/items/42", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).not.toContain("error=");
  });

  it("answers 401 invalid_token for a bad token, with a fixed description", async () => {
    const token = await broker.token({ header: { typ: "JWT" }, now: clock.seconds() });
    const response = await honoApp().request("/items/42", bearer(token));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `Bearer error="invalid_token", error_description="The token is not a JWT access token (typ at+jwt)", scope="inventory.read", resource_metadata="${METADATA_URL}"`,
    );
    expect(await response.json()).toEqual({
      error: "invalid_token",
      error_description: "The token is not a JWT access token (typ at+jwt)",
    });
  });

  it("answers 403 insufficient_scope naming the scope required", async () => {
    const token = await broker.token({ claims: { scope: "inventory.list" }, now: clock.seconds() });
    const response = await honoApp().request("/items/42", bearer(token));
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toMatch(
      /^Bearer error="insufficient_scope", .*scope="inventory.read"/,
    );
  });

  it("answers 503 with Retry-After when the broker's keys cannot be had, never a 500", async () => {
    broker.mode = "down";
    const response = await honoApp().request("/items/42", bearer(await broker.token({ now: clock.seconds() })));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("10");
  });

  it("checks its options when it is created, not on the first request", () => {
    expect(() => brokerAuth({ issuer: broker.issuer, audience: "inventory.example.com" })).toThrow(
      /@identity-broker\/origin: audience is not a URL/,
    );
  });
});

describe("protectedResourceMetadata (RFC 9728)", () => {
  it("serves the document at /.well-known/oauth-protected-resource and passes other paths on", async () => {
    const response = await honoApp().request("/.well-known/oauth-protected-resource");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      resource: AUDIENCE,
      authorization_servers: [broker.issuer],
      scopes_supported: ["inventory.read"],
      bearer_methods_supported: ["header"],
    });
    expect((await honoApp().request("/items/1")).status).toBe(401);
  });

  it("answers a bare fetch handler too", () => {
    const metadata = protectedResourceMetadata({ resource: AUDIENCE, issuer: broker.issuer });
    expect(metadata.fetch(new Request(METADATA_URL))?.status).toBe(200);
    expect(metadata.fetch(new Request(`${AUDIENCE}/items`))).toBeUndefined();
    expect(metadata.path).toBe("/.well-known/oauth-protected-resource");
  });

  it("refuses a resource that is not a canonical origin", () => {
    expect(() => protectedResourceMetadata({ resource: `${AUDIENCE}/`, issuer: broker.issuer })).toThrow(/resource/);
  });
});

describe("requireBrokerToken (node:http)", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  async function serve(): Promise<string> {
    const guard = requireBrokerToken(kitOptions(broker, clock));
    const metadata = protectedResourceMetadata({
      resource: AUDIENCE,
      issuer: broker.issuer,
      scopes: ["inventory.read"],
    });
    server = createServer((req, res) => {
      metadata(req, res, () =>
        guard(req as NodeRequestLike, res, (error) => {
          if (error) return res.writeHead(500).end();
          const token = (req as { brokerToken?: BrokerToken }).brokerToken!;
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ client: token.clientId }));
        }),
      );
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const address = server.address() as { port: number };
    return `http://127.0.0.1:${address.port}`;
  }

  it("sets req.brokerToken and calls next for a verified request", async () => {
    const url = await serve();
    const response = await fetch(`${url}/items`, bearer(await broker.token({ now: clock.seconds() })));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ client: CLIENT_ID });
  });

  it("answers the refusal itself, with the challenge and the JSON body", async () => {
    const url = await serve();
    const token = await broker.token({ claims: { aud: "https://deploy.example.com" }, now: clock.seconds() });
    const response = await fetch(`${url}/items`, bearer(token));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    expect(await response.json()).toEqual({
      error: "invalid_token",
      error_description: "The token is for another audience",
    });
  });

  it("serves the protected resource metadata", async () => {
    const url = await serve();
    const response = await fetch(`${url}/.well-known/oauth-protected-resource`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { authorization_servers: string[] }).authorization_servers).toEqual([
      broker.issuer,
    ]);
  });
});
