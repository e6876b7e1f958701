// What test/adversarial/support/node/hostile-setup.ts (Node) hands to the tests running in workerd.
declare module "vitest" {
  export interface ProvidedContext {
    /** Origin of the scriptable hostile HTTP endpoint (see node/hostile-server.ts). */
    hostileOrigin: string;
  }
}
export {};
