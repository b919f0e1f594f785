// The client side of a hub: connect(), the remote Session, the offline outbox, backoff.
export { connect, connectSession, registerTransport, transportFor, mqttPrefixOf, mqttPipeTopics } from "./connect.js";
export type { ConnectOptions, TransportContext, UrlTransportFactory } from "./connect.js";
export { RemoteSession } from "./remote-session.js";
export type { RemoteSessionOptions, RemoteSessionState, RemotePublishResult, RemoteSessionEvent } from "./remote-session.js";
export { MemoryOutbox, composeWrites } from "./outbox.js";
export type { Outbox, OutboxEntry, OutboxWrite, OutboxKind } from "./outbox.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
