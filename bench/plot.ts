import type { LoadResult } from "./wrk.ts";

// A self-contained SVG (no scripts, fonts or links) of one run's HTTP load cases: throughput on
// the left, p99 latency on the right, one bar pair per case, each baseline drawn in grey beside
// the cases it divides. Written by `npm run bench` next to its JSON result.

export interface PlotCase {
  readonly label: string;
  readonly load: Pick<LoadResult, "rps" | "p99Ms">;
  /** A baseline (drawn grey) or a measured case (drawn blue). */
  readonly baseline: boolean;
}

const ROW = 26;
const LABEL_WIDTH = 330;
const BAR_WIDTH = 250;
const GAP = 40;
const TOP = 56;

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

export function plotLoad(title: string, cases: readonly PlotCase[]): string {
  const maxRps = Math.max(1, ...cases.map((c) => c.load.rps));
  const maxP99 = Math.max(0.001, ...cases.map((c) => c.load.p99Ms));
  const width = LABEL_WIDTH + 2 * BAR_WIDTH + GAP + 120;
  const height = TOP + cases.length * ROW + 24;
  const rpsX = LABEL_WIDTH;
  const p99X = LABEL_WIDTH + BAR_WIDTH + GAP + 60;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${rpsX}" y="${TOP - 12}" font-weight="bold">throughput (req/s, longer is better)</text>`,
    `<text x="${p99X}" y="${TOP - 12}" font-weight="bold">p99 latency (ms, shorter is better)</text>`,
  ];
  cases.forEach((c, i) => {
    const y = TOP + i * ROW;
    const fill = c.baseline ? "#9e9e9e" : "#1f77b4";
    const rpsW = Math.max(1, (c.load.rps / maxRps) * BAR_WIDTH);
    const p99W = Math.max(1, (c.load.p99Ms / maxP99) * BAR_WIDTH);
    parts.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escapeXml(c.label)}</text>`,
      `<rect x="${rpsX}" y="${y + 4}" width="${rpsW.toFixed(1)}" height="${ROW - 8}" fill="${fill}"/>`,
      `<text x="${(rpsX + rpsW + 4).toFixed(1)}" y="${y + 15}">${Math.round(c.load.rps).toLocaleString("en")}</text>`,
      `<rect x="${p99X}" y="${y + 4}" width="${p99W.toFixed(1)}" height="${ROW - 8}" fill="${fill}"/>`,
      `<text x="${(p99X + p99W + 4).toFixed(1)}" y="${y + 15}">${fmt(c.load.p99Ms, 2)}</text>`,
    );
  });
  parts.push(
    `<text x="8" y="${height - 8}" fill="#555">grey: baselines measured in the same run; blue: the broker's cases</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
