import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

// `npm install` on a fresh clone must leave package-lock.json untouched (a stale entry, such as an
// `engines` field package.json no longer has, makes every install rewrite it). npm resolves the
// lockfile against package.json without fetching anything when both agree.

const REPO = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "lockfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("package-lock.json is exactly what npm writes for package.json", async () => {
  for (const file of ["package.json", "package-lock.json"]) copyFileSync(join(REPO, file), join(dir, file));
  await promisify(execFile)(
    "npm",
    [
      "install",
      "--package-lock-only",
      "--ignore-scripts",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--cache",
      join(dir, "cache"),
    ],
    { cwd: dir },
  );
  const rewritten = readFileSync(join(dir, "package-lock.json"), "utf8");
  expect(
    rewritten === readFileSync(join(REPO, "package-lock.json"), "utf8"),
    "npm install would rewrite package-lock.json",
  ).toBe(true);
}, 60_000);
