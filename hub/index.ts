// The tagwire hub: WebSocket + HTTP server with durable storage (docs/PROTOCOL.md).
export { startHub, type HubOptions, type RunningHub } from "./server.js";
export { createToken, verifyToken, loadSecret, normaliseGrant, ROLES, type Role, type TokenClaims } from "./auth.js";
export { DEFAULT_LIMITS, DEFAULT_PIPE_LIMITS, LIMIT_FLAGS, type HubLimits, type PipeLimits } from "./limits.js";
export { DEFAULT_RETENTION, type RetentionOptions } from "./retention.js";
// Storage: one interface (hub/storage/storage.ts); SQLite is the default implementation, and
// `startHub({ storage })` takes another.
export { SqliteStorage, type SqliteStorageOptions, type SyncMode } from "./storage/sqlite.js";
export type {
  Storage,
  WriteSink,
  Write,
  PublishWrite,
  MessageWrite,
  WriteDone,
  WriteOutcome,
  WriteOrdering,
  StoredChannel,
  StoredMessage,
} from "./storage/storage.js";
