// Draining the offline outbox after a (re)connection: entries go out in order, a window of them
// in flight at once, each removed when the hub acknowledges it. While the outbox holds anything
// the session sends new writes through it too, so the hub applies writes in the order made.
//
// An entry is frozen (marked attempted) before it is first sent: from then on it is sent only as
// it is, so a replay after a lost ack is byte-identical and the hub's idempotency check holds.
// A refusal the hub may lift (rate, internal, closed) drops the connection so the whole outbox
// replays in order on the next one; any other refusal is reported and the entry dropped.
//
// Backpressure: no refill while the send queue is saturated; it resumes when the queue says the
// socket is writable again.

import type { TagwireError } from "../core/errors.js";
import { report, type ErrorHandler } from "../sdk/errors.js";
import type { Outbox, OutboxEntry } from "./outbox.js";

/** Outbox entries in flight at once while draining. */
export const DRAIN_WINDOW = 256;

export interface OutboxDrainOptions {
  outbox: Outbox;
  /** Sends one entry; settles with its ack or the hub's refusal. */
  send(entry: OutboxEntry): Promise<unknown>;
  /** True while the session may send (hello acked). */
  online(): boolean;
  /** The send queue's backpressure (see send-queue.ts). */
  saturated(): boolean;
  whenWritable(handler: () => void): void;
  /** A transient refusal: end this connection so the outbox replays in order. */
  dropConnection(reason: string): void;
  onError: ErrorHandler;
  window?: number;
}

export class OutboxDrain {
  readonly #options: OutboxDrainOptions;
  readonly #window: number;
  /** Entries sent and not yet acknowledged (by seq). */
  readonly #inFlight = new Set<number>();
  #active = false;
  /** Bumped on reset; answers for an older connection are ignored. */
  #epoch = 0;
  #waitingWritable = false;
  readonly #drainedHandlers = new Set<() => void>();

  constructor(options: OutboxDrainOptions) {
    this.#options = options;
    this.#window = options.window ?? DRAIN_WINDOW;
  }

  /** True from the first send of a drain until the outbox is empty and acknowledged. */
  get draining(): boolean {
    return this.#active;
  }

  /** Entries sent and not acknowledged. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Called whenever the outbox emptied completely; returns the function that removes it. */
  onDrained(handler: () => void): () => void {
    this.#drainedHandlers.add(handler);
    return () => this.#drainedHandlers.delete(handler);
  }

  /** Sends what the window has room for (after a connection, a new entry, or an ack). */
  kick(): void {
    const { outbox } = this.#options;
    const online = this.#options.online();
    if (!online || outbox.size === 0) {
      if (online && outbox.size === 0 && this.#active) this.#active = false;
      return;
    }
    this.#active = true;
    // Refill only once half the window is acknowledged: each refill reads the outbox's head
    // (a SQLite query for a durable one), so this keeps reads to about two rows per entry.
    if (this.#inFlight.size > this.#window / 2) return;
    if (this.#options.saturated()) {
      if (!this.#waitingWritable) {
        this.#waitingWritable = true;
        const epoch = this.#epoch;
        this.#options.whenWritable(() => {
          if (epoch !== this.#epoch) return;
          this.#waitingWritable = false;
          this.kick();
        });
      }
      return;
    }
    const room = this.#window - this.#inFlight.size;
    const batch = outbox
      .peek(this.#window)
      .filter((e) => !this.#inFlight.has(e.seq))
      .slice(0, room);
    if (batch.length === 0) return;
    // Frozen before sending: from now on this entry is sent only as it is.
    outbox.markAttempted(batch.filter((e) => !e.attempted).map((e) => e.seq));
    const epoch = this.#epoch;
    for (const entry of batch) {
      this.#inFlight.add(entry.seq);
      this.#options.send(entry).then(
        () => this.#answered(epoch, entry, undefined),
        (err: TagwireError) => this.#answered(epoch, entry, err),
      );
    }
  }

  /** The connection is gone: what was in flight is sent again on the next one. */
  reset(): void {
    this.#epoch++;
    this.#active = false;
    this.#inFlight.clear();
    this.#waitingWritable = false;
  }

  #answered(epoch: number, entry: OutboxEntry, err: TagwireError | undefined): void {
    if (epoch !== this.#epoch) return; // that connection is gone; the entry is sent again
    this.#inFlight.delete(entry.seq);
    const { outbox } = this.#options;
    if (err) {
      if (isTransient(err.code)) {
        this.#options.dropConnection(`outbox entry refused for now: ${err.code}`);
        return;
      }
      const what = entry.kind === "message" ? "message to" : "publish to";
      report(this.#options.onError, err, `queued ${what} ${entry.agentId}/${entry.channel} refused; dropped`);
    }
    outbox.remove([entry.seq]);
    if (outbox.size === 0 && this.#inFlight.size === 0) {
      this.#active = false;
      for (const h of [...this.#drainedHandlers]) h();
      return;
    }
    this.kick();
  }
}

/** Refusals the hub may lift on a later connection. */
export function isTransient(code: string): boolean {
  return code === "TAGWIRE_ERR_RATE" || code === "TAGWIRE_ERR_INTERNAL" || code === "TAGWIRE_ERR_CLOSED" || code === "TAGWIRE_ERR_BACKPRESSURE";
}
