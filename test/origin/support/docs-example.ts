import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The Python example of docs/origin-kit.md, exactly as written there, as a file to run: the docs
// cannot drift from what the tests check.
export function pythonExampleFile(): string {
  const doc = readFileSync(resolve(import.meta.dirname, "../../../docs/origin-kit.md"), "utf8");
  const match = /```python\n([\s\S]*?)```/.exec(doc);
  if (!match) throw new Error("docs/origin-kit.md has no python example");
  const file = join(mkdtempSync(join(tmpdir(), "origin-kit-python-")), "verify_broker_token.py");
  writeFileSync(file, match[1]!);
  return file;
}
