// Names the Workers runtime types declare and the DOM lib does not, for Worker modules that the
// Node tools import (tsconfig.tools.json). Shapes as in @cloudflare/workers-types.
type SubtleCryptoImportKeyAlgorithm =
  | AlgorithmIdentifier
  | RsaHashedImportParams
  | EcKeyImportParams
  | HmacImportParams
  | AesKeyAlgorithm;
