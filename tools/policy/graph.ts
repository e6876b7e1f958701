import type { Config } from "../../worker/config.ts";
import type { Rule } from "../../worker/policy.ts";

// Who reaches what, as a layered graph: identities (client app ids) and app roles → rules →
// origins. Laid out once here, drawn by each format (map.ts). Two layouts:
// - hubs (small policies): one node per client, role and origin, each placed at the mean height
//   of the rules it touches, so shared roles and origins show as such;
// - grouped (large policies): one row per (origin, rule), origins as bands spanning their rows and
//   each rule's clients and roles written on its own row. Every line is then horizontal, which
//   is what keeps 200 rules readable where hub lines would cross by the thousand.

export type NodeKind = "client" | "role" | "match" | "rule" | "origin";

/** Up to this many rules the hub layout stays legible; beyond it, rows grouped by origin. */
export const HUB_LAYOUT_MAX_RULES = 24;

export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  /** The full text (rule name, origin, role value, client app id). */
  readonly key: string;
  /** What is shown: a display name for a client when known, else the key. */
  readonly label: string;
  /** Extra lines: a client's app id, an origin's forward-mode routes, a rule's tenants. */
  readonly notes: readonly string[];
  /** Row position (0-based; fractional rows do not occur after layout). */
  row: number;
  /** Rows the node covers (grouped layout origins); 1 otherwise. */
  span?: number;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** rule → origin: scopes and lifetime. */
  readonly label?: string;
}

export interface PolicyGraph {
  readonly columns: readonly (readonly GraphNode[])[];
  readonly edges: readonly GraphEdge[];
  readonly rows: number;
  /** Origins that forward-mode routes lead to. */
  readonly forwarded: ReadonlySet<string>;
}

export function policyGraph(config: Config, clientNames: ReadonlyMap<string, string> = new Map()): PolicyGraph {
  const routesByOrigin = new Map<string, string[]>();
  for (const route of config.forward?.table.routes ?? []) {
    const list = routesByOrigin.get(route.origin) ?? [];
    list.push(route.name);
    routesByOrigin.set(route.origin, list);
  }
  if (config.policy.rules.length > HUB_LAYOUT_MAX_RULES) return groupedGraph(config, clientNames, routesByOrigin);
  return hubGraph(config, clientNames, routesByOrigin);
}

function grantLabel(rule: Rule): string {
  return `${rule.grant.scopes.join(" ")} · ${rule.grant.maxTtlSeconds} s`;
}

function groupedGraph(
  config: Config,
  clientNames: ReadonlyMap<string, string>,
  routesByOrigin: ReadonlyMap<string, readonly string[]>,
): PolicyGraph {
  const byOrigin = [...config.policy.byOrigin.entries()].sort(([a], [b]) => a.localeCompare(b));
  const matches: GraphNode[] = [];
  const rules: GraphNode[] = [];
  const origins: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let row = 0;
  for (const [origin, granting] of byOrigin) {
    const originId = `origin_${origins.length}`;
    origins.push({
      id: originId,
      kind: "origin",
      key: origin,
      label: origin,
      notes: routesByOrigin.has(origin) ? [`forward: ${routesByOrigin.get(origin)!.join(", ")}`] : [],
      row,
      span: granting.length,
    });
    for (const rule of granting) {
      const clients = [...(rule.match.clients ?? [])].map((c) => clientNames.get(c) ?? c);
      const matchId = `match_${row}`;
      const ruleId = `rule_${row}`;
      matches.push({
        id: matchId,
        kind: "match",
        key: [...(rule.match.clients ?? []), ...(rule.match.roles ?? [])].join(" "),
        label: clients.length > 0 ? clients.join(", ") : "any client",
        notes: [rule.match.roles ? `roles: ${rule.match.roles.join(" + ")}` : "no role needed"],
        row,
      });
      rules.push({
        id: ruleId,
        kind: "rule",
        key: rule.name,
        label: rule.name,
        notes: rule.match.tenants ? [`tenants: ${[...rule.match.tenants].join(", ")}`] : [],
        row,
      });
      edges.push({ from: matchId, to: ruleId }, { from: ruleId, to: originId, label: grantLabel(rule) });
      row++;
    }
  }
  return {
    columns: [matches, rules, origins],
    edges,
    rows: Math.max(row, 1),
    forwarded: new Set(routesByOrigin.keys()),
  };
}

function hubGraph(
  config: Config,
  clientNames: ReadonlyMap<string, string>,
  routesByOrigin: ReadonlyMap<string, readonly string[]>,
): PolicyGraph {
  // Rules grouped by their first origin, in the order origins first appear: lines into the origin
  // column then run mostly level.
  const originOrder = new Map<string, number>();
  for (const rule of config.policy.rules)
    for (const origin of rule.grant.origins) if (!originOrder.has(origin)) originOrder.set(origin, originOrder.size);
  const rules = [...config.policy.rules].sort(
    (a, b) => originOrder.get(first(a.grant.origins))! - originOrder.get(first(b.grant.origins))!,
  );

  const ruleNodes: GraphNode[] = rules.map((rule, i) => ({
    id: `rule_${i}`,
    kind: "rule",
    key: rule.name,
    label: rule.name,
    notes: rule.match.tenants ? [`tenants: ${[...rule.match.tenants].join(", ")}`] : [],
    row: i,
  }));
  const left = new Map<string, GraphNode & { rows: number[] }>();
  const right = new Map<string, GraphNode & { rows: number[] }>();
  const edges: GraphEdge[] = [];
  rules.forEach((rule, i) => {
    const ruleId = ruleNodes[i]!.id;
    for (const client of rule.match.clients ?? []) {
      const node = upsert(left, `client:${client}`, () => ({
        kind: "client" as const,
        key: client,
        label: clientNames.get(client) ?? client,
        notes: clientNames.has(client) ? [client] : [],
      }));
      node.rows.push(i);
      edges.push({ from: node.id, to: ruleId });
    }
    for (const role of rule.match.roles ?? []) {
      const node = upsert(left, `role:${role}`, () => ({
        kind: "role" as const,
        key: role,
        label: role,
        notes: [],
      }));
      node.rows.push(i);
      edges.push({ from: node.id, to: ruleId });
    }
    const label = grantLabel(rule);
    for (const origin of rule.grant.origins) {
      const routes = routesByOrigin.get(origin);
      const node = upsert(right, `origin:${origin}`, () => ({
        kind: "origin" as const,
        key: origin,
        label: origin,
        notes: routes ? [`forward: ${routes.join(", ")}`] : [],
      }));
      node.rows.push(i);
      edges.push({ from: ruleId, to: node.id, label });
    }
  });
  const leftNodes = placeByMean([...left.values()]);
  // Second pass: each rule moves level with the identities and roles it names, then the origins
  // follow their rules, so most lines run nearly straight.
  const leftRow = new Map(leftNodes.map((n) => [n.id, n.row]));
  const ruleRows = new Map<string, number[]>();
  for (const edge of edges) {
    const row = leftRow.get(edge.from);
    if (row !== undefined) ruleRows.set(edge.to, [...(ruleRows.get(edge.to) ?? []), row]);
  }
  const placedRules = placeByMean(ruleNodes.map((n) => ({ ...n, rows: ruleRows.get(n.id) ?? [n.row] })));
  const ruleRow = new Map(placedRules.map((n) => [n.id, n.row]));
  const originsById = new Map([...right.values()].map((n) => [n.id, n]));
  for (const origin of originsById.values()) origin.rows = [];
  for (const edge of edges) {
    const row = ruleRow.get(edge.from);
    const origin = originsById.get(edge.to);
    if (row !== undefined && origin) origin.rows.push(row);
  }
  const rightNodes = placeByMean([...right.values()]);
  const rows = Math.max(...[...leftNodes, ...placedRules, ...rightNodes].map((n) => n.row + 1), 1);
  return { columns: [leftNodes, placedRules, rightNodes], edges, rows, forwarded: new Set(routesByOrigin.keys()) };
}

function first<T>(set: ReadonlySet<T>): T {
  return set.values().next().value as T;
}

function upsert(
  map: Map<string, GraphNode & { rows: number[] }>,
  key: string,
  make: () => Omit<GraphNode, "id" | "row">,
): GraphNode & { rows: number[] } {
  let node = map.get(key);
  if (!node) {
    node = { ...make(), id: `${key.split(":")[0]}_${map.size}`, row: 0, rows: [] };
    map.set(key, node);
  }
  return node;
}

/** Each node at the mean row of the rules it connects to, pushed down just enough not to overlap. */
function placeByMean(nodes: (GraphNode & { rows: number[] })[]): GraphNode[] {
  const mean = (n: { rows: number[] }) => n.rows.reduce((a, b) => a + b, 0) / n.rows.length;
  const sorted = nodes.sort((a, b) => mean(a) - mean(b) || a.key.localeCompare(b.key));
  let next = 0;
  for (const node of sorted) {
    node.row = Math.max(Math.round(mean(node)), next);
    next = node.row + 1;
  }
  return sorted.map(({ rows: _rows, ...node }) => node);
}
