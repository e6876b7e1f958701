import type { Config } from "../../worker/config.ts";
import { policyGraph, type GraphNode, type NodeKind, type PolicyGraph } from "./graph.ts";

// `npm run policy -- map`: the policy as a picture. SVG and HTML are self-contained (no scripts,
// fonts or links to fetch), sized from the content: one row per rule, so 5 rules give a small
// picture and 200 rules a tall one that still reads line by line. Full names are in each node's
// <title> (a tooltip) when a label has to be shortened.

export type MapFormat = "svg" | "html" | "mermaid";

export interface MapInput {
  readonly config: Config;
  readonly clientNames?: ReadonlyMap<string, string>;
  readonly title: string;
  readonly policySha256: string;
}

export function renderMap(format: MapFormat, input: MapInput): string {
  const graph = policyGraph(input.config, input.clientNames);
  switch (format) {
    case "svg":
      return `<?xml version="1.0" encoding="UTF-8"?>\n${svg(graph, input)}\n`;
    case "html":
      return html(graph, input);
    case "mermaid":
      return mermaid(graph);
  }
}

// ---- SVG ----

const ROW = 44; // px per row: a box of up to two lines plus a gap
const BOX = 34;
const PAD = 16;
const HEADER = 72;
const GAP = 150; // between columns, room for the curves and the rule → origin labels
const CHAR = 7; // average glyph width of 12 px sans-serif, for sizing boxes
/** Longer labels are shortened on the box (the full text stays in its tooltip). */
const MAX_LABEL_CHARS = 44;

const STYLE: Record<NodeKind, { fill: string; stroke: string; rx: number }> = {
  client: { fill: "#eef4ff", stroke: "#3b6fd8", rx: 4 },
  role: { fill: "#fff6e5", stroke: "#c98a00", rx: 16 },
  match: { fill: "#eef4ff", stroke: "#3b6fd8", rx: 4 },
  rule: { fill: "#f3f3f3", stroke: "#555555", rx: 4 },
  origin: { fill: "#eaf7ee", stroke: "#2c8a4b", rx: 4 },
};

function svg(graph: PolicyGraph, input: MapInput): string {
  const widths = graph.columns.map((nodes) =>
    Math.max(140, ...nodes.map((n) => Math.min(MAX_LABEL_CHARS, longest(n)) * CHAR + 20)),
  );
  const labelWidth = Math.max(
    GAP,
    ...graph.edges.filter((e) => e.label).map((e) => Math.min(60, e.label!.length) * 6 + 40),
  );
  const x = [PAD, PAD + widths[0]! + GAP, PAD + widths[0]! + GAP + widths[1]! + labelWidth];
  const legend = `policy_sha256 ${input.policySha256} · a rule matches a caller that is one of its clients AND holds all its roles · dashed origin: forward-mode route`;
  // 10 px text averages under 6 px a glyph: the legend line sets a minimum width.
  const width = Math.max(x[2]! + widths[2]! + PAD, Math.ceil(legend.length * 5.8) + 2 * PAD);
  const height = HEADER + graph.rows * ROW + PAD;
  const where = new Map<string, { col: number; node: GraphNode }>();
  graph.columns.forEach((nodes, col) => {
    for (const node of nodes) where.set(node.id, { col, node });
  });
  const top = (node: GraphNode) => HEADER + node.row * ROW;

  const edges: string[] = [];
  const labels: string[] = [];
  const labelled = new Set<string>();
  for (const edge of graph.edges) {
    const a = where.get(edge.from)!;
    const b = where.get(edge.to)!;
    const x1 = x[a.col]! + widths[a.col]!;
    const y1 = top(a.node) + BOX / 2;
    const x2 = x[b.col]!;
    // A band (grouped layout) is entered level with the row the line comes from.
    const y2 = (b.node.span ?? 1) > 1 ? y1 : top(b.node) + BOX / 2;
    const mid = (x1 + x2) / 2;
    const kind = a.node.kind === "rule" ? "grant" : a.node.kind === "match" ? "client" : a.node.kind;
    edges.push(
      `<path class="edge ${kind}" d="M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}"><title>${esc(`${a.node.key} → ${b.node.key}${edge.label ? `: ${edge.label}` : ""}`)}</title></path>`,
    );
    // One label per rule, beside the rule: rows never share it, so labels never collide.
    if (edge.label && !labelled.has(edge.from)) {
      labelled.add(edge.from);
      labels.push(`<text class="grant-label" x="${x1 + 6}" y="${y1 - 4}">${esc(shorten(edge.label, 60))}</text>`);
    }
  }

  const nodes: string[] = [];
  graph.columns.forEach((column, col) => {
    for (const node of column) {
      const style = STYLE[node.kind];
      const y = top(node);
      const forwarded = node.kind === "origin" && graph.forwarded.has(node.key);
      const lines = [node.label, ...node.notes];
      const text = lines
        .slice(0, 2)
        .map(
          (line, i) =>
            `<text class="${i === 0 ? "label" : "note"}" x="${x[col]! + 10}" y="${y + (lines.length > 1 ? 14 + i * 13 : 21)}">${esc(shorten(line, MAX_LABEL_CHARS))}</text>`,
        )
        .join("");
      nodes.push(
        `<g class="node ${node.kind}" id="${node.id}"><title>${esc([kindName(node.kind), node.key, ...node.notes].join("\n"))}</title>` +
          `<rect x="${x[col]}" y="${y}" width="${widths[col]}" height="${BOX + ((node.span ?? 1) - 1) * ROW}" rx="${style.rx}" fill="${style.fill}" stroke="${style.stroke}"${forwarded ? ' stroke-width="2.5" stroke-dasharray="6 3"' : ""}/>` +
          `${text}</g>`,
      );
    }
  });

  const heading = [
    `<text class="title" x="${PAD}" y="20">${esc(input.title)}</text>`,
    `<text class="note" x="${PAD}" y="36">${esc(legend)}</text>`,
    `<text class="column" x="${x[0]}" y="${HEADER - 10}">identities and roles</text>`,
    `<text class="column" x="${x[1]}" y="${HEADER - 10}">rules</text>`,
    `<text class="column" x="${x[2]}" y="${HEADER - 10}">origins</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(input.title)}">`,
    `<style>${SVG_CSS}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...heading,
    `<g class="edges">`,
    ...edges,
    `</g>`,
    `<g class="labels">`,
    ...labels,
    `</g>`,
    ...nodes,
    `</svg>`,
  ].join("\n");
}

const SVG_CSS = [
  "text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:12px;fill:#1d1d1d}",
  ".title{font-size:15px;font-weight:600}",
  ".note{font-size:10px;fill:#555}",
  ".column{font-size:11px;font-weight:600;fill:#666;text-transform:uppercase;letter-spacing:.05em}",
  ".grant-label{font-size:10px;fill:#2c6e3f}",
  ".edge{fill:none;stroke-width:1.2;opacity:.75}",
  ".edge.client{stroke:#3b6fd8}.edge.role{stroke:#c98a00;stroke-dasharray:3 2}.edge.grant{stroke:#2c8a4b}",
].join("");

function longest(node: GraphNode): number {
  return Math.max(...[node.label, ...node.notes].map((line) => line.length));
}

function kindName(kind: NodeKind): string {
  return { client: "client app id", role: "app role", match: "clients and roles", rule: "rule", origin: "origin" }[
    kind
  ];
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** XML text and attribute escaping (the output is parsed as XML by the tests and by browsers). */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`);
}

// ---- HTML: the picture plus a table of the rules (searchable with the browser's find) ----

function html(graph: PolicyGraph, input: MapInput): string {
  const { config } = input;
  const routesByOrigin = new Map<string, string[]>();
  for (const route of config.forward?.table.routes ?? [])
    routesByOrigin.set(route.origin, [...(routesByOrigin.get(route.origin) ?? []), route.name]);
  const name = (client: string) => {
    const label = input.clientNames?.get(client);
    return label ? `${label} (${client})` : client;
  };
  const rows = config.policy.rules.map((rule) => {
    const cells = [
      rule.name,
      rule.match.clients ? [...rule.match.clients].map(name).join(", ") : "any client",
      rule.match.roles ? rule.match.roles.join(", ") : "—",
      rule.match.tenants ? [...rule.match.tenants].join(", ") : "any accepted tenant",
      [...rule.grant.origins]
        .map((o) => (routesByOrigin.has(o) ? `${o} (forward: ${routesByOrigin.get(o)!.join(", ")})` : o))
        .join(", "),
      rule.grant.scopes.join(" "),
      `${rule.grant.maxTtlSeconds} s`,
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`;
  });
  // XHTML-compatible (every element closed, XML escaping) so it parses as XML as well as HTML.
  return `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<title>${esc(input.title)}</title>
<style>body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#1d1d1d}.map{overflow:auto;border:1px solid #ddd}table{border-collapse:collapse;margin-top:24px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}code{font-size:12px}</style>
</head>
<body>
<h1>${esc(input.title)}</h1>
<p>${config.policy.rules.length} rule${config.policy.rules.length === 1 ? "" : "s"} · policy_sha256 <code>${esc(input.policySha256)}</code></p>
<div class="map">
${svg(graph, input)}
</div>
<table>
<thead><tr><th>rule</th><th>clients</th><th>roles (all required)</th><th>tenants</th><th>origins</th><th>scopes</th><th>max lifetime</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>
</body>
</html>
`;
}

// ---- mermaid (for Markdown renderers that draw it) ----

function mermaid(graph: PolicyGraph): string {
  const lines = ["flowchart LR"];
  for (const column of graph.columns) {
    for (const node of column) {
      const text = mermaidText([node.label, ...node.notes].join("<br/>"));
      const shape = node.kind === "role" ? `(["${text}"])` : node.kind === "origin" ? `[/"${text}"/]` : `["${text}"]`;
      lines.push(`  ${node.id}${shape}`);
    }
  }
  for (const edge of graph.edges) {
    const arrow = edge.label ? ` -- "${mermaidText(edge.label)}" --> ` : " --> ";
    lines.push(`  ${edge.from}${arrow}${edge.to}`);
  }
  lines.push("  classDef client fill:#eef4ff,stroke:#3b6fd8");
  lines.push("  classDef role fill:#fff6e5,stroke:#c98a00");
  lines.push("  classDef origin fill:#eaf7ee,stroke:#2c8a4b");
  for (const kind of ["client", "role", "origin"] as const) {
    const ids = graph.columns.flat().filter((n) => n.kind === kind);
    if (ids.length > 0) lines.push(`  class ${ids.map((n) => n.id).join(",")} ${kind}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Mermaid labels in double quotes: '#' starts an entity code, so it and '"' are written as entities. */
function mermaidText(text: string): string {
  return text.replace(/#/g, "#35;").replace(/"/g, "#quot;");
}
