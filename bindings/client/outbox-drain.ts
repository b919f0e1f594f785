// Draining the offline outbox after a (re)connection: entries go out in order, a window of them
// in flight at once, each removed when the hub acknowledges it. While the outbox holds anything
// the session sends new writes through it too, so the hub applies writes in the order made.
//
// An entry is frozen (marked attempted) before it is first sent: from then on it is sent only as
// it is, so a replay after a lost ack is byte-identical and the hub's idempotency check holds.
// A refusal the hub may lift (rate, internal, closed) drops the connection so the whole outbox
// replays in order on the next one; any other refusal is reported and the entry dropped.
//
// Backpressure: no refill while the send queue is saturated; it looks again 10 ms later.

import type { TagwireError } from "../core/errors.js";
import { report, type ErrorHandler } from "../sdk/errors.js";
import type { Connection } from "./lifecycle.js";
import type { Outbox, OutboxEntry } from "./outbox.js";
import type { Requests } from "./requests.js";
import type { SendQueue } from "./send-queue.js";
import { writeFrame } from "./wire.js";

/** Outbox entries in flight at once while draining. */
export const DRAIN_WINDOW = 256;

export class OutboxDrain {
  readonly #outbox: Outbox;
  readonly #requests: Requests;
  readonly #queue: Pick<SendQueue, "saturated">;
  readonly #connection: Pick<Connection, "drop">;
  readonly #onError: ErrorHandler;
  readonly #window: number;
  /** Entries sent and not yet acknowledged (by seq). */
  readonly #inFlight = new Set<number>();
  #active = false;
  /** Bumped on reset; answers for an older connection are ignored. */
  #epoch = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #drainedHandlers = new Set<() => void>();

  /**
   * Entries go out through `requests` (only while it is online), hold back while `queue` is
   * saturated, and a transient refusal drops the connection.
   */
  constructor(
    outbox: Outbox,
    requests: Requests,
    queue: Pick<SendQueue, "saturated">,
    connection: Pick<Connection, "drop">,
    onError: ErrorHandler,
    window = DRAIN_WINDOW,
  ) {
    this.#outbox = outbox;
    this.#requests = requests;
    this.#queue = queue;
    this.#connection = connection;
    this.#onError = onError;
    this.#window = window;
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
    const outbox = this.#outbox;
    const online = this.#requests.online;
    if (!online || outbox.size === 0) {
      if (online && outbox.size === 0 && this.#active) this.#active = false;
      return;
    }
    this.#active = true;
    // Refill only once half the window is acknowledged: each refill reads the outbox's head
    // (a SQLite query for a durable one), so this keeps reads to about two rows per entry.
    if (this.#inFlight.size > this.#window / 2) return;
    if (this.#queue.saturated) {
      this.#retryTimer ??= setTimeout(() => {
        this.#retryTimer = undefined;
        this.kick();
      }, 10);
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
      this.#requests.request("write", writeFrame(entry)).then(
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
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #answered(epoch: number, entry: OutboxEntry, err: TagwireError | undefined): void {
    if (epoch !== this.#epoch) return; // that connection is gone; the entry is sent again
    this.#inFlight.delete(entry.seq);
    const outbox = this.#outbox;
    if (err) {
      if (isTransient(err.code)) {
        this.#connection.drop(`outbox entry refused for now: ${err.code}`);
        return;
      }
      const what = entry.kind === "message" ? "message to" : "publish to";
      report(this.#onError, err, `queued ${what} ${entry.agentId}/${entry.channel} refused; dropped`);
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
  return (
    code === "TAGWIRE_ERR_RATE" || code === "TAGWIRE_ERR_INTERNAL" || code === "TAGWIRE_ERR_CLOSED" || code === "TAGWIRE_ERR_BACKPRESSURE"
  );
}
