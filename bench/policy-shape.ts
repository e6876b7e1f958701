// The calling service and the policies the benchmarks use. Portable: the bench Worker builds the
// 10- and 10,000-rule policies itself (a 10,000-rule document is ~2 MB, too large for a var).

export const CLIENT_APP_ID = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0";
export const CLIENT_ROLE = "Orders.Call";
export const SCOPE = "orders.read";

/** A policy of `size` rules over `size / 10` origins (10 rules each, the caller's rule last for its origin). */
export function policyOf(size: number, callerOrigin: string): { rules: object[] } {
  const rules: object[] = [];
  const origins = Math.max(1, Math.floor(size / 10));
  for (let i = 0; i < size - 1; i++) {
    rules.push({
      name: `rule-${i}`,
      match: { clients: [fakeClientId(i)], roles: [CLIENT_ROLE] },
      grant: {
        origins: [i % origins === 0 ? callerOrigin : `https://svc-${i % origins}.bench.example`],
        scopes: [SCOPE, "orders.write"],
        maxTtlSeconds: 300,
      },
    });
  }
  rules.push({
    name: "bench-client-calls-origin",
    match: { clients: [CLIENT_APP_ID], roles: [CLIENT_ROLE] },
    grant: { origins: [callerOrigin], scopes: [SCOPE], maxTtlSeconds: 300 },
  });
  return { rules };
}

function fakeClientId(i: number): string {
  const hex = i.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}
