// Every limit the hub enforces, with its default (docs/PROTOCOL.md, "Limits"; docs/SECURITY.md
// lists them with their `tagwire hub` flags), and the frame-rate token bucket.
import { LIMITS } from "../bindings/protocol/frames.js";

export interface HubLimits {
  /** A WebSocket message above this is dropped with TAGWIRE_ERR_SIZE; the connection stays. */
  maxMessageBytes: number;
  /** Above this the WebSocket layer closes the connection (1009). */
  hardMaxMessageBytes: number;
  maxFramesPerBatch: number;
  /** Largest document (diff, aggregate, message data). */
  maxPayloadBytes: number;
  /** Deepest nesting inside a document. */
  maxDepth: number;
  /** Frames per second per connection (token bucket, burst = one second's worth). */
  framesPerSecond: number;
  maxSubscriptions: number;
  /** A subscriber whose unsent bytes exceed this is closed (1013) instead of buffering without bound. */
  maxBufferedBytes: number;
  /**
   * Reply budget: a read (subscribe's syncs, getAggregate, getMessages) is refused with
   * TAGWIRE_ERR_RATE when the connection already has something queued or unsent and the reply
   * would take it past this; a history reply is cut to what is left (newest first, at least one
   * message). A read on an empty queue is always served.
   */
  maxQueuedBytes: number;
  /** A WebSocket must send its hello within this (ms), else it is closed (4408). */
  helloTimeoutMs: number;
  /**
   * A connection that sends no frame and answers no WebSocket ping for this long (ms) is closed
   * (4408); the hub pings a silent connection at half of it. 0: never.
   */
  idleTimeoutMs: number;
  /** Open TCP connections (HTTP and WebSocket) in total; more are closed at once. */
  maxConnections: number;
  /** Open TCP connections from one IP address. */
  maxConnectionsPerAddress: number;
  /** An HTTP request must have sent its headers within this (ms), else 408 and closed. */
  headersTimeoutMs: number;
  /** An HTTP request (headers and body) must be complete within this (ms). */
  requestTimeoutMs: number;
}

/** Caps on the MQTT bridge's frame pipes (hub/bridge-mqtt.ts). */
export interface PipeLimits {
  /** Pipes relayed at once (each is one hub connection). */
  maxPipes: number;
  /** Pipe handshakes waiting for their first authenticated frame. */
  maxPendingPipes: number;
  /** A handshake not completed within this (ms) is dropped. */
  pipeHandshakeTimeoutMs: number;
  /**
   * A relayed pipe whose client sent nothing for this long (ms) is closed: its last will may
   * have been lost, and the hub's keepalive pings reach only the bridge. 0: never.
   */
  pipeIdleTimeoutMs: number;
}

export const DEFAULT_PIPE_LIMITS: PipeLimits = {
  maxPipes: 1024,
  maxPendingPipes: 64,
  pipeHandshakeTimeoutMs: 10_000,
  pipeIdleTimeoutMs: 60_000,
};

export const DEFAULT_LIMITS: HubLimits = {
  maxMessageBytes: LIMITS.maxMessageBytes,
  hardMaxMessageBytes: LIMITS.hardMaxMessageBytes,
  maxFramesPerBatch: LIMITS.maxFramesPerBatch,
  maxPayloadBytes: LIMITS.maxPayloadBytes,
  maxDepth: LIMITS.maxDepth,
  framesPerSecond: LIMITS.framesPerSecond,
  maxSubscriptions: LIMITS.maxSubscriptions,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 2048,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** A token bucket refilled continuously at `ratePerSecond`, holding at most one second's worth. */
export class RateBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    now = performance.now(),
  ) {
    this.tokens = ratePerSecond;
    this.last = now;
  }

  /** Takes one token; false when the budget is spent (the frame must be refused). */
  take(now: number): boolean {
    return this.takeMany(1, now);
  }

  /** Takes `n` tokens if all are there (a whole batch), else takes none and answers false. */
  takeMany(n: number, now: number): boolean {
    if (this.ratePerSecond === Infinity) return true;
    if (this.tokens < n) {
      const refill = ((now - this.last) * this.ratePerSecond) / 1000;
      this.tokens = Math.min(this.ratePerSecond, this.tokens + refill);
      this.last = now;
      if (this.tokens < n) return false;
    }
    this.tokens -= n;
    return true;
  }
}

/** One `tagwire hub` flag that sets a limit (cli/hub.ts builds its options from this table). */
export interface LimitFlag {
  flag: string;
  /** The limit it sets, in HubLimits or PipeLimits. */
  key: keyof HubLimits | keyof PipeLimits;
  description: string;
}

export const LIMIT_FLAGS: readonly LimitFlag[] = [
  { flag: "hello-timeout-ms", key: "helloTimeoutMs", description: "close a WebSocket that has not said hello within this" },
  {
    flag: "idle-timeout-ms",
    key: "idleTimeoutMs",
    description: "close a connection that sends nothing and answers no ping for this long (0 = never)",
  },
  { flag: "max-connections", key: "maxConnections", description: "open TCP connections in total (keep below ulimit -n)" },
  { flag: "max-connections-per-address", key: "maxConnectionsPerAddress", description: "open TCP connections from one IP address" },
  { flag: "headers-timeout-ms", key: "headersTimeoutMs", description: "an HTTP request must send its headers within this" },
  { flag: "request-timeout-ms", key: "requestTimeoutMs", description: "an HTTP request must be complete within this" },
  {
    flag: "max-queued-bytes",
    key: "maxQueuedBytes",
    description: "reply budget: reads are refused while a connection has this much queued or unsent",
  },
  { flag: "max-buffered-bytes", key: "maxBufferedBytes", description: "close a connection with more than this unsent (slow consumer)" },
  { flag: "mqtt-max-pipes", key: "maxPipes", description: "MQTT frame pipes relayed at once" },
  { flag: "mqtt-max-pending-pipes", key: "maxPendingPipes", description: "MQTT pipe handshakes in progress at once" },
  {
    flag: "mqtt-handshake-timeout-ms",
    key: "pipeHandshakeTimeoutMs",
    description: "drop an MQTT pipe handshake not completed within this",
  },
  {
    flag: "mqtt-pipe-idle-timeout-ms",
    key: "pipeIdleTimeoutMs",
    description: "close an MQTT pipe whose client sent nothing for this long (0 = never)",
  },
];

/** The default of a limit named in LIMIT_FLAGS. */
export function limitDefault(key: LimitFlag["key"]): number {
  return key in DEFAULT_LIMITS ? DEFAULT_LIMITS[key as keyof HubLimits] : DEFAULT_PIPE_LIMITS[key as keyof PipeLimits];
}
