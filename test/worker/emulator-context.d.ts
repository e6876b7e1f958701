// What emulator-setup.ts (Node) hands to the tests running in workerd.
declare module "vitest" {
  export interface ProvidedContext {
    /** JSON: EMULATOR_FIXTURE + { httpsOrigin, httpOrigin, v1IssuerHost, certKeyJwk, certX5tS256 }. */
    emulator: string;
    /** JSON: a second emulator for fault and rollover tests (see emulator-setup.ts). */
    faultEmulator: string;
  }
}
export {};
