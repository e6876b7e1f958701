import { isObject } from "./json.ts";
import { err, ok, type Result } from "./result.ts";

// The loading skeleton shared by the broker's configuration documents (POLICY, ROUTES): a JSON
// string or a TOML table holding one array of named items. Every problem is collected, not just
// the first, and each is labelled by item name (or index) and field, so one deploy shows them all.

export type Report = (field: string, problem: string) => void;

export interface NamedListSpec {
  /** The document's one field, e.g. "rules". */
  readonly field: string;
  /** How an item is named in messages, e.g. "rule". */
  readonly kind: string;
  readonly max: number;
  /** Set when an empty list is an error; the text says what to do instead. */
  readonly emptyHint?: string;
  /** Other top-level fields the document may have, parsed by the caller. */
  readonly otherFields?: readonly string[];
}

export function parseNamedList<T extends { readonly name: string }>(
  raw: unknown,
  spec: NamedListSpec,
  parseItem: (value: unknown, report: Report) => T | undefined,
  /** Cross-item checks (duplicate names are already covered); called for each valid item in order. */
  checkAgainstEarlier?: (item: T, report: Report) => void,
): Result<T[], string[]> {
  let doc = raw;
  if (typeof raw === "string") {
    try {
      doc = JSON.parse(raw);
    } catch (e) {
      return err([`not valid JSON (${(e as Error).message})`]);
    }
  }
  if (!isObject(doc)) return err([`must be an object with a "${spec.field}" array`]);
  const problems: string[] = [];
  for (const key of Object.keys(doc))
    if (key !== spec.field && !spec.otherFields?.includes(key)) problems.push(`unknown field "${key}"`);
  const list = doc[spec.field];
  if (!Array.isArray(list)) return err([...problems, `"${spec.field}" must be an array`]);
  if (list.length === 0 && spec.emptyHint) return err([...problems, `"${spec.field}" is empty: ${spec.emptyHint}`]);
  if (list.length > spec.max) return err([`at most ${spec.max} ${spec.field}`]);

  const items: T[] = [];
  const names = new Set<string>();
  list.forEach((value: unknown, index: number) => {
    const label =
      isObject(value) && typeof value.name === "string" ? `${spec.kind} "${value.name}"` : `${spec.field}[${index}]`;
    const report: Report = (field, problem) => problems.push(`${label}: ${field}: ${problem}`);
    const item = parseItem(value, report);
    if (!item) return;
    if (names.has(item.name)) report("name", `duplicate ${spec.kind} name`);
    names.add(item.name);
    checkAgainstEarlier?.(item, report);
    items.push(item);
  });
  return problems.length > 0 ? err(problems) : ok(items);
}

/** Wraps a Report so the item parser can ask, at the end, whether anything failed. */
export function fieldChecker(report: Report): { fail: Report; failed: () => boolean } {
  let failed = false;
  return {
    fail: (field, problem) => {
      failed = true;
      report(field, problem);
    },
    failed: () => failed,
  };
}

/** Unknown fields are usually typos of known ones: refuse them rather than ignore a misspelt limit. */
export function rejectUnknownFields(
  value: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  fail: Report,
): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) fail(`${prefix}${key}`, "unknown field");
}

/** An optional list of distinct strings, each checked by `valid`; undefined when absent. */
export function stringList(
  value: unknown,
  field: string,
  fail: Report,
  valid: (s: string) => boolean,
  what: string,
): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    fail(field, "must be a non-empty array");
    return undefined;
  }
  const seen = new Set<string>();
  value.forEach((item: unknown, i: number) => {
    if (typeof item !== "string" || !valid(item)) fail(`${field}[${i}]`, `${JSON.stringify(item)} is not ${what}`);
    else if (seen.has(item)) fail(`${field}[${i}]`, `${JSON.stringify(item)} is listed twice`);
    else seen.add(item);
  });
  return [...seen];
}
