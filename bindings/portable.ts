// What every entry of the package exports (core, SDK, UI, alerts, the transports and the client
// with `connect`), less the MQTT transport classes: the Node entry (index.ts) adds those, the
// browser entry (browser/index.ts) does not, so code splitting can keep the MQTT pipe in a chunk
// loaded only when connect() is given an mqtt: URL. Internals (the transport base class, outbox
// write composition, core memory views, the hub's pipeline classes) stay reachable by path for
// the hub and tests, not from here.
export { createCore, Core, TagwireError, NOT_HANDLED } from "./core/index.js";
export type {
  TagwireErrorCode,
  CoreOptions,
  Router,
  RollingWindow,
  RollingStatsOptions,
  RollingStatsSnapshot,
  RateLimiter,
  ChangeFilter,
  RateLimiterOptions,
  ChangeFilterOptions,
  ChannelStore,
  ChannelStoreOptions,
  ApplyOptions,
  ApplyResult,
  ApplyView,
  ApplyValueResult,
  DiffOptions,
  DocLimits,
  Pipeline,
  IngestResult,
  IngestOptions,
} from "./core/index.js";
export * from "./sdk/index.js";
export * from "./sdk/ui/index.js";
export * from "./sdk/alerts.js";
export type {
  Transport,
  TransportState,
  TransportStateChange,
  TransportFactory,
  TransportConnectOptions,
  FrameHandler,
  StateHandler,
  MemoryAcceptor,
  WebSocketLike,
  WebSocketClass,
  WebSocketTransportOptions,
  MqttClientLike,
  MqttModuleLike,
  MqttMessageSpec,
  MqttTransportOptions,
} from "./transports/index.js";
// From the modules themselves, not transports/index.ts: esbuild assigns a module reached
// through an index that re-exports mqtt.ts to the chunk shared with the MQTT pipe, eagerly loaded.
export { MemoryTransport, createMemoryPair, listenMemory, connectMemory } from "./transports/memory.js";
export { WebSocketTransport, connectWebSocket, acceptWebSocket } from "./transports/websocket.js";
export { connect, connectSession, registerTransport, RemoteSession, MemoryOutbox, Backoff } from "./client/index.js";
export type {
  ConnectOptions,
  TransportContext,
  UrlTransportFactory,
  RemoteSessionOptions,
  RemoteSessionState,
  RemotePublishResult,
  Outbox,
  OutboxEntry,
  OutboxWrite,
  OutboxKind,
  BackoffOptions,
} from "./client/index.js";
