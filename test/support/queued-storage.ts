// A Storage with ordering "log" built from real parts: SQLite behind an in-process FIFO. `submit`
// only queues; the queue is applied a turn of the event loop later, in order, through the hub's
// sink, and `done` runs after that apply, as a JetStream log will do it. It lets the hub's
// log-ordering path (no fast path, `done` after submit returned) run on any machine. Durability
// is SQLite's: the hub's tick commits what was applied before any ack leaves.
import { SqliteStorage, type SqliteStorageOptions } from "../../hub/storage/sqlite.js";
import type { Storage, StoredMessage, Write, WriteDone, WriteOutcome, WriteSink } from "../../hub/storage/storage.js";

export class QueuedStorage implements Storage {
  readonly kind = "sqlite-queued";
  readonly ordering = "log" as const;
  private readonly inner: SqliteStorage;
  private sink: WriteSink | undefined;
  private queue: { write: Write; done: WriteDone }[] = [];
  private scheduled = false;
  /** Writes handed to the sink so far (to check order and exactly-once in tests). */
  readonly applied: Write[] = [];

  constructor(dataDir: string, options: SqliteStorageOptions = {}) {
    this.inner = new SqliteStorage(dataDir, options);
  }

  async open(sink: WriteSink): Promise<void> {
    this.sink = sink;
    await this.inner.open(sink);
  }

  submit(write: Write, done: WriteDone): void {
    this.queue.push({ write, done });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const { write, done } of queue) {
      let out: WriteOutcome;
      try {
        out = this.sink!.apply(write);
      } catch (err) {
        done(undefined, err as Error);
        continue;
      }
      this.applied.push(write);
      done(out, undefined);
    }
  };

  createChannel(agentId: string, name: string, nowMs: number): number {
    return this.inner.createChannel(agentId, name, nowMs);
  }
  claimWriteId(channelId: number, id: string, ts: number): boolean {
    return this.inner.claimWriteId(channelId, id, ts);
  }
  releaseWriteId(channelId: number, id: string): void {
    this.inner.releaseWriteId(channelId, id);
  }
  appendMessage(channelId: number, id: string, ts: number, data: Uint8Array): boolean {
    return this.inner.appendMessage(channelId, id, ts, data);
  }
  findMessage(channelId: number, id: string): StoredMessage | undefined {
    return this.inner.findMessage(channelId, id);
  }
  trimMessages(channelId: number, keep: number, count?: number): number {
    return this.inner.trimMessages(channelId, keep, count);
  }
  expireMessages(cutoffMs: number): Map<number, number> {
    return this.inner.expireMessages(cutoffMs);
  }
  saveAggregate(channelId: number, version: number, aggregate: Uint8Array, nowMs: number): void {
    this.inner.saveAggregate(channelId, version, aggregate, nowMs);
  }
  get hasUncommitted(): boolean {
    return this.inner.hasUncommitted;
  }
  commit(): Promise<void> | undefined {
    return this.inner.commit();
  }
  rollback(): void {
    this.inner.rollback();
  }
  /** History reads answer asynchronously, as a remote log's would. */
  async messages(channelId: number, before: number, after: number, limit: number): Promise<StoredMessage[]> {
    await new Promise((r) => setImmediate(r));
    return this.inner.messages(channelId, before, after, limit);
  }
  async close(): Promise<void> {
    this.queue = [];
    await this.inner.close();
  }
}
