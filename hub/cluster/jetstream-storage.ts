// Cluster mode's Storage (hub/storage/storage.ts) on NATS JetStream: ordering "log".
//
// Every write a hub accepts is appended to the cluster's write stream (jetstream-log.ts); every
// hub follows that stream and hands each record to its applier (`sink.apply`) in stream order, so
// all hubs compute the same versions, aggregates, effective diffs and message logs. The submitting
// hub answers its client from its own apply of that record (`done`), which happens only after
// JetStream acknowledged the append: an acknowledged write is on a JetStream quorum.
//
// What the applier records (channels, message logs, ids of applied unlogged writes) is kept in
// memory, rebuilt on start by replaying the stream, which is the only durable copy. So `commit`
// has nothing to wait for. Message history is read from that memory (the stream's retention
// bounds it). See docs/CLUSTER.md for the design, its limits and what comes next (snapshots).
import { TagwireError } from "../../bindings/core/errors.js";
import { randomId } from "../../bindings/protocol/ids.js";
import type { Storage, StoredMessage, Write, WriteDone, WriteSink } from "../storage/storage.js";
import { JetStreamLog, type JetStreamLogOptions } from "./jetstream-log.js";
import type { WriteRecord } from "./record.js";

export type JetStreamStorageOptions = JetStreamLogOptions;

/** What a hub needs to join a cluster (HubOptions.nats, `tagwire hub --nats`). */
export interface ClusterOptions {
  /** NATS URLs of one JetStream cluster. */
  servers: string[];
  /** Stream replicas (3 on a 3-node cluster survives the loss of a node). Default 1. */
  replicas?: number;
  /** Namespace of this tagwire cluster in NATS (stream TW_<name>). Default "tagwire". */
  name?: string;
}

interface ChannelLog {
  readonly agent: string;
  readonly name: string;
  /** Logged messages by id, in log (stream) order. */
  readonly messages: Map<string, StoredMessage>;
  /** Ids of applied unlogged publishes, with the submitter's timestamp (for expiry). */
  readonly claimed: Map<string, number>;
}

export class JetStreamStorage implements Storage {
  readonly kind = "jetstream";
  readonly ordering = "log" as const;
  /** This hub process's id in the records it appends. */
  readonly hubId = randomId(6);
  private readonly options: JetStreamStorageOptions;
  private log: JetStreamLog | undefined;
  private sink: WriteSink | undefined;
  private readonly pending = new Map<number, WriteDone>();
  private nextRef = 1;
  private readonly channels: ChannelLog[] = [];
  private closed = false;

  constructor(options: JetStreamStorageOptions) {
    this.options = options;
  }

  /** True while writes can be made durable (NATS reachable). */
  get available(): boolean {
    return !!this.log?.available;
  }

  /** The last stream sequence applied on this hub. */
  get appliedSeq(): number {
    return this.log?.appliedSeq ?? 0;
  }

  async open(sink: WriteSink): Promise<void> {
    this.sink = sink;
    this.log = await JetStreamLog.open(this.options);
    try {
      await this.log.follow(1, (seq, record) => this.deliver(seq, record));
    } catch (err) {
      await this.log.close();
      throw err;
    }
  }

  /** One record from the stream, in order: apply it here; answer the client if it is ours. */
  private deliver(_seq: number, record: WriteRecord): void {
    let outcome;
    let error: Error | undefined;
    try {
      outcome = this.sink!.apply(record.write);
    } catch (err) {
      // The core refused it (deterministic: every hub refuses the same record).
      error = err as Error;
    }
    if (record.origin !== this.hubId) return;
    const done = this.pending.get(record.ref);
    if (!done) return;
    this.pending.delete(record.ref);
    done(error ? undefined : outcome, error);
  }

  submit(write: Write, done: WriteDone): void {
    const log = this.log;
    if (!log || this.closed) {
      done(undefined, new TagwireError("TAGWIRE_ERR_CLOSED", "hub storage is closed"));
      return;
    }
    const ref = this.nextRef++;
    this.pending.set(ref, done);
    log.append({ write, origin: this.hubId, ref }).catch((err: Error) => {
      // Not acknowledged: the client gets the error. (If JetStream stored it after all and only
      // the ack was lost, every hub still applies it; a client retry with the same messageId is
      // then recognised as a replay.)
      if (this.pending.delete(ref)) done(undefined, err);
    });
  }

  // --- Recording (called by the applier during apply; the stream is the durable copy)

  createChannel(agentId: string, name: string): number {
    this.channels.push({ agent: agentId, name, messages: new Map(), claimed: new Map() });
    return this.channels.length - 1;
  }

  claimWriteId(channelId: number, id: string, ts: number): boolean {
    const claimed = this.channels[channelId]!.claimed;
    if (claimed.has(id)) return false;
    claimed.set(id, ts);
    return true;
  }

  releaseWriteId(channelId: number, id: string): void {
    this.channels[channelId]!.claimed.delete(id);
  }

  appendMessage(channelId: number, id: string, ts: number, data: Uint8Array): boolean {
    const messages = this.channels[channelId]!.messages;
    if (messages.has(id)) return false;
    messages.set(id, { id, ts, data });
    return true;
  }

  findMessage(channelId: number, id: string): StoredMessage | undefined {
    return this.channels[channelId]?.messages.get(id);
  }

  trimMessages(channelId: number, keep: number): number {
    const messages = this.channels[channelId]!.messages;
    let removed = 0;
    for (const id of messages.keys()) {
      if (messages.size <= keep) break;
      messages.delete(id);
      removed++;
    }
    return removed;
  }

  expireMessages(cutoffMs: number): Map<number, number> {
    const removed = new Map<number, number>();
    this.channels.forEach((ch, id) => {
      let n = 0;
      for (const [key, m] of ch.messages) {
        if (m.ts >= cutoffMs) continue;
        ch.messages.delete(key);
        n++;
      }
      if (n) removed.set(id, n);
      for (const [key, ts] of ch.claimed) if (ts < cutoffMs) ch.claimed.delete(key);
    });
    return removed;
  }

  // --- The tick: the stream already holds every applied write durably.

  saveAggregate(): void {}

  get hasUncommitted(): boolean {
    return false;
  }

  commit(): void {}

  rollback(): void {}

  // --- Reads

  messages(channelId: number, before: number, after: number, limit: number): StoredMessage[] {
    const ch = this.channels[channelId];
    if (!ch) return [];
    const out: StoredMessage[] = [];
    for (const m of ch.messages.values()) if (m.ts < before && m.ts > after) out.push(m);
    // Stream order is nearly time order (hubs' clocks differ a little): sort stably by ts.
    out.sort((a, b) => a.ts - b.ts);
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const done of waiting) done(undefined, new TagwireError("TAGWIRE_ERR_CLOSED", "hub shutting down"));
    await this.log?.close();
  }
}
