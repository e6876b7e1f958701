// `npm run emulator`: the Entra ID emulator standalone.
//   node emulator/main.ts --tenant-file tenants.json [--port 8443] [--http-port 8080] [--state-dir .emulator]
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { startEmulator } from "./index.ts";

/** A demo tenant (one secret client, one v2 resource) when no --tenant-file is given. */
const DEFAULT_TENANT_FILE = fileURLToPath(new URL("./tenants.example.json", import.meta.url));
const USAGE =
  "usage: npm run emulator -- [--tenant-file <tenants.json>] [--port <https port>] [--http-port <loopback http port>] [--state-dir <dir>]";

function port(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name}: not a port number: '${v}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "tenant-file": { type: "string" },
      port: { type: "string" },
      "http-port": { type: "string" },
      "state-dir": { type: "string", default: ".emulator" },
      "sts-host": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  const tenantFile = values["tenant-file"] ?? DEFAULT_TENANT_FILE;
  const emulator = await startEmulator({
    tenants: tenantFile,
    httpsPort: port("port", values.port) ?? 0,
    httpPort: port("http-port", values["http-port"]) ?? null,
    stateDir: values["state-dir"],
    ...(values["sts-host"] ? { stsHost: values["sts-host"] } : {}),
  });
  console.log(`Entra ID emulator listening (tenant file: ${tenantFile})`);
  console.log(`  authority:  ${emulator.authority("{tenantId}")}`);
  console.log(`  https:      ${emulator.httpsOrigin}`);
  if (emulator.httpOrigin) console.log(`  http:       ${emulator.httpOrigin} (loopback only)`);
  console.log(`  CA cert:    ${emulator.caCertPath}  (trust it: NODE_EXTRA_CA_CERTS=${emulator.caCertPath})`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
