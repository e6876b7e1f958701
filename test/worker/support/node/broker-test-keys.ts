import { generateKeyPairSync } from "node:crypto";

// The broker's own signing keys for the workerd tests, made fresh in Node when vitest loads its
// config: the Worker gets them as its BROKER_SIGNING_KEYS binding (as `wrangler secret put`
// would deliver them), the tests get them through provide/inject.
export function brokerTestKeys() {
  const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const activeAndNext = {
    keys: [
      { ...es.privateKey.export({ format: "jwk" }), kid: "broker-es256-1" },
      { ...ed.publicKey.export({ format: "jwk" }), kid: "broker-ed25519-next" },
    ],
  };
  const ed25519Alone = { keys: [{ ...ed.privateKey.export({ format: "jwk" }), kid: "broker-ed25519-next" }] };
  return { brokerSigningKeys: JSON.stringify(activeAndNext), brokerSigningKeysEd25519: JSON.stringify(ed25519Alone) };
}
