// The outgoing side of one session: encoded frames wait here, leave as batches, inside the hub's
// frame budget, and only as fast as the socket drains.
//
// Batching: frames queued in one synchronous run leave together on the next microtask (a lone
// frame leaves at once). A batch holds at most `maxFramesPerBatch` frames and `maxMessageBytes`.
//
// Rate: a token bucket of `framesPerSecond` tokens, refilled continuously and reset by the hub's
// hello limits, so no frame is refused with TAGWIRE_ERR_RATE.
//
// Backpressure: before each batch the transport's `bufferedAmount` is read; above `highWaterBytes`
// the queue stops sending and polls every `pollMs` until the socket has drained below it. While
// it waits, frames pile up here; `tryEnqueue` refuses a frame once `maxQueuedBytes` are waiting
// (the caller turns that into TAGWIRE_ERR_BACKPRESSURE), and `saturated` tells producers such as
// the outbox drain to hold back (they look again later). Control frames (hello, subscribe, ping) use `enqueue`, which is
// never refused: they are small and the session needs them to make progress.

import { LIMITS, joinFrames } from "../protocol/frames.js";
import type { Transport } from "../transports/contract.js";

export interface SendQueueLimits {
  framesPerSecond: number;
  maxMessageBytes: number;
}

export interface SendQueueOptions {
  /** Bytes the transport may hold unsent before the queue stops sending (default 1 MiB). */
  highWaterBytes?: number;
  /** Bytes that may wait in the queue before `tryEnqueue` refuses (default 16 MiB). */
  maxQueuedBytes?: number;
  /** How often a blocked queue looks at the socket again (default 10 ms). */
  pollMs?: number;
}

export const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export class SendQueue {
  readonly #highWaterBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #pollMs: number;
  #transport: Transport | undefined;
  #limits: SendQueueLimits = { framesPerSecond: LIMITS.framesPerSecond, maxMessageBytes: LIMITS.maxMessageBytes };
  #outgoing: Uint8Array[] = [];
  #queued = 0;
  #flushQueued = false;
  #tokens: number = LIMITS.framesPerSecond;
  #tokensAt = 0;
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SendQueueOptions = {}) {
    this.#highWaterBytes = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#pollMs = options.pollMs ?? 10;
  }

  /** Sends through `transport` from now on, with a full bucket of the given (or default) limits. */
  attach(transport: Transport, limits?: SendQueueLimits): void {
    this.#transport = transport;
    this.setLimits(limits ?? { framesPerSecond: LIMITS.framesPerSecond, maxMessageBytes: LIMITS.maxMessageBytes });
  }

  /** The hub's limits (from its hello ack); refills the bucket to the new rate. */
  setLimits(limits: SendQueueLimits): void {
    this.#limits = limits;
    this.#tokens = limits.framesPerSecond;
    this.#tokensAt = now();
  }

  /** The connection is gone: what waits here was meant for it and is dropped. */
  detach(): void {
    this.#transport = undefined;
    this.#outgoing = [];
    this.#queued = 0;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /** Stops every timer (session closed). */
  close(): void {
    this.detach();
    if (this.#rateTimer) clearTimeout(this.#rateTimer);
    this.#rateTimer = undefined;
  }

  /** Bytes waiting in the queue (not yet handed to the transport). */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** True while producers should hold back: the queue is full or the socket is not draining. */
  get saturated(): boolean {
    if (this.#queued >= this.#maxQueuedBytes) return true;
    const t = this.#transport;
    return t !== undefined && t.bufferedAmount > this.#highWaterBytes;
  }

  /** Queues a frame unconditionally (control frames). */
  enqueue(bytes: Uint8Array): void {
    this.#outgoing.push(bytes);
    this.#queued += bytes.length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Queues a frame unless `maxQueuedBytes` already wait; false means refused. */
  tryEnqueue(bytes: Uint8Array): boolean {
    if (this.#queued > 0 && this.#queued + bytes.length > this.#maxQueuedBytes) return false;
    this.enqueue(bytes);
    return true;
  }

  readonly #flushTask = (): void => this.#flush();

  #flush(): void {
    this.#flushQueued = false;
    const t = this.#transport;
    if (t?.state !== "open" || this.#outgoing.length === 0) return;
    if (t.bufferedAmount > this.#highWaterBytes) {
      this.#startPolling();
      return;
    }
    const rate = this.#limits.framesPerSecond;
    const at = now();
    this.#tokens = Math.min(rate, this.#tokens + ((at - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = at;
    const allowed = Math.min(this.#outgoing.length, Math.floor(this.#tokens));
    if (allowed === 0) {
      if (!this.#rateTimer) {
        this.#rateTimer = setTimeout(
          () => {
            this.#rateTimer = undefined;
            this.#flush();
          },
          Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / rate)),
        );
      }
      return;
    }
    const maxBytes = this.#limits.maxMessageBytes;
    const frames = this.#outgoing;
    let i = 0;
    let sentBytes = 0;
    let blocked = false;
    while (i < allowed) {
      let n = 0;
      let bytes = 5;
      while (i + n < allowed && n < LIMITS.maxFramesPerBatch && bytes + frames[i + n]!.length <= maxBytes) {
        bytes += frames[i + n]!.length;
        n++;
      }
      const batch = joinFrames(n === frames.length ? frames : frames.slice(i, i + n));
      try {
        t.send(batch);
      } catch {
        return; // closing: the session's loss handling requeues what matters
      }
      i += n;
      sentBytes += bytes - 5;
      // One read per batch: cheap (a field sum in ws), and it stops a burst at the high water.
      if (i < allowed && t.bufferedAmount > this.#highWaterBytes) {
        blocked = true;
        break;
      }
    }
    this.#tokens -= i;
    this.#queued -= sentBytes;
    this.#outgoing = i === frames.length ? [] : frames.slice(i);
    if (blocked) this.#startPolling();
    else if (this.#outgoing.length > 0) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  #startPolling(): void {
    if (this.#pollTimer) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#flush();
    }, this.#pollMs);
    (this.#pollTimer as { unref?: () => void }).unref?.();
  }
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
