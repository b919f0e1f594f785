// The tagwire hub: WebSocket + HTTP server with durable storage (docs/PROTOCOL.md).
export { startHub, type HubOptions, type RunningHub } from "./server.js";
export { createToken, verifyToken, loadSecret, normaliseGrant, ROLES, type Role, type TokenClaims } from "./auth.js";
export { DEFAULT_LIMITS, DEFAULT_PIPE_LIMITS, LIMIT_FLAGS, type HubLimits, type PipeLimits } from "./limits.js";
export { DEFAULT_RETENTION, type RetentionOptions } from "./state.js";
export type { SyncMode } from "./storage.js";
