import type { TestProject } from "vitest/node";
import { startHostileServer } from "./hostile-server.ts";

// Runs in Node before the workerd tests: the scriptable hostile endpoint of the adversarial suite.
export default async function setup(project: TestProject) {
  const server = await startHostileServer();
  project.provide("hostileOrigin", server.origin);
  return () => server.close();
}
