// Draws docs/policy-map.svg: the map of the sample policy that `npm start` runs (dev/sample.ts),
// with the origins on the ports npm start gives them and the sample identities' names. It writes
// the sample as a wrangler configuration and a tenant file, and runs the policy tool on them.
//   node tools/sample-policy-map.ts            writes docs/policy-map.svg
//   node tools/sample-policy-map.ts --stdout   prints it (the tests compare it with the committed file)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  sampleTenantNames,
  BROKER_API_APP_ID,
  BROKER_APP_ID_URI,
  SAMPLE_RATE_LIMITS,
  samplePolicy,
  sampleRoutes,
  TENANT_ID,
} from "../dev/sample.ts";

const REPO = resolve(import.meta.dirname, "..");
/** The sample origins as `npm start` serves them (dev/start.ts PORTS). */
const ORIGINS = { inventory: "http://127.0.0.1:8801", deploy: "http://127.0.0.1:8802" };

const dir = mkdtempSync(join(tmpdir(), "policy-map-"));
try {
  const config = join(dir, "wrangler.json");
  writeFileSync(
    config,
    JSON.stringify({
      name: "identity-broker",
      vars: {
        BROKER_ISSUER: "http://127.0.0.1:8787",
        ENTRA_TENANT_IDS: TENANT_ID,
        ENTRA_AUDIENCES: `${BROKER_APP_ID_URI},${BROKER_API_APP_ID}`,
        POLICY: samplePolicy(ORIGINS),
        ROUTES: sampleRoutes(ORIGINS),
      },
      ratelimits: SAMPLE_RATE_LIMITS,
    }),
  );
  // Names and role assignments only: credentials do not matter to the map.
  const tenantFile = join(dir, "tenants.json");
  writeFileSync(tenantFile, JSON.stringify(sampleTenantNames()));
  const args = ["map", "--config", config, "--tenant-file", tenantFile, "--title", "The npm start sample policy"];
  const svg = execFileSync(process.execPath, [join(REPO, "tools/policy.ts"), ...args], { encoding: "utf8" });
  if (process.argv.includes("--stdout")) process.stdout.write(svg);
  else writeFileSync(join(REPO, "docs/policy-map.svg"), svg);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
