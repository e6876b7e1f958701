import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../dev/processes.ts";
import { entraVars, exchangeForm, type Fixture } from "./fixture.ts";
import { brokerSigningKeys, forwardRoutes } from "./http-load.ts";
import { CLIENT_ROLE, policyOf } from "./policy-shape.ts";
import { startDirectWorker } from "./direct-worker.ts";
import type { DevWorker } from "./wrangler.ts";
import { runWrk, type LoadResult, type LoadSettings } from "./wrk.ts";

// Exchange throughput with revocations on (REVOCATIONS bound, a list of entries that do not match
// the caller, so every exchange runs every check) as a ratio to off (no binding): what the kill
// switch costs. Two brokers, same config otherwise, measured alternately so that drift in the
// shared machine's load hits both alike.

/** Entries in the list during the run: a busy incident day's worth. */
export const REVOCATION_ENTRIES = 100;
/** off, on, off, on…: each side measured this many times. */
const ROUNDS = 2;

export interface RevocationLoadResults {
  readonly entries: number;
  readonly off: LoadResult;
  readonly on: LoadResult;
  /** on req/s ÷ off req/s, summed over the rounds. */
  readonly ratio: number;
}

export async function revocationsLoad(
  fixture: Fixture,
  dir: string,
  resource: string,
  settings: LoadSettings,
  quick: boolean,
): Promise<RevocationLoadResults> {
  // The production-like host (the deployed bundle in workerd, nothing in front), like section 1.
  const start = async (name: string, on: boolean): Promise<DevWorker> => {
    const port = await freePort();
    return startDirectWorker({
      name: `identity-broker-revocations-${name}`,
      main: "worker/index.ts",
      dir: join(dir, name),
      port,
      vars: {
        BROKER_ISSUER: `http://127.0.0.1:${port}`,
        ...entraVars(fixture.emulator),
        POLICY: policyOf(10, resource),
        ROUTES: forwardRoutes(resource),
        // The bench client doubles as the admin that seeds the list.
        ADMIN_ROLES: CLIENT_ROLE,
      },
      secrets: { BROKER_SIGNING_KEYS: brokerSigningKeys() },
      readyPath: "/healthz",
      ...(on && { kvNamespaces: ["REVOCATIONS"] }),
    });
  };
  const [off, on] = await Promise.all([start("off", false), start("on", true)]);
  try {
    const subject = await fixture.issueToken();
    const entries = quick ? 5 : REVOCATION_ENTRIES;
    for (let i = 0; i < entries; i++) {
      const response = await fetch(`${on.origin}/admin/revocations`, {
        method: "POST",
        headers: { authorization: `Bearer ${subject}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "client", value: crypto.randomUUID(), reason: "bench" }),
      });
      if (response.status !== 201) throw new Error(`seeding revocations: ${response.status} ${await response.text()}`);
    }
    const bodyFile = join(dir, "same-token.form");
    writeFileSync(bodyFile, `${exchangeForm(subject, resource)}\n`);
    const script = { kind: "post-same", bodyFile } as const;
    for (const w of [off, on]) await runWrk(`${w.origin}/token`, script, { ...settings, durationSeconds: 1 }); // warm-up
    const offRuns: LoadResult[] = [];
    const onRuns: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      offRuns.push(await runWrk(`${off.origin}/token`, script, settings));
      onRuns.push(await runWrk(`${on.origin}/token`, script, settings));
    }
    const merged = (runs: LoadResult[]): LoadResult => ({
      requests: runs.reduce((n, r) => n + r.requests, 0),
      rps: runs.reduce((n, r) => n + r.rps, 0) / runs.length,
      p50Ms: runs.reduce((n, r) => n + r.p50Ms, 0) / runs.length,
      p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
      errors: runs.reduce((n, r) => n + r.errors, 0),
    });
    const offResult = merged(offRuns);
    const onResult = merged(onRuns);
    return { entries, off: offResult, on: onResult, ratio: onResult.rps / offResult.rps };
  } finally {
    await Promise.all([off.stop(), on.stop()]);
  }
}
