// Figures as the bench prints them: fixed decimals, thousands separators, n/a for a missing one.

export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
export const int = (n: number) => Math.round(n).toLocaleString("en");
export const mib = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MiB`;
