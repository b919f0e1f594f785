// Public entry of the tagwire package.
export { createCore, Core, TagwireError, Pipeline, IngestResult, NOT_HANDLED } from "./core/index.js";
export type * from "./core/index.js";
export * from "./sdk/index.js";
// The SDK's RollingStats (core window + shared core + summary()) extends the core's class of the
// same name; this explicit export makes it the package's `RollingStats`.
export { RollingStats } from "./sdk/index.js";
export * from "./sdk/ui/index.js";
export * from "./sdk/alerts.js";
// Transports (one contract: memory, WebSocket, MQTT) and the client side of a hub.
export * from "./transports/index.js";
export * from "./client/index.js";
