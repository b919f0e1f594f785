// Cluster mode's Storage (hub/storage/storage.ts) on NATS JetStream: ordering "log".
//
// Every write a hub accepts is appended to the cluster's write stream (jetstream-log.ts); every
// hub follows that stream and hands each record to its applier (`sink.apply`) in stream order, so
// all hubs compute the same versions, aggregates, effective diffs and message logs. The submitting
// hub answers its client from its own apply of that record (`done`), which happens only after
// JetStream acknowledged the append: an acknowledged write is on a JetStream quorum.
//
// Snapshots and retention. The stream is the durable copy of everything, and it is bounded by
// JetStream limits: `max_msgs_per_subject` (the message-log count: logged writes have their own
// `m.` subjects, so a channel's `m.` subject holds exactly its log) and `max_age`. So that those
// limits never take an aggregate with them, every hub keeps per-channel snapshots in a KV bucket
// (`TW_<name>_snap`, key = routing key, value = [1, seq, version, aggregate]: the aggregate after
// the channel's record `seq`), written a few seconds after a channel changes, only ever forward
// (compare-and-set on the entry's revision). A starting hub restores the snapshots, then reads the
// stream from its first record: records a channel's snapshot already covers only rebuild the
// message log and the ids of applied writes; later ones are applied. Then it serves.
//
// What the applier records (channels, message logs, ids of applied unlogged writes) is kept in
// memory; `commit` has nothing to wait for. See docs/CLUSTER.md.
import { TagwireError } from "../../bindings/core/errors.js";
import { randomId } from "../../bindings/protocol/ids.js";
import { decodeValue, encodeValue } from "../../bindings/protocol/msgpack.js";
import { Kvm, type KV } from "@nats-io/kv";
import type { Storage, StoredMessage, Write, WriteDone, WriteOutcome, WriteSink } from "../storage/storage.js";
import { JetStreamLog, retrying, type JetStreamLogOptions } from "./jetstream-log.js";
import type { WriteRecord } from "./record.js";
import { kvKeyToRoute, routeToKvKey } from "./subjects.js";

export interface JetStreamStorageOptions extends JetStreamLogOptions {
  /** Message retention, as the single hub's (becomes the stream's limits). */
  retention?: { maxMessagesPerChannel: number; maxMessageAgeMs: number };
  /** How soon after a change a channel's snapshot is written (ms). Default 2000. */
  snapshotIntervalMs?: number;
}

const SNAPSHOT_VERSION = 1;

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
  /** Channel ids by routing key. */
  private readonly byKey = new Map<string, number>();
  /** Per channel id: the stream sequence of the last record applied to it. */
  private readonly channelSeq: number[] = [];
  /** Snapshots waiting to be written, by channel id. */
  private pendingSnapshots = new Map<number, { seq: number; version: number; aggregate: Uint8Array }>();
  private snapshotTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private kv: KV | undefined;
  /** While starting: per channel id, the sequence its restored snapshot covers. */
  private covered: number[] | undefined;
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
    const retention = this.options.retention;
    const log = await JetStreamLog.open({
      ...this.options,
      ...(retention ? { maxAgeMs: retention.maxMessageAgeMs, maxPerChannel: retention.maxMessagesPerChannel } : {}),
    });
    this.log = log;
    try {
      this.kv = await retrying(() =>
        new Kvm(log.connection).create(`${log.stream}_snap`, { replicas: this.options.replicas ?? 1, history: 1 }),
      );
      const snapshots = await retrying(() => this.loadSnapshots());
      const { first, last } = await retrying(() => log.bounds());
      // Records up to `target` may be covered by a snapshot: they are indexed, not applied, and the
      // channels are restored once they are read (restore needs the message counts).
      const target = Math.min(last, Math.max(0, ...snapshots.map((x) => x.seq)));
      this.covered = [];
      for (const x of snapshots) {
        const id = this.createChannel(x.agent, x.name);
        this.covered[id] = x.seq;
        this.channelSeq[id] = x.seq;
      }
      // Records a snapshot does not cover are held back until every channel is restored.
      const held: [number, WriteRecord][] = [];
      const restoreAll = () => {
        if (!this.covered) return;
        for (const x of snapshots) {
          const id = this.byKey.get(`${x.agent}/${x.name}`)!;
          sink.restore({
            id,
            agent: x.agent,
            name: x.name,
            version: x.version,
            aggregate: x.aggregate,
            messageCount: this.channels[id]!.messages.size,
          });
        }
        this.covered = undefined;
        for (const [seq, record] of held.splice(0)) this.deliver(seq, record);
      };
      if (target < first || target === 0) restoreAll();
      await log.follow(1, (seq, record) => {
        if (this.covered) {
          if (seq <= target) {
            const known = this.byKey.get(`${record.write.agentId}/${record.write.channel}`);
            if (known !== undefined && seq <= (this.covered[known] ?? 0)) this.index(known, record.write);
            else held.push([seq, record]);
            if (seq >= target) restoreAll();
            return;
          }
          restoreAll();
        }
        this.deliver(seq, record);
      });
      restoreAll();
    } catch (err) {
      await log.close();
      throw err;
    }
  }

  private async loadSnapshots(): Promise<{ agent: string; name: string; seq: number; version: number; aggregate: Uint8Array }[]> {
    const out: { agent: string; name: string; seq: number; version: number; aggregate: Uint8Array }[] = [];
    const keys: string[] = [];
    for await (const k of await this.kv!.keys()) keys.push(k);
    for (const key of keys) {
      const entry = await this.kv!.get(key);
      if (entry?.operation !== "PUT") continue;
      const v = decodeValue(entry.value) as [number, number, number, Uint8Array];
      if (!Array.isArray(v) || v[0] !== SNAPSHOT_VERSION) continue;
      const { agentId, channel } = kvKeyToRoute(key);
      out.push({ agent: agentId, name: channel, seq: v[1], version: v[2], aggregate: v[3] });
    }
    return out;
  }

  /** One record from the stream, in order: apply it here; answer the client if it is ours. */
  private deliver(seq: number, record: WriteRecord): void {
    const w = record.write;
    const key = `${w.agentId}/${w.channel}`;
    const known = this.byKey.get(key);
    let outcome: WriteOutcome | undefined;
    let error: Error | undefined;
    try {
      outcome = this.sink!.apply(w);
    } catch (err) {
      // The core refused it (deterministic: every hub refuses the same record).
      error = err as Error;
    }
    const id = known ?? this.byKey.get(key);
    if (id !== undefined) this.channelSeq[id] = seq;
    if (record.origin !== this.hubId) return;
    const done = this.pending.get(record.ref);
    if (!done) return;
    this.pending.delete(record.ref);
    done(error ? undefined : outcome, error);
  }

  /** The recording part of applying `w`, for a record the channel's snapshot covers. */
  private index(channelId: number, w: Write): void {
    if (w.kind === "message" || w.log) {
      const id = w.messageId ?? w.logId;
      if (id !== undefined) this.appendMessage(channelId, id, w.ts, w.kind === "message" ? w.data : w.diff);
    } else if (w.messageId !== undefined) {
      this.claimWriteId(channelId, w.messageId, w.ts);
    }
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
    const id = this.channels.length - 1;
    this.byKey.set(`${agentId}/${name}`, id);
    return id;
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

  /** Queues the channel's snapshot (written within `snapshotIntervalMs`, see the header). */
  saveAggregate(channelId: number, version: number, aggregate: Uint8Array): void {
    const seq = this.channelSeq[channelId];
    if (seq === undefined) return;
    this.pendingSnapshots.set(channelId, { seq, version, aggregate });
    this.snapshotTimer ??= setTimeout(() => {
      this.snapshotTimer = undefined;
      void this.flushSnapshots();
    }, this.options.snapshotIntervalMs ?? 2000);
  }

  /** Writes the queued snapshots; an entry only ever moves forward (revision-checked). */
  flushSnapshots(): Promise<void> {
    const run = async () => {
      const batch = this.pendingSnapshots;
      this.pendingSnapshots = new Map();
      const kv = this.kv;
      if (!kv) return;
      for (const [id, snap] of batch) {
        const ch = this.channels[id]!;
        const key = routeToKvKey(ch.agent, ch.name);
        const value = encodeValue([SNAPSHOT_VERSION, snap.seq, snap.version, snap.aggregate]);
        try {
          const entry = await kv.get(key);
          if (entry && entry.operation === "PUT") {
            const held = decodeValue(entry.value) as [number, number];
            if (held[1] >= snap.seq) continue;
            await kv.update(key, value, entry.revision);
          } else {
            await kv.create(key, value);
          }
        } catch {
          // Another hub wrote it first (same or newer state), or NATS is away: keep it for later
          // unless something newer was queued meanwhile.
          if (!this.closed && !this.pendingSnapshots.has(id)) this.pendingSnapshots.set(id, snap);
        }
      }
      if (this.pendingSnapshots.size && !this.closed) {
        this.snapshotTimer ??= setTimeout(() => {
          this.snapshotTimer = undefined;
          void this.flushSnapshots();
        }, this.options.snapshotIntervalMs ?? 2000);
      }
    };
    const p = (this.flushing ?? Promise.resolve()).then(run);
    this.flushing = p;
    return p;
  }

  get hasUncommitted(): boolean {
    return false;
  }

  /** The log made every applied write durable before `apply` saw it: nothing to wait for. */
  commit(): undefined {
    return undefined;
  }

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
    clearTimeout(this.snapshotTimer);
    if (this.log?.available) await this.flushSnapshots().catch(() => {});
    await this.log?.close();
  }
}
