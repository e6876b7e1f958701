// `npm run emulator`: the Entra ID emulator standalone, and the CLI that controls a running one.
//   node emulator/main.ts --tenant-file tenants.json [--port 8443] [--http-port 8080] [--state-dir .emulator]
//   node emulator/main.ts fault throttle --retry-after 30 | keys rotate | ... (see CONTROL_USAGE)
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { startEmulator } from "./index.ts";
import { CONTROL_USAGE, runControlCommand } from "./control-cli.ts";

/** A demo tenant (one secret client, one v2 resource) when no --tenant-file is given. */
const DEFAULT_TENANT_FILE = fileURLToPath(new URL("./tenants.example.json", import.meta.url));
const USAGE = `usage: npm run emulator -- [--tenant-file <tenants.json>] [--port <https port>] [--http-port <loopback http port>]
         [--state-dir <dir>] [--sts-host <origin>] [--random-lifetime] [--refresh-in]
${CONTROL_USAGE}`;

function port(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name}: not a port number: '${v}'`);
  return n;
}

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command === "fault" || command === "keys") {
    console.log(JSON.stringify(await runControlCommand(process.argv.slice(2)), null, 2));
    return;
  }
  const { values } = parseArgs({
    options: {
      "tenant-file": { type: "string" },
      port: { type: "string" },
      "http-port": { type: "string" },
      "state-dir": { type: "string", default: ".emulator" },
      "sts-host": { type: "string" },
      "random-lifetime": { type: "boolean" },
      "refresh-in": { type: "boolean" },
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
    randomTokenLifetime: values["random-lifetime"] === true,
    refreshIn: values["refresh-in"] === true,
  });
  console.log(`Entra ID emulator listening (tenant file: ${tenantFile})`);
  console.log(`  authority:  ${emulator.authority("{tenantId}")}`);
  console.log(`  https:      ${emulator.httpsOrigin}`);
  if (emulator.httpOrigin) console.log(`  http:       ${emulator.httpOrigin} (loopback only)`);
  console.log(`  CA cert:    ${emulator.caCertPath}  (trust it: NODE_EXTRA_CA_CERTS=${emulator.caCertPath})`);
  console.log(`  v1 issuer:  ${emulator.v1IssuerHost}/{tenantId}/ (a name only, never fetched)`);
  console.log(`  control:    ${emulator.httpsOrigin}/_emulator/ (npm run emulator -- fault ... | keys ...)`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
