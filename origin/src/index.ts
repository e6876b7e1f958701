// @identity-broker/origin: what a receiving service needs to accept broker tokens, and no more.
export { verifyBrokerToken } from "./verify.ts";
export { brokerAuth, type BrokerAuthVariables } from "./hono.ts";
export { requireBrokerToken, type NodeRequestLike, type NodeResponseLike, type NextFunction } from "./node.ts";
export { BrokerTokenError, type BrokerTokenErrorCode, type BearerError } from "./errors.ts";
export {
  protectedResourceMetadata,
  type ProtectedResourceMetadata,
  type ProtectedResourceOptions,
  type ProtectedResourceDocument,
} from "./protected-resource.ts";
export type { BrokerToken } from "./token.ts";
export type { BrokerAuthOptions, BrokerTokenOptions, FetchLike } from "./options.ts";
