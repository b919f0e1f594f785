// Public entry of the tagwire package: what applications, devices and tools use. Internals (the
// transport base class, outbox write composition, core memory views, the hub's pipeline classes)
// stay reachable by path for the hub and tests, not from here.
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
// The SDK (agents, LocalBus, applications and tags, triggers, RollingStats, name rules), UI and alerts.
export * from "./sdk/index.js";
export * from "./sdk/ui/index.js";
export * from "./sdk/alerts.js";
// Transports (one contract: memory, WebSocket, MQTT).
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
export {
  MemoryTransport,
  createMemoryPair,
  listenMemory,
  connectMemory,
  WebSocketTransport,
  connectWebSocket,
  acceptWebSocket,
  MqttTransport,
  connectMqtt,
} from "./transports/index.js";
// The client side of a hub: connect(), the remote Session, the offline outbox, backoff.
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
