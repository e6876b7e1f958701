import { type Context, Hono } from "hono";
import { audit } from "./audit.ts";
import { type Broker, createBroker } from "./broker.ts";
import { type Env, loadConfig } from "./config.ts";
import { forward } from "./forward/handler.ts";
import { authorizationServerMetadata, jwksDocument } from "./http/metadata.ts";
import { tokenExchange } from "./http/token.ts";
import { explainSelf } from "./http/explain.ts";
import { adminExplain } from "./http/admin-explain.ts";
import { createDpopReplayCache } from "./dpop.ts";
import { createJwksCache, type KeepAlive } from "./jwks.ts";
import { ok, type Result } from "./result.ts";

// Per-isolate state, all of it created here: Entra's keys (per URL, shared by every config), and
// for the bindings object we were given, the parsed config with the caches built on it.
const jwks = createJwksCache();
// DPoP proofs seen at /token and in forward mode (RFC 9449 §11.1: jti replay within the proof's window).
const dpopProofs = createDpopReplayCache();
const brokers = new WeakMap<object, Promise<Result<Broker, string[]>>>();

function brokerFor(env: Env): Promise<Result<Broker, string[]>> {
  let broker = brokers.get(env);
  if (!broker) {
    broker = loadConfig(env).then((result) => {
      if (result.ok) return ok(createBroker(result.value, jwks, dpopProofs));
      // The operator's log names every setting to fix; clients only learn that it is broken.
      for (const problem of result.error)
        audit({ event: "config_invalid", outcome: "error", reason: "config_invalid", detail: problem }, nowSeconds());
      return result;
    });
    brokers.set(env, broker);
  }
  return broker;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

type App = { Bindings: Env; Variables: { broker: Broker } };

/** The request's ctx.waitUntil; absent when the app is called without an execution context (benches). */
function keepAliveOf(c: Context<App>): KeepAlive | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
const app = new Hono<App>();

app.get("/healthz", (c) => c.text("ok"));

app.use(async (c, next) => {
  const broker = await brokerFor(c.env);
  if (!broker.ok) {
    return c.json(
      { error: "server_error", error_description: "the broker is misconfigured; its log names the settings to fix" },
      500,
    );
  }
  c.set("broker", broker.value);
  await next();
});

app.post("/token", (c) => tokenExchange(c.req.raw, c.get("broker"), nowSeconds(), keepAliveOf(c)));
app.all("/token", (c) => c.json({ error: "invalid_request", error_description: "use POST" }, 405, { allow: "POST" }));
app.post("/explain", (c) => explainSelf(c.req.raw, c.get("broker"), nowSeconds(), keepAliveOf(c)));
app.all("/explain", (c) => c.json({ error: "invalid_request", error_description: "use POST" }, 405, { allow: "POST" }));
app.post("/admin/explain", (c) => adminExplain(c.req.raw, c.get("broker"), nowSeconds(), keepAliveOf(c)));
app.get("/.well-known/jwks.json", (c) => jwksDocument(c.get("broker").config));
app.get("/.well-known/oauth-authorization-server", (c) => authorizationServerMetadata(c.get("broker").config));
// Forward mode, after the broker's own endpoints (which it never shadows): undefined = no route.
app.all("*", async (c) => (await forward(c.req.raw, c.get("broker"), nowSeconds(), keepAliveOf(c))) ?? c.notFound());

app.notFound((c) => c.json({ error: "not_found" }, 404));
app.onError((error, c) => {
  // A bug, not bad input: log it for us, tell the client nothing about it.
  console.error(JSON.stringify({ event: "unhandled_error", message: String(error), stack: error.stack }));
  return c.json({ error: "server_error" }, 500);
});

export default app;
