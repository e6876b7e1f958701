// `npm start`: the whole system locally, with no Azure tenant and no Cloudflare account.
// Generated state lives in .dev/ (git-ignored) and is reused on the next run.
import { resolve } from "node:path";
import { IDENTITIES, ORIGIN_ROUTES } from "./sample.ts";
import { startStack } from "./stack.ts";

const PORTS = {
  emulatorHttps: 8443,
  emulatorHttp: 8444,
  broker: 8787,
  brokerInspector: 9239,
  inventory: 8801,
  deploy: 8802,
};
const verbose = process.argv.includes("--verbose");

const stateDir = resolve(import.meta.dirname, "../.dev");
console.log("Starting the identity broker stack (first run generates keys and certificates in .dev/)…");
const stack = await startStack({
  stateDir,
  ports: PORTS,
  log: (line) => {
    // Audit lines and origin decisions are the story; wrangler's own chatter only with --verbose.
    if (
      verbose ||
      line.includes('"event":"token_exchange"') ||
      line.includes('"event":"forward"') ||
      line.includes('"event":"admin"') ||
      line.startsWith("[inventory]") ||
      line.startsWith("[deploy]")
    )
      console.log(line);
  },
}).catch((e: unknown) => {
  console.error(`Could not start the stack: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

const rel = (p: string) => p.replace(`${process.cwd()}/`, "");
const { inventory, deploy } = stack.origins;
console.log(`
Running:
  Entra ID emulator  ${stack.emulator.httpsOrigin}   (CA: ${rel(stack.emulator.caCertPath)})
  broker (workerd)   ${stack.broker.origin}          (metadata: ${stack.broker.origin}/.well-known/oauth-authorization-server)
  inventory origin   ${inventory.origin}            (${Object.entries(ORIGIN_ROUTES.inventory)
    .map(([r, s]) => `${r} needs ${s}`)
    .join(", ")})
  deploy origin      ${deploy.origin}            (${Object.entries(ORIGIN_ROUTES.deploy)
    .map(([r, s]) => `${r} needs ${s}`)
    .join(", ")})
  signers            ${Object.values(IDENTITIES)
    .map((i) => `${i.name} (${i.description})`)
    .join("\n                     ")}

Try it (in another terminal, from this directory):

  # 1. The orders service gets an Entra ID token from its signer (certificate credential, via the emulator)
  export BROKER_SIGNER_CONFIG=${rel(stack.signers.orders.configFile)}
  npx broker-signer token

  # 2. …exchanges it at the broker for a token for the inventory origin only, and calls the origin
  TOKEN=$(npx broker-signer exchange --resource ${inventory.origin} --scope inventory.read)
  curl -s -H "Authorization: Bearer $TOKEN" ${inventory.origin}/items

  # 3. The same token is refused by another origin (wrong audience), and the broker refuses to grant it
  curl -s -H "Authorization: Bearer $TOKEN" ${deploy.origin}/deployments -X POST
  npx broker-signer exchange --resource ${deploy.origin}

  # 4. Local processes ask the running signer daemon over its unix socket instead of holding the key
  curl -s --unix-socket ${rel(stack.signers.agent.socketPath)} http://signer/exchange -H 'content-type: application/json' \\
    -d '{"resource":"${inventory.origin}","scope":"inventory.search"}'

  # 5. The CI pipeline signs in with its runner's OIDC token (no secret at all) and may deploy
  BROKER_SIGNER_CONFIG=${rel(stack.signers.ci.configFile)} npx broker-signer exchange --resource ${deploy.origin} > /tmp/deploy-token
  curl -s -X POST -H "Authorization: Bearer $(cat /tmp/deploy-token)" ${deploy.origin}/deployments

  # 6. An identity without any grant is denied (the reason is in the broker log below)
  BROKER_SIGNER_CONFIG=${rel(stack.signers.intruder.configFile)} npx broker-signer exchange --resource ${inventory.origin}

  # 7. Forward mode: send the request to the broker itself with the Entra token; it verifies it,
  #    mints the origin's token and forwards (the caller's token never reaches the origin)
  curl -s -H "Authorization: Bearer $(npx broker-signer token)" ${stack.broker.origin}/items

  # 8. Stop the orders service everywhere (admin identity, role Broker.Admin), then lift it again
  npx broker-signer admin revoke --client ${IDENTITIES.orders.appId} --reason "certificate leaked" --config ${rel(stack.signers.admin.configFile)}
  npx broker-signer exchange --resource ${inventory.origin}        # refused: the client is revoked
  npx broker-signer admin revocations --config ${rel(stack.signers.admin.configFile)}
  npx broker-signer admin unrevoke <id> --config ${rel(stack.signers.admin.configFile)}

Broker audit lines and origin decisions follow. Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping…");
  void stack.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
