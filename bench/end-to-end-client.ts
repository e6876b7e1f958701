// The calling service of the end-to-end case, in a process of its own (so that it does not share
// an event loop with the origin it calls): `concurrency` loops for `seconds`, each request either
// with the static API key, or with a broker token that the signer's client library returns for the
// origin (cached exchange over the daemon's unix socket). Prints one JSON line with the figures.
//
// Usage: node bench/end-to-end-client.ts <static|broker> <url> <seconds> <concurrency> <api key|socket> [resource scope]
import { createSignerClient } from "../signer/client.ts";

const [mode, url, seconds, concurrency, credential, resource, scope] = process.argv.slice(2);
if ((mode !== "static" && mode !== "broker") || !url || !seconds || !concurrency || !credential) {
  console.error(
    "usage: end-to-end-client.ts <static|broker> <url> <seconds> <concurrency> <api key|socket> [resource scope]",
  );
  process.exit(2);
}
const signer = mode === "broker" ? createSignerClient(credential) : undefined;

async function authorization(): Promise<string> {
  if (!signer) return `Bearer ${credential}`;
  const { access_token } = await signer.exchange(resource!, scope);
  return `Bearer ${access_token}`;
}

async function once(): Promise<number> {
  const started = performance.now();
  const response = await fetch(url!, { headers: { authorization: await authorization() } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${mode}: the origin answered ${response.status}`);
  return performance.now() - started;
}

// Warm: connections open, JIT, the signer's cache and the origin's verified-token cache filled.
for (let i = 0; i < 200; i++) await once();

const samples: number[] = [];
const deadline = performance.now() + Number(seconds) * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (performance.now() < deadline) samples.push(await once());
  }),
);
const elapsed = (performance.now() - started) / 1000;
samples.sort((a, b) => a - b);
const at = (p: number) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)] ?? Number.NaN;
console.log(
  JSON.stringify({ requests: samples.length, rps: samples.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99) }),
);
process.exit(0);
