// The hub's tick: group commit, then one socket write per connection per commit group.
//
// Frames and HTTP requests are applied as they arrive (core merge, storage records in the tick's
// open transaction, reply and event frames queued per outlet). On setImmediate, after every
// socket read in this round of the event loop, `flush` saves the changed aggregates and commits
// once. It then seals what every pending outlet has queued, and the tick's commit callbacks,
// into a commit group, and releases the group (one socket write per outlet, callbacks run) only
// once its commit is durable. So an ack or event never leaves before its write is durable, a
// lone frame waits for no timer, and a burst costs one commit and one socket write per
// connection.
//
// Pipelining: when storage makes a commit durable asynchronously (the fsync of SQLite's WAL on
// the thread pool, see storage.ts), `commit()` returns a promise and the event loop goes on
// reading and applying writes while the disk works. While that fsync is in flight the tick does
// not commit again: what is applied meanwhile stays in the open transaction (and its frames in
// the outlets' queues) and is committed as one group as soon as the fsync returns, then covered
// by the next one. So at most one fsync is in flight, a busy hub makes as few, as large commits
// as when the fsync blocked the event loop (each dirty page written to the WAL once per group,
// one socket write per connection per group), and an idle hub's lone write waits for no timer.
// Groups are released strictly in commit order, so nothing of a later tick leaves before an
// earlier tick's frames, and per-connection frame order holds.
//
// Storage failure is fail-stop: when storage refuses a record, the commit or its fsync, what was
// applied in the core since the last durable commit may not be durable, and no ack of it may go
// out (see `fail`).
import { TagwireError } from "../bindings/core/errors.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { BatchCache } from "./batch-cache.js";
import type { Channel } from "./channel.js";
import type { Outlet } from "./outlets.js";
import type { Storage } from "./storage/storage.js";

/** What one commit makes durable: released together, once it is. */
interface CommitGroup {
  /** Outlets that sealed frames into this group (each releases its oldest sealed frames). */
  readonly outlets: Outlet[];
  readonly callbacks: ((error?: Error) => void)[];
}

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
  /**
   * The group whose commit's durability (its fsync) is in flight. The next commit waits for it,
   * so there is never more than one, and groups leave in commit order.
   */
  private inFlight: CommitGroup | undefined;
  /** close() ran its last flush: nothing more is committed. */
  private finished = false;
  /** Resolves `close()` once the last group is released (or the hub failed). */
  private drained: (() => void) | undefined;
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

  /** Commits the tick's writes, then seals its frames and callbacks into a commit group. */
  readonly flush = (): void => {
    this.scheduled = false;
    // While an fsync is in flight, work piles up for the commit that follows it (see the header).
    if (this.failed || this.finished || this.inFlight) return;
    if (this.closed) this.finished = true;
    const dirty = this.dirty;
    let durable: Promise<void> | undefined;
    if (dirty.length || this.storage.hasUncommitted) {
      this.dirty = [];
      try {
        const now = Date.now();
        for (const ch of dirty) {
          ch.dirty = false;
          this.storage.saveAggregate(ch.id, ch.version, this.store.get(ch.slot), now);
        }
        durable = this.storage.commit();
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    const group: CommitGroup = { outlets: [], callbacks: this.afterCommit };
    this.afterCommit = [];
    const pending = this.pending;
    this.pending = [];
    this.pendingSet.clear();
    for (const outlet of pending) if (outlet.seal()) group.outlets.push(outlet);
    if (!durable) this.release(group);
    else {
      this.inFlight = group;
      durable.then(
        () => {
          if (this.inFlight !== group) return; // the hub failed meanwhile: fail() answered it
          this.inFlight = undefined;
          this.release(group);
          if (this.closed || this.hasWork()) this.schedule();
          this.checkDrained();
        },
        (err: Error) => this.fail(err),
      );
    }
    this.checkDrained();
  };

  private hasWork(): boolean {
    return this.pending.length > 0 || this.dirty.length > 0 || this.afterCommit.length > 0 || this.storage.hasUncommitted;
  }

  private release(group: CommitGroup): void {
    for (const fn of group.callbacks) fn();
    this.batches.reset();
    for (const outlet of group.outlets) outlet.release();
    this.batches.reset();
  }

  private get isDrained(): boolean {
    return this.failed !== undefined || (this.finished && this.inFlight === undefined);
  }

  private checkDrained(): void {
    if (this.drained && this.isDrained) this.drained();
  }

  /**
   * Refuses further work, commits what is pending (after the fsync in flight, if any) and
   * resolves once every group was released (its commit durable) or the hub failed, so a
   * shutdown answers what it accepted.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.flush();
    }
    if (this.isDrained) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        this.drained = undefined;
        previous?.();
        resolve();
      };
    });
  }

  /**
   * Fail-stop: drop the queued and sealed frames (onFatal closes every connection, which drops
   * what they hold), answer the commit callbacks (HTTP) of every unreleased group with the
   * error and hand it to `onFatal`. A restart reloads the last committed state, which is exactly what was
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
    // The group in flight is at or after the failed commit: none of its frames may leave.
    const group = this.inFlight;
    this.inFlight = undefined;
    const callbacks = this.afterCommit;
    this.afterCommit = [];
    if (group) for (const fn of group.callbacks) fn(error);
    for (const fn of callbacks) fn(error);
    this.pending = [];
    this.pendingSet.clear();
    this.onFatal?.(error);
    this.checkDrained();
  }
}
