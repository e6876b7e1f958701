/**
 * The values one setting may take: each parser names the setting and the fix, and throws a
 * SignerError that loadConfig collects with the others.
 */
import { isAbsolute, resolve } from "node:path";
import { isLoopbackHost } from "../worker/lib/origin.ts";
import { SignerError } from "./errors.ts";

export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";

/** sun_path is 108 bytes on Linux (104 on macOS); longer paths fail at bind time with a cryptic error. */
const MAX_SOCKET_PATH_BYTES = 100;

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
/** Multi-tenant aliases cannot issue app-only tokens: msal-node rejects them too, with a vaguer error. */
export const TENANT_ALIASES = new Set(["common", "organizations", "consumers"]);

export function fail(setting: string, fix: string): never {
  throw new SignerError("ERR_CONFIG", `${setting}: ${fix}`);
}

export function str(value: unknown, setting: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") fail(setting, "must be a string");
  return value;
}

/** Key material pasted where a path belongs must be refused, not loaded: it has already leaked into argv, env or a config file. */
function looksLikeKeyMaterial(value: string): boolean {
  return value.includes("-----BEGIN") || value.includes("PRIVATE KEY");
}

export function path(value: unknown, setting: string, baseDir: string): string | undefined {
  const s = str(value, setting);
  if (s === undefined) return undefined;
  if (looksLikeKeyMaterial(s)) {
    throw new SignerError(
      "ERR_KEY_UNSAFE",
      `${setting}: contains key material; give the path of a file readable only by the signer's user, never the key itself`,
    );
  }
  return isAbsolute(s) ? s : resolve(baseDir, s);
}

export function parseAuthorityHost(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(setting, `"${value}" is not a URL; use e.g. ${DEFAULT_AUTHORITY_HOST}`);
  }
  // msal-node only talks to https authorities; a path would silently change which tenant endpoint is used.
  if (url.protocol !== "https:") fail(setting, "must be an https URL (msal-node refuses plain http)");
  if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
    fail(setting, `must be an origin only, like ${DEFAULT_AUTHORITY_HOST} (no path, query or credentials)`);
  }
  return url.origin;
}

export function parseBrokerUrl(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(setting, `"${value}" is not a URL`);
  }
  const loopback = isLoopbackHost(url.hostname);
  // An Entra token sent over plain http to anything but this machine is a bearer token handed to the network.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback))
    fail(setting, "must be https (http only for localhost)");
  if (url.username || url.password || url.search || url.hash)
    fail(setting, "must not contain credentials, a query or a fragment");
  return url.href.replace(/\/+$/, "");
}

export function validateSocketPath(value: string, setting: string): string {
  // Abstract sockets have no file permissions: any local process could connect.
  if (value.startsWith("@") || value.startsWith("\0"))
    fail(setting, "abstract sockets are not allowed (no file permissions); use a filesystem path");
  if (!isAbsolute(value)) fail(setting, "must be an absolute path");
  if (Buffer.byteLength(value) > MAX_SOCKET_PATH_BYTES)
    fail(setting, `is longer than ${MAX_SOCKET_PATH_BYTES} bytes; unix socket paths must be short`);
  return value;
}

/** Entra scopes are short tokens without whitespace; client credentials need the `/.default` form. */
const MAX_SCOPE_LENGTH = 512;

/** The problem with `scope` as an Entra client-credentials scope, if any. */
function scopeProblem(scope: string): string | undefined {
  if (scope.length === 0 || scope.length > MAX_SCOPE_LENGTH || /[\s\x00-\x1f\x7f]/.test(scope))
    return `"${scope.slice(0, 80)}" is not a scope; use one resource's scope like api://broker/.default`;
  // Entra ID only accepts "<resource>/.default" in the client credentials flow (AADSTS1002012).
  if (!scope.endsWith("/.default"))
    return `"${scope}" must end with /.default (client credentials use the app's granted roles, e.g. api://broker/.default)`;
  return undefined;
}

/** `code` says whose mistake it is: ERR_CONFIG for a setting, ERR_REQUEST for a caller's request. */
export function validateScope(
  scope: string,
  setting: string,
  code: "ERR_CONFIG" | "ERR_REQUEST" | "ERR_USAGE" = "ERR_CONFIG",
): string {
  const problem = scopeProblem(scope);
  if (problem !== undefined) throw new SignerError(code, `${setting}: ${problem}`);
  return scope;
}
