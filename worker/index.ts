import { type Context, Hono } from "hono";
import { audit } from "./audit.ts";
import { type Broker, createBroker } from "./broker.ts";
import { type Config, type Env, loadConfig } from "./config.ts";
import { forward } from "./forward/handler.ts";
import { authorizationServerMetadata, jwksDocument } from "./http/metadata.ts";
import { tokenExchange } from "./http/token.ts";
import { explainSelf } from "./http/explain.ts";
import { adminExplain } from "./http/admin-explain.ts";
import { createDpopReplayCache } from "./dpop.ts";
import { createJwksCache, type KeepAlive } from "./jwks.ts";
import { ok, type Result } from "./result.ts";
import { publishedRevocations } from "./http/revocations.ts";
import { adminRevocations, type AdminAction } from "./admin/revocations.ts";
import { createRevocationStore, type RevocationStore } from "./revocations/store.ts";

// Per-isolate state, all of it created here: Entra's keys (per URL, shared by every config), and
// for the bindings object we were given, the parsed config with the caches built on it.
const jwks = createJwksCache();
// DPoP proofs seen at /token and in forward mode (RFC 9449 §11.1: jti replay within the proof's window).
const dpopProofs = createDpopReplayCache();
const brokers = new WeakMap<object, Promise<Result<Broker, string[]>>>();
// …and the revocation list read from each KV binding, shared by every config that binds it, so
// the list is read at most once per refresh whatever else changes.
const revocationStores = new WeakMap<KVNamespace, RevocationStore>();

function revocationsFor(config: Config): RevocationStore | undefined {
  const kv = config.operations.revocations;
  if (!kv) return undefined;
  let store = revocationStores.get(kv);
  if (!store) revocationStores.set(kv, (store = createRevocationStore(kv)));
  return store;
}

function brokerFor(env: Env): Promise<Result<Broker, string[]>> {
  let broker = brokers.get(env);
  if (!broker) {
    broker = loadConfig(env).then((result) => {
      if (result.ok) return ok(createBroker(result.value, jwks, dpopProofs, revocationsFor(result.value)));
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
app.get("/revocations", (c) => publishedRevocations(c.get("broker"), nowSeconds(), keepAliveOf(c)));
app.post("/admin/revocations", (c) => admin(c, "revoke"));
app.get("/admin/revocations", (c) => admin(c, "list_revocations"));
app.delete("/admin/revocations/:id", (c) => admin(c, "unrevoke", c.req.param("id")));
app.all("/admin/revocations", (c) =>
  c.json({ error: "invalid_request", error_description: "use GET or POST" }, 405, { allow: "GET, POST" }),
);
// Forward mode, after the broker's own endpoints (which it never shadows): undefined = no route.
app.all("*", async (c) => (await forward(c.req.raw, c.get("broker"), nowSeconds(), keepAliveOf(c))) ?? c.notFound());

function admin(c: Context<App>, action: AdminAction, id?: string): Promise<Response> {
  return adminRevocations(action, c.req.raw, c.get("broker"), nowSeconds(), id, keepAliveOf(c));
}

app.notFound((c) => c.json({ error: "not_found" }, 404));
app.onError((error, c) => {
  // A bug, not bad input: log it for us, tell the client nothing about it.
  console.error(JSON.stringify({ event: "unhandled_error", message: String(error), stack: error.stack }));
  return c.json({ error: "server_error" }, 500);
});

export default app;
