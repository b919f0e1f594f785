// The browser entry of the package: everything of the main entry (core, SDK, UI, alerts) plus the
// client (`connect` over ws:/wss:). Nothing here touches a Node module: the WebSocket is the
// page's own, offline writes wait in memory (the SQLite outbox is Node only and loaded lazily by
// a specifier bundlers do not follow), and mqtt.js is imported only when an mqtt: URL is used.
//
// scripts/build-browser.mjs bundles this file into dist/browser/tagwire.js (one ES module with
// the wasm embedded, for a plain <script type="module">) and dist/browser/tagwire.slim.js (the
// same code fetching tagwire.wasm beside it), with "msgpackr" swapped for ./msgpack.ts.
export * from "../index.js";
export { connect, connectSession, registerTransport, RemoteSession, MemoryOutbox, Backoff } from "../client/index.js";
export type { ConnectOptions, RemoteSessionOptions, RemoteSessionState, RemotePublishResult, BackoffOptions } from "../client/index.js";
export { connectWebSocket, type WebSocketClass } from "../transports/websocket.js";
