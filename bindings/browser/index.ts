// The browser entry of the package: everything of the main entry (core, SDK, UI, alerts, the
// client with `connect`) except the MQTT transport classes. Nothing here touches a Node module:
// the WebSocket is the page's own, offline writes wait in memory (the SQLite outbox is Node only
// and loaded lazily by a specifier bundlers do not follow), and connect() imports the MQTT pipe
// (and mqtt.js) only when an mqtt: URL is used.
//
// The list below is the main entry's (../index.ts) without MqttTransport and connectMqtt: a
// re-export of those would put the MQTT pipe in every browser bundle, where code splitting now
// keeps it in a chunk loaded on demand. test/browser.package.test.ts checks the two lists agree.
//
// scripts/build-browser.mjs bundles this file into dist/browser/tagwire.js (one ES module with
// the wasm embedded, for a plain <script type="module">) and dist/browser/tagwire.slim.js (the
// same code fetching tagwire.wasm beside it), with "msgpackr" swapped for ./msgpack.ts.
export { createCore, Core, TagwireError, NOT_HANDLED } from "../core/index.js";
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
} from "../core/index.js";
export * from "../sdk/index.js";
export * from "../sdk/ui/index.js";
export * from "../sdk/alerts.js";
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
} from "../transports/index.js";
// From the modules themselves, not transports/index.ts: esbuild assigns a module reached
// through an index that re-exports mqtt.ts to the chunk shared with the MQTT pipe, eagerly loaded.
export { MemoryTransport, createMemoryPair, listenMemory, connectMemory } from "../transports/memory.js";
export { WebSocketTransport, connectWebSocket, acceptWebSocket } from "../transports/websocket.js";
export { connect, connectSession, registerTransport, RemoteSession, MemoryOutbox, Backoff } from "../client/index.js";
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
} from "../client/index.js";
