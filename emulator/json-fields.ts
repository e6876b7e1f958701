// Field readers shared by the tenant file parsers: each problem is reported with the path of the field.
import { createHash } from "node:crypto";

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Fail {
  (path: string, msg: string): void;
  readonly issues: readonly string[];
}

/** A stable GUID-shaped id from a seed, so the same tenant file always yields the same object ids. */
export function derivedGuid(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function optionalArray(v: unknown, path: string, fail: Fail): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return void fail(path, "must be an array");
  return v;
}

export function optionalStringArray(v: unknown, path: string, fail: Fail): string[] | undefined {
  const arr = optionalArray(v, path, fail);
  if (!arr) return undefined;
  arr.forEach((s, i) => typeof s !== "string" && fail(`${path}[${i}]`, "must be a string"));
  return arr.filter((s): s is string => typeof s === "string");
}

export function issuesCount(fail: Fail): number {
  return fail.issues.length;
}
