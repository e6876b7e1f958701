// startEmulator: wires the tenant file, the CA, the signing keys and the listeners together.
import { createServer as createHttpsServer } from "node:https";
import { createServer as createHttpServer, type Server } from "node:http";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { loadOrCreateCa } from "./ca.ts";
import { createKeyRing } from "./signing-keys.ts";
import { createReplayCache, type ReplayCache } from "./replay-cache.ts";
import { createHandler, type RouteContext } from "./server.ts";
import { grantAppOnlyToken, type TokenEndpointDeps } from "./token-endpoint.ts";
import { DEFAULT_TOKEN_LIFETIME_SECONDS, type Issuers, type TokenResponse } from "./token-issue.ts";
import { parseTenantFile, type Directory, type Tenant, type TenantFile } from "./tenant-file.ts";
import type { CredentialKind } from "./client-auth.ts";

/** The plain HTTP listener only ever binds here: tokens and keys never travel unencrypted off the host. */
const HTTP_LOOPBACK_HOST = "127.0.0.1";

export interface EmulatorOptions {
  /** The tenant file, parsed or as a path to its JSON. */
  tenants: TenantFile | string;
  /** Interface the HTTPS listener binds to (default 127.0.0.1). */
  host?: string;
  /** 0 or absent = a free port. */
  httpsPort?: number;
  /** null/undefined = no plain HTTP listener; 0 = a free port (always on 127.0.0.1). */
  httpPort?: number | null;
  /** Where the CA certificate and key are written and reused (default: a fresh temp dir). */
  stateDir?: string;
  /** Clock in ms (tests freeze it). */
  now?: () => number;
  tokenLifetimeSeconds?: number;
  /** Origin used in v1 issuers: `{stsHost}/{tid}/` (default: httpsOrigin). Real Entra: https://sts.windows.net. */
  stsHost?: string;
}

export interface IssueTokenOptions {
  tenantId: string;
  clientId: string;
  /** Resource identifier without "/.default" (app ID URI or appId). */
  resource: string;
  /** Which credential the token says the client used (default "certificate"). */
  credential?: CredentialKind;
}

export interface Emulator {
  /** "https://localhost:PORT" (certificate valid for localhost, 127.0.0.1 and ::1). */
  readonly httpsOrigin: string;
  /** "http://127.0.0.1:PORT" when enabled: same routes, same issuers. */
  readonly httpOrigin?: string;
  readonly caCertPem: string;
  readonly caCertPath: string;
  /** `${httpsOrigin}/${tenantId}`: msal-node's authority. */
  authority(tenantId: string): string;
  tokenEndpoint(tenantId: string): string;
  /** The `iss` of tokens for that tenant: v2 `${httpsOrigin}/{tid}/v2.0`, v1 `${stsHost}/{tid}/`. */
  issuer(tenantId: string, version: 1 | 2): string;
  /**
   * Retires the signing key (gone from the JWKS at once) and publishes a new one. By default the
   * next already-published key signs from now on; `{ activate: "added" }` signs with the new key.
   */
  rotateSigningKeys(opts?: { activate?: "next" | "added" }): { added: string; retired: string | undefined };
  /** The kid that signs new tokens. */
  activeKid(): string;
  /** A token as the token endpoint would issue it, without client authentication (test helper). */
  issueToken(opts: IssueTokenOptions): Promise<TokenResponse>;
  /** Requests received (both listeners) whose path starts with `pathPrefix` (all when absent). */
  requestCount(pathPrefix?: string): number;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const directory = await loadDirectory(opts.tenants);
  const now = opts.now ?? Date.now;
  const lifetimeSeconds = opts.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 60)
    throw new Error("tokenLifetimeSeconds: must be an integer >= 60");
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), "entra-emulator-")));
  const ca = await loadOrCreateCa(stateDir);
  const tls = await ca.issueServerCertificate({ dns: ["localhost"], ips: ["127.0.0.1", "::1"] });
  const keys = await createKeyRing();

  const paths: string[] = [];
  // Filled in once the listeners have ports; handlers only run after that.
  let httpsOrigin = "";
  let httpOrigin: string | undefined;
  const issuers: Issuers = {
    v2: (tid) => `${httpsOrigin}/${tid}/v2.0`,
    v1: (tid) => `${opts.stsHost ?? httpsOrigin}/${tid}/`,
  };
  const replayCaches = new Map<Tenant, ReplayCache>();
  const tokenDeps: TokenEndpointDeps = {
    keys,
    issuers,
    lifetimeSeconds,
    replayCache: (t) => {
      if (!t.rejectReplayedAssertions) return undefined;
      let c = replayCaches.get(t);
      if (!c) replayCaches.set(t, (c = createReplayCache()));
      return c;
    },
    assertionAudiences: (t) => assertionAudiences(directory, t, [httpsOrigin, ...(httpOrigin ? [httpOrigin] : [])]),
  };
  const ctx: RouteContext = { directory, keys, issuers, token: tokenDeps, now, record: (p) => void paths.push(p) };

  const host = opts.host ?? "127.0.0.1";
  const httpsServer = createHttpsServer({ cert: tls.certPem, key: tls.keyPem });
  const httpsPort = await listen(httpsServer, host, opts.httpsPort ?? 0);
  httpsOrigin = `https://localhost:${httpsPort}`;
  httpsServer.on("request", createHandler(ctx, httpsOrigin));
  let httpServer: Server | undefined;
  if (opts.httpPort !== undefined && opts.httpPort !== null) {
    httpServer = createHttpServer();
    const port = await listen(httpServer, HTTP_LOOPBACK_HOST, opts.httpPort);
    httpOrigin = `http://${HTTP_LOOPBACK_HOST}:${port}`;
    httpServer.on("request", createHandler(ctx, httpOrigin));
  }

  const canonicalTenant = (name: string) => directory.byName.get(name.toLowerCase())?.tenantId ?? name;
  return {
    httpsOrigin,
    ...(httpOrigin ? { httpOrigin } : {}),
    caCertPem: ca.certPem,
    caCertPath: ca.certPath,
    authority: (tenantId) => `${httpsOrigin}/${tenantId}`,
    tokenEndpoint: (tenantId) => `${httpsOrigin}/${tenantId}/oauth2/v2.0/token`,
    issuer: (tenantId, version) => (version === 2 ? issuers.v2 : issuers.v1)(canonicalTenant(tenantId)),
    rotateSigningKeys: (o) => keys.rotate(o?.activate),
    activeKid: () => keys.active().kid,
    async issueToken(o) {
      const tenant = directory.byName.get(o.tenantId.toLowerCase());
      if (!tenant) throw new Error(`issueToken: unknown tenant '${o.tenantId}'`);
      const r = await grantAppOnlyToken(
        tenant,
        o.clientId,
        o.resource,
        o.credential ?? "certificate",
        tokenDeps,
        Math.floor(now() / 1000),
      );
      if (!r.ok) throw new Error(`issueToken: AADSTS${r.error.aadsts}: ${r.error.message}`);
      return r.value;
    },
    requestCount: (prefix) => (prefix === undefined ? paths.length : paths.filter((p) => p.startsWith(prefix)).length),
    async close() {
      await Promise.all([httpsServer, ...(httpServer ? [httpServer] : [])].map(closeServer));
      await keys.settled();
    },
  };
}

async function loadDirectory(tenants: TenantFile | string): Promise<Directory> {
  let input: unknown = tenants;
  const source = typeof tenants === "string" ? tenants : "tenant file";
  if (typeof tenants === "string") {
    try {
      input = JSON.parse(await readFile(tenants, "utf8"));
    } catch (e) {
      throw new Error(`${source}: cannot read JSON (${(e as Error).message})`);
    }
  }
  const parsed = parseTenantFile(input);
  if (!parsed.ok) throw new Error(`${source} is invalid:\n  ${parsed.issues.join("\n  ")}`);
  return parsed.directory;
}

/** The token endpoint URLs (v2 and v1, tenant by id or domain, on each listener) an assertion may name as `aud`. */
function assertionAudiences(directory: Directory, tenant: Tenant, origins: string[]): Set<string> {
  const names = [...directory.byName].filter(([, t]) => t === tenant).map(([name]) => name);
  const out = new Set<string>();
  for (const o of origins)
    for (const n of names) for (const p of ["oauth2/v2.0/token", "oauth2/token"]) out.add(`${o}/${n}/${p}`);
  return out;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
