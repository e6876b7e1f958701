import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import type { StackPorts } from "./stack.ts";

// The walk-through lives in the docs, once: README.md and docs/*.md mark their transcripts
// against `npm start` with an HTML comment, `npm start` prints those commands with the ports it
// really uses, and test/dev/walkthrough.test.ts runs them and compares their output, so the docs
// cannot drift from what the stack does.
//
//   <!-- walkthrough: commands -->      before a ```console block of "$ command" lines, each
//                                       followed by its expected output
//   <!-- walkthrough: npm start output --> before a ``` block of lines that npm start prints
//
// In expected output, "…" stands for any text (ids, timestamps, tokens).

export const COMMANDS_MARK = "<!-- walkthrough: commands -->";
export const LOG_MARK = "<!-- walkthrough: npm start output -->";

/** The ports the docs are written for: the defaults of `npm start`. */
export const DOC_PORTS: StackPorts = {
  emulatorHttps: 8443,
  emulatorHttp: 8444,
  broker: 8787,
  brokerInspector: 9239,
  inventory: 8801,
  deploy: 8802,
};

export interface Step {
  /** The command as bash runs it (continuation lines joined with their backslashes). */
  readonly command: string;
  readonly expected: readonly string[];
}

export interface Transcript {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly kind: "commands" | "log";
  readonly steps: readonly Step[];
  /** For "log" blocks: the lines npm start must have printed. */
  readonly lines: readonly string[];
}

export function readTranscripts(file: string, markdown: string): Transcript[] {
  const lines = markdown.split("\n");
  const found: Transcript[] = [];
  for (let i = 0; i < lines.length; i++) {
    const mark = lines[i]!.trim();
    if (mark !== COMMANDS_MARK && mark !== LOG_MARK) continue;
    const fence = i + 1;
    if (!lines[fence]?.startsWith("```")) throw new Error(`${file}:${i + 1}: a walkthrough mark must precede a fence`);
    const end = lines.findIndex((l, j) => j > fence && l.startsWith("```"));
    if (end < 0) throw new Error(`${file}:${fence + 1}: unclosed fence`);
    const body = lines.slice(fence + 1, end);
    if (mark === LOG_MARK) found.push({ file, line: fence + 1, kind: "log", steps: [], lines: body });
    else found.push({ file, line: fence + 1, kind: "commands", steps: parseSteps(file, fence + 1, body), lines: [] });
    i = end;
  }
  return found;
}

function parseSteps(file: string, line: number, body: string[]): Step[] {
  const steps: Array<{ command: string; expected: string[] }> = [];
  for (let i = 0; i < body.length; i++) {
    const text = body[i]!;
    if (text.startsWith("$ ")) {
      let command = text.slice(2);
      while (command.endsWith("\\") && i + 1 < body.length) command += `\n${body[++i]}`;
      steps.push({ command, expected: [] });
    } else if (steps.length === 0) throw new Error(`${file}:${line + i + 1}: output before the first "$ " command`);
    else steps.at(-1)!.expected.push(text);
  }
  return steps;
}

/** The transcripts of README.md and docs/*.md, in reading order. */
export function repositoryTranscripts(repo: string, docs: readonly string[]): Transcript[] {
  return ["README.md", ...docs]
    .filter((f) => existsSync(join(repo, f)))
    .flatMap((f) => readTranscripts(f, readFileSync(join(repo, f), "utf8")));
}

/** Rewrites text written for the default ports and `.dev/` to the ports and state directory in use. */
export function adapt(text: string, ports: StackPorts, stateDir: string): string {
  let out = text;
  for (const key of Object.keys(DOC_PORTS) as Array<keyof StackPorts>) {
    if (DOC_PORTS[key] === ports[key]) continue;
    out = out.replace(new RegExp(`(127\\.0\\.0\\.1|localhost):${DOC_PORTS[key]}\\b`, "g"), `$1:${ports[key]}`);
  }
  return out.replace(/(^|[\s='"(])\.dev\//g, `$1${stateDir}/`);
}

/** Does an output line match an expected one, where "…" stands for any text? */
export function lineMatches(expected: string, actual: string): boolean {
  const pattern = expected
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*?");
  return new RegExp(`^${pattern}$`, "s").test(actual);
}

/** What `npm start` prints once it is up: the commands of the walk-through, for its own ports. */
export function printedWalkthrough(repo: string, docs: readonly string[], ports: StackPorts, stateDir: string): string {
  // As the reader will type it: relative when it is under the current directory (.dev), else absolute.
  const rel = relative(process.cwd(), stateDir);
  const shown = rel === "" || rel.startsWith("..") || isAbsolute(rel) ? stateDir : rel;
  const transcripts = repositoryTranscripts(repo, docs).filter((t) => t.kind === "commands");
  return transcripts
    .map((t) => `  # ${t.file}:${t.line}\n${t.steps.map((s) => `  ${adapt(s.command, ports, shown)}`).join("\n")}`)
    .join("\n\n");
}
