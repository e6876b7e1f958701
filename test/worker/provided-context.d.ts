// What global-setup.ts (Node) hands to the tests running in workerd.
declare module "vitest" {
  export interface ProvidedContext {
    entraOrigin: string;
    /** JSON: [{ kid, privateJwk }] for key-a, key-b (unpublished until a test rotates) and weak-1024. */
    entraKeys: string;
    /** JSON JWK set: an ES256 private key (active) and an Ed25519 public key (next). */
    brokerSigningKeys: string;
    /** JSON JWK set: an Ed25519 private key alone. */
    brokerSigningKeysEd25519: string;
    /** Forward mode's test origin (support/node/origin-server.ts), e.g. http://127.0.0.1:PORT. */
    testOrigin: string;
    /** An origin whose port nothing listens on. */
    closedOrigin: string;
  }
}
export {};
