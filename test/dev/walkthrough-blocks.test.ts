import { describe, expect, it } from "vitest";
import { adapt, DOC_PORTS, lineMatches, readTranscripts } from "../../dev/walkthrough.ts";

// The pieces the walk-through test and `npm start` share: reading marked blocks, rewriting ports
// and the state directory, and matching output with "…".

describe("lineMatches", () => {
  it.each([
    ["exact", "abc", "abc", true],
    ["different", "abc", "abd", false],
    ["… matches any text", "eyJ0eXAi…", "eyJ0eXAiOiJKV1Qi", true],
    ["… matches nothing", '{"a":1,…"b":2}', '{"a":1,"b":2}', true],
    [
      "text around … must be there",
      '"token_reused":true,…,"origin_status":200',
      '"token_reused":true,"origin_status":200',
      false,
    ],
    ["the whole line, not a prefix", "abc", "abcd", false],
    ["regex characters are literal", "a.c (x)", "abc (x)", false],
  ])("%s", (_, expected, actual, result) => {
    expect(lineMatches(expected, actual)).toBe(result);
  });
});

describe("adapt", () => {
  const ports = { ...DOC_PORTS, broker: 40001, inventory: 40002 };

  it("rewrites the default ports on loopback and the state directory", () => {
    expect(adapt("curl http://127.0.0.1:8787/items -H x:8787 .dev/orders/signer.json", ports, "/tmp/s")).toBe(
      "curl http://127.0.0.1:40001/items -H x:8787 /tmp/s/orders/signer.json",
    );
    expect(adapt('X=.dev/a "--resource=http://127.0.0.1:8801"', ports, "/tmp/s")).toBe(
      'X=/tmp/s/a "--resource=http://127.0.0.1:40002"',
    );
  });

  it("leaves ports that are not the stack's, and look-alike paths, alone", () => {
    expect(adapt("http://127.0.0.1:87870 my.dev/x", ports, "/tmp/s")).toBe("http://127.0.0.1:87870 my.dev/x");
  });
});

describe("readTranscripts", () => {
  const doc = [
    "# Doc",
    "<!-- walkthrough: commands -->",
    "```console",
    "$ export A=1",
    "$ curl -s x \\",
    "    -d y",
    "out 1",
    "out 2",
    "```",
    "```console",
    "$ not marked",
    "```",
    "<!-- walkthrough: npm start output -->",
    "```",
    "[broker] line",
    "```",
  ].join("\n");

  it("reads marked blocks only: commands with continuation lines and their output, and log lines", () => {
    const [commands, log, ...rest] = readTranscripts("doc.md", doc);
    expect(rest).toEqual([]);
    expect(commands).toMatchObject({
      file: "doc.md",
      line: 3,
      kind: "commands",
      steps: [
        { command: "export A=1", expected: [] },
        { command: "curl -s x \\\n    -d y", expected: ["out 1", "out 2"] },
      ],
    });
    expect(log).toMatchObject({ line: 14, kind: "log", lines: ["[broker] line"] });
  });

  it("refuses a mark without a fence, and output before any command", () => {
    expect(() => readTranscripts("d.md", "<!-- walkthrough: commands -->\ntext")).toThrow("d.md:1: a walkthrough mark");
    expect(() => readTranscripts("d.md", "<!-- walkthrough: commands -->\n```console\nout\n```")).toThrow(
      'd.md:3: output before the first "$ " command',
    );
  });
});
