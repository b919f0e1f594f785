// Transports: one contract (contract.ts) and its implementations.
export { BaseTransport, closedError } from "./contract.js";
export type {
  Transport,
  TransportState,
  TransportStateChange,
  TransportFactory,
  TransportConnectOptions,
  FrameHandler,
  StateHandler,
} from "./contract.js";
export { MemoryTransport, createMemoryPair, listenMemory, connectMemory, type MemoryAcceptor } from "./memory.js";
export {
  WebSocketTransport,
  connectWebSocket,
  acceptWebSocket,
  defaultWebSocket,
  type WebSocketLike,
  type WebSocketClass,
  type WebSocketTransportOptions,
} from "./websocket.js";
export {
  MqttTransport,
  connectMqtt,
  defaultMqtt,
  type MqttClientLike,
  type MqttModuleLike,
  type MqttMessageSpec,
  type MqttTransportOptions,
} from "./mqtt.js";
export { signMqttWrite } from "./pipe-auth.js";
