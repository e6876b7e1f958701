import { generateKeyPairSync } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startKeysServer } from "./support/node/entra-keys-server.ts";

// Runs in Node before the workerd tests: starts the Entra key endpoint stand-in and makes the
// key material the tests sign with. Both reach the tests through vitest's provide/inject.
export default async function setup(project: TestProject) {
  const server = await startKeysServer();
  const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const brokerKeys = {
    keys: [
      { ...es.privateKey.export({ format: "jwk" }), kid: "broker-es256-1" },
      { ...ed.publicKey.export({ format: "jwk" }), kid: "broker-ed25519-next" },
    ],
  };
  const edAlone = { keys: [{ ...ed.privateKey.export({ format: "jwk" }), kid: "broker-ed25519-next" }] };
  project.provide("entraOrigin", server.origin);
  project.provide("entraKeys", JSON.stringify(server.keys.map(({ kid, privateJwk }) => ({ kid, privateJwk }))));
  project.provide("brokerSigningKeys", JSON.stringify(brokerKeys));
  project.provide("brokerSigningKeysEd25519", JSON.stringify(edAlone));
  return () => server.close();
}
