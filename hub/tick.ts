// The hub's tick: group commit, then one socket write per connection.
//
// Frames and HTTP requests are applied as they arrive (core merge, storage records in the tick's
// open transaction, reply and event frames queued per outlet). On setImmediate, after every
// socket read in this round of the event loop, `flush` saves the changed aggregates, commits
// once, and only then writes each outlet once with everything queued for it. So an ack or event
// never leaves before its write is durable, a lone frame waits for no timer, and a burst costs
// one commit and one socket write per connection.
//
// Storage failure is fail-stop: when storage refuses a record or the commit, what this tick
// applied in the core is not durable and its acks must not go out (see `fail`).
import { TagwireError } from "../bindings/core/errors.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { BatchCache } from "./batch-cache.js";
import type { Channel } from "./channel.js";
import type { Outlet } from "./outlets.js";
import type { Storage } from "./storage/storage.js";

export class Tick {
  private readonly storage: Storage;
  private readonly store: ChannelStore;
  /** Shared by the outlets of one flush (a broadcast is joined once). */
  readonly batches = new BatchCache();
  private pending: Outlet[] = [];
  private readonly pendingSet = new Set<Outlet>();
  private dirty: Channel[] = [];
  private afterCommit: ((error?: Error) => void)[] = [];
  private scheduled = false;
  /** Set when storage failed: the hub stops accepting work. */
  failed: Error | undefined;
  private closed = false;
  /** Called once when storage failed (the server closes every connection). */
  onFatal: ((error: Error) => void) | undefined;

  constructor(storage: Storage, store: ChannelStore) {
    this.storage = storage;
    this.store = store;
  }

  /** Marks an outlet as having queued frames; the flush writes it. */
  markPending(outlet: Outlet): void {
    if (this.pendingSet.has(outlet)) return;
    this.pendingSet.add(outlet);
    this.pending.push(outlet);
    this.schedule();
  }

  /** A real change to a channel: its version rises and its aggregate is saved at the commit. */
  changed(ch: Channel): void {
    ch.version++;
    if (!ch.dirty) {
      ch.dirty = true;
      this.dirty.push(ch);
      this.schedule();
    }
  }

  /** Runs `fn` after this tick's commit (with the error when the commit failed). */
  whenCommitted(fn: (error?: Error) => void): void {
    this.afterCommit.push(fn);
    this.schedule();
  }

  /** Makes sure a flush runs in this turn of the event loop (after the socket reads). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Throws TAGWIRE_ERR_CLOSED once storage failed or the hub is closing. */
  failIfDown(): void {
    if (this.failed) throw new TagwireError("TAGWIRE_ERR_CLOSED", `hub storage failed: ${this.failed.message}`);
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", "hub is shutting down");
  }

  /**
   * For a storage record that threw: every check that can refuse a write happens before one, so
   * this is the disk or the database itself. The core already holds the tick's changes and
   * storage does not, so the only consistent answer is to stop. Returns the error to throw to
   * the writer: `throw tick.storageFailed(err)`.
   */
  storageFailed(err: unknown): TagwireError {
    this.fail(err as Error);
    return new TagwireError("TAGWIRE_ERR_CLOSED", `hub storage failed: ${(err as Error).message}`);
  }

  /** Commits the tick's writes, then writes every outlet that has frames queued. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.failed || this.closed) return;
    const dirty = this.dirty;
    if (dirty.length || this.storage.hasUncommitted) {
      this.dirty = [];
      try {
        const now = Date.now();
        for (const ch of dirty) {
          ch.dirty = false;
          this.storage.saveAggregate(ch.id, ch.version, this.store.get(ch.slot), now);
        }
        this.storage.commit();
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    const callbacks = this.afterCommit;
    this.afterCommit = [];
    for (const fn of callbacks) fn();
    const pending = this.pending;
    this.pending = [];
    this.pendingSet.clear();
    this.batches.reset();
    for (const outlet of pending) outlet.flush();
    this.batches.reset();
  };

  /** Commits what is pending and refuses further work. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /**
   * Fail-stop: drop the queued frames, answer the commit callbacks (HTTP) with the error and
   * hand it to `onFatal`. A restart reloads the last committed state, which is exactly what was
   * acknowledged.
   */
  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    try {
      this.storage.rollback();
    } catch {
      // the connection may be unusable; the restart recovers from what is durable
    }
    const callbacks = this.afterCommit;
    this.afterCommit = [];
    for (const fn of callbacks) fn(error);
    this.pending = [];
    this.pendingSet.clear();
    this.onFatal?.(error);
  }
}
