import { Hono, type Context } from "hono";
import { audit } from "./audit.ts";
import { loadConfig, type Config, type Env } from "./config.ts";
import { createJwksCache } from "./jwks.ts";
import type { Result } from "./result.ts";
import { forward } from "./forward/handler.ts";
import { authorizationServerMetadata, jwksDocument } from "./http/metadata.ts";
import { tokenExchange } from "./http/token.ts";
import { publishedRevocations } from "./http/revocations.ts";
import { adminRevocations, type AdminAction } from "./admin/revocations.ts";
import { createRevocationStore, type RevocationStore } from "./revocations/store.ts";

// Per isolate: Entra's keys, and the parsed config for the bindings object we were given.
const jwks = createJwksCache();
const configs = new WeakMap<object, Promise<Result<Config, string[]>>>();
// …and the revocation list read from each KV binding, shared by every config that uses it, so
// the list is read at most once per refresh whatever else changes.
const revocationStores = new WeakMap<KVNamespace, RevocationStore>();

function revocationsFor(config: Config): RevocationStore | undefined {
  const kv = config.operations.revocations;
  if (!kv) return undefined;
  let store = revocationStores.get(kv);
  if (!store) revocationStores.set(kv, (store = createRevocationStore(kv)));
  return store;
}

function configFor(env: Env): Promise<Result<Config, string[]>> {
  let config = configs.get(env);
  if (!config) {
    config = loadConfig(env).then((result) => {
      if (!result.ok) {
        // The operator's log names every setting to fix; clients only learn that it is broken.
        for (const problem of result.error)
          audit({ event: "config_invalid", outcome: "error", reason: "config_invalid", detail: problem }, nowSeconds());
      }
      return result;
    });
    configs.set(env, config);
  }
  return config;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

type App = { Bindings: Env; Variables: { config: Config; revocations: RevocationStore | undefined } };
const app = new Hono<App>();

app.get("/healthz", (c) => c.text("ok"));

app.use(async (c, next) => {
  const config = await configFor(c.env);
  if (!config.ok) {
    return c.json(
      { error: "server_error", error_description: "the broker is misconfigured; its log names the settings to fix" },
      500,
    );
  }
  c.set("config", config.value);
  c.set("revocations", revocationsFor(config.value));
  await next();
});

app.post("/token", (c) => tokenExchange(c.req.raw, c.get("config"), jwks, nowSeconds(), c.get("revocations")));
app.all("/token", (c) => c.json({ error: "invalid_request", error_description: "use POST" }, 405, { allow: "POST" }));
app.get("/.well-known/jwks.json", (c) => jwksDocument(c.get("config")));
app.get("/.well-known/oauth-authorization-server", (c) => authorizationServerMetadata(c.get("config")));
app.get("/revocations", (c) => publishedRevocations(c.get("config"), c.get("revocations"), nowSeconds()));
app.post("/admin/revocations", (c) => admin(c, "revoke"));
app.get("/admin/revocations", (c) => admin(c, "list_revocations"));
app.delete("/admin/revocations/:id", (c) => admin(c, "unrevoke", c.req.param("id")));
app.all("/admin/revocations", (c) =>
  c.json({ error: "invalid_request", error_description: "use GET or POST" }, 405, { allow: "GET, POST" }),
);
// Forward mode, after the broker's own endpoints (which it never shadows): undefined = no route.
app.all(
  "*",
  async (c) => (await forward(c.req.raw, c.get("config"), jwks, nowSeconds(), c.get("revocations"))) ?? c.notFound(),
);

function admin(c: Context<App>, action: AdminAction, id?: string): Promise<Response> {
  return adminRevocations(action, c.req.raw, c.get("config"), jwks, c.get("revocations"), nowSeconds(), id);
}

app.notFound((c) => c.json({ error: "not_found" }, 404));
app.onError((error, c) => {
  // A bug, not bad input: log it for us, tell the client nothing about it.
  console.error(JSON.stringify({ event: "unhandled_error", message: String(error), stack: error.stack }));
  return c.json({ error: "server_error" }, 500);
});

export default app;
