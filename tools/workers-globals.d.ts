// Names the Workers runtime types declare and the DOM lib does not, for Worker modules that the
// Node tools import (tsconfig.tools.json). Shapes as in @cloudflare/workers-types.
type SubtleCryptoImportKeyAlgorithm =
  | AlgorithmIdentifier
  | RsaHashedImportParams
  | EcKeyImportParams
  | HmacImportParams
  | AesKeyAlgorithm;
// The bindings' types: the policy tool never touches a binding, it only loads the config that names them.
type KVNamespace = import("@cloudflare/workers-types").KVNamespace;
type RateLimit = import("@cloudflare/workers-types").RateLimit;
