// Per-connection limits (docs/PROTOCOL.md, "Limits") and the frame-rate token bucket.
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
}

export const DEFAULT_LIMITS: HubLimits = {
  maxMessageBytes: LIMITS.maxMessageBytes,
  hardMaxMessageBytes: LIMITS.hardMaxMessageBytes,
  maxFramesPerBatch: LIMITS.maxFramesPerBatch,
  maxPayloadBytes: LIMITS.maxPayloadBytes,
  maxDepth: LIMITS.maxDepth,
  framesPerSecond: LIMITS.framesPerSecond,
  maxSubscriptions: LIMITS.maxSubscriptions,
  maxBufferedBytes: 64 * 1024 * 1024,
};

/** A token bucket refilled continuously at `ratePerSecond`, holding at most one second's worth. */
export class RateBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSecond: number, now = performance.now()) {
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
