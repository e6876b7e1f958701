import type { TestProject } from "vitest/node";
import { startKeysServer } from "./support/node/entra-keys-server.ts";
import { startOriginServer } from "./support/node/origin-server.ts";

// Runs in Node before the workerd tests: starts the Entra key endpoint stand-in, whose origin and
// private keys reach the tests through vitest's provide/inject.
export default async function setup(project: TestProject) {
  const server = await startKeysServer();
  project.provide("entraOrigin", server.origin);
  project.provide("entraKeys", JSON.stringify(server.keys.map(({ kid, privateJwk }) => ({ kid, privateJwk }))));
  // Forward mode's test origin (echo, streaming, slow) and a port where nothing listens.
  const origin = await startOriginServer();
  project.provide("testOrigin", origin.origin);
  project.provide("closedOrigin", origin.closedOrigin);
  return async () => {
    await origin.close();
    await server.close();
  };
}
