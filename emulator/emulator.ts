// startEmulator: wires the tenant file, the CA, the signing keys and the listeners together.
import { createServer as createHttpsServer } from "node:https";
import { createServer as createHttpServer, type Server } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { loadOrCreateCa } from "./ca.ts";
import { createKeyRing, type KeyRing, type KeyState, type Rotation, type RotationMode } from "./signing-keys.ts";
import { createFaultSet, type Fault, type FaultSpec } from "./faults.ts";
import { createControlApi } from "./control-api.ts";
import type { PublishedKey } from "./discovery.ts";
import { createReplayCache, type ReplayCache } from "./replay-cache.ts";
import { createHandler, type RouteContext } from "./server.ts";
import { grantAppOnlyToken, type TokenEndpointDeps } from "./token-endpoint.ts";
import {
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  RANDOM_LIFETIME_SECONDS,
  type Issuers,
  type TokenResponse,
} from "./token-issue.ts";
import { parseTenantFile, type Directory, type Tenant, type TenantFile } from "./tenant-file.ts";
import type { CredentialKind } from "./client-auth.ts";

/** The plain HTTP listener only ever binds here: tokens and keys never travel unencrypted off the host. */
const HTTP_LOOPBACK_HOST = "127.0.0.1";
/** Entra's v1.0 issuer host: a string in `iss`, never a place keys or documents are fetched from. */
export const DEFAULT_STS_HOST = "https://sts.windows.net";
/** Where a running emulator tells the CLI its origins (in the state dir). */
export const RUNTIME_FILE = "emulator.json";

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
  /** Fixed token lifetime (default 3599); ignored when randomTokenLifetime is on. */
  tokenLifetimeSeconds?: number;
  /** Entra's random 60-90 minute lifetimes instead of a fixed one. */
  randomTokenLifetime?: boolean;
  /** Send `refresh_in` (half the lifetime) in token responses. */
  refreshIn?: boolean;
  /** Origin used in v1 issuers: `{stsHost}/{tid}/` (default https://sts.windows.net, like Entra: never fetched). */
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
  /** The host of v1 issuers (https://sts.windows.net unless stsHost says otherwise). */
  readonly v1IssuerHost: string;
  /** Where the CA and the runtime file (emulator.json, read by the CLI) live. */
  readonly stateDir: string;
  /**
   * Rolls the signing keys of a tenant's key scope (the shared keys unless the tenant has its own).
   * "planned" (default): a key published since the previous rotation signs, the old one stays
   * published (retired). "emergency": the old key leaves the JWKS at once, a never-published key signs.
   */
  rotateSigningKeys(opts?: { tenant?: string; mode?: RotationMode }): Rotation;
  /** Unpublishes the retired keys (the end of Entra's overlap period); returns their kids. */
  dropRetiredSigningKeys(tenant?: string): string[];
  signingKeys(tenant?: string): KeyState;
  /** The kid that signs new tokens. */
  activeKid(tenant?: string): string;
  /** Switches a fault on (throws on an invalid spec); see faults.ts. */
  addFault(spec: FaultSpec): Fault;
  faults(): readonly Fault[];
  clearFaults(): void;
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
  const randomLifetime = opts.randomTokenLifetime === true;
  const shared = await createKeyRing("shared");
  const own = new Map<Tenant, KeyRing>();
  for (const t of directory.tenants) if (t.ownSigningKeys) own.set(t, await createKeyRing(t.tenantId));
  const ringOf = (t: Tenant | undefined) => (t && own.get(t)) ?? shared;
  const faults = createFaultSet();
  const stsHost = opts.stsHost ?? DEFAULT_STS_HOST;

  const paths: string[] = [];
  // Filled in once the listeners have ports; handlers only run after that.
  let httpsOrigin = "";
  let httpOrigin: string | undefined;
  const issuers: Issuers = {
    v2: (tid) => `${httpsOrigin}/${tid}/v2.0`,
    v1: (tid) => `${stsHost}/${tid}/`,
  };
  const replayCaches = new Map<Tenant, ReplayCache>();
  const tokenDeps: TokenEndpointDeps = {
    keys: ringOf,
    issuers,
    lifetimeSeconds: () =>
      randomLifetime
        ? RANDOM_LIFETIME_SECONDS.min +
          Math.floor(Math.random() * (RANDOM_LIFETIME_SECONDS.max - RANDOM_LIFETIME_SECONDS.min))
        : lifetimeSeconds,
    refreshIn: opts.refreshIn === true,
    replayCache: (t) => {
      if (!t.rejectReplayedAssertions) return undefined;
      let c = replayCaches.get(t);
      if (!c) replayCaches.set(t, (c = createReplayCache()));
      return c;
    },
    assertionAudiences: (t) => assertionAudiences(directory, t, [httpsOrigin, ...(httpOrigin ? [httpOrigin] : [])]),
  };
  // A tenant's JWKS: its key scope's keys, with the {tenantid} template on shared keys and a fixed
  // issuer on a tenant's own. /common and /organizations: the shared keys plus every tenant's own.
  const publishedKeys = (t: Tenant | undefined, hideNewest: boolean): PublishedKey[] => {
    const scopes: [KeyRing, string][] = t
      ? [[ringOf(t), own.has(t) ? issuers.v2(t.tenantId) : issuers.v2("{tenantid}")]]
      : [
          [shared, issuers.v2("{tenantid}")],
          ...[...own].map(([ot, r]): [KeyRing, string] => [r, issuers.v2(ot.tenantId)]),
        ];
    return scopes.flatMap(([ring, issuer]) =>
      ring
        .published()
        .filter((k) => !(hideNewest && k === ring.newest() && k !== ring.active()))
        .map((key) => ({ key, issuer })),
    );
  };
  const tenantByName = (name: string | undefined): Tenant | undefined => {
    if (name === undefined) return undefined;
    const t = directory.byName.get(name.toLowerCase());
    if (!t) throw new Error(`unknown tenant '${name}'`);
    return t;
  };
  const control = createControlApi({
    faults,
    tenantId: (name) => directory.byName.get(name.toLowerCase())?.tenantId,
    rotate: (tenant, mode) => ringOf(tenantByName(tenant)).rotate(mode),
    dropRetired: (tenant) => ringOf(tenantByName(tenant)).dropRetired(),
    keyState: (tenant) => ringOf(tenantByName(tenant)).state(),
  });
  const ctx: RouteContext = {
    directory,
    publishedKeys,
    issuers,
    token: tokenDeps,
    faults,
    now,
    record: (p) => void paths.push(p),
    control,
  };

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
  const runtimeFile = join(stateDir, RUNTIME_FILE);
  await writeFile(
    runtimeFile,
    `${JSON.stringify({ httpsOrigin, ...(httpOrigin ? { httpOrigin } : {}), caCertPath: ca.certPath, pid: process.pid }, null, 2)}\n`,
  );

  const canonicalTenant = (name: string) => directory.byName.get(name.toLowerCase())?.tenantId ?? name;
  return {
    httpsOrigin,
    ...(httpOrigin ? { httpOrigin } : {}),
    caCertPem: ca.certPem,
    caCertPath: ca.certPath,
    authority: (tenantId) => `${httpsOrigin}/${tenantId}`,
    tokenEndpoint: (tenantId) => `${httpsOrigin}/${tenantId}/oauth2/v2.0/token`,
    issuer: (tenantId, version) => (version === 2 ? issuers.v2 : issuers.v1)(canonicalTenant(tenantId)),
    v1IssuerHost: stsHost,
    stateDir,
    rotateSigningKeys: (o) => ringOf(tenantByName(o?.tenant)).rotate(o?.mode),
    dropRetiredSigningKeys: (tenant) => ringOf(tenantByName(tenant)).dropRetired(),
    signingKeys: (tenant) => ringOf(tenantByName(tenant)).state(),
    activeKid: (tenant) => ringOf(tenantByName(tenant)).active().kid,
    addFault(spec) {
      const tenant = spec.tenant === undefined ? undefined : tenantByName(spec.tenant)!.tenantId;
      const r = faults.add({ ...spec, ...(tenant ? { tenant } : {}) });
      if (!r.ok) throw new Error(`addFault: ${r.reason}`);
      return r.value;
    },
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
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
      await rm(runtimeFile, { force: true });
      await Promise.all([shared, ...own.values()].map((r) => r.settled()));
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
