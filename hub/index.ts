// The tagwire hub: WebSocket + HTTP server with durable storage (docs/PROTOCOL.md).
export { startHub, type HubOptions, type RunningHub } from "./server.js";
export { createToken, verifyToken, loadSecret, normaliseGrant, ROLES, type Role, type TokenClaims } from "./auth.js";
export { DEFAULT_LIMITS, type HubLimits } from "./limits.js";
export { DEFAULT_RETENTION, type RetentionOptions } from "./state.js";
export type { SyncMode } from "./storage/sqlite.js";
export type { Storage, WriteSink, Write, WriteOutcome, WriteOrdering, StoredChannel, StoredMessage } from "./storage/storage.js";
