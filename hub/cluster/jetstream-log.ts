// The cluster's write log: one JetStream stream that decides the order of every write, read in
// that order by every hub (docs/CLUSTER.md).
//
// A hub `append`s a record and gets JetStream's ack (with R3, once a quorum stored it) and the
// stream sequence; independently it `follow`s the stream with an ordered consumer and hands every
// record, its own and other hubs', to the applier in sequence order. Since every hub applies the
// same records in the same order in its own wasm core, every hub computes the same versions,
// aggregates and effective diffs: JetStream carries bytes, the core stays the hot path.
//
// Availability: while the NATS connection is down (or JetStream does not answer) `append` fails at
// once with TAGWIRE_ERR_UNAVAILABLE instead of queueing what cannot be made durable; nats.js
// reconnects by itself and the ordered consumer resumes after the last sequence it delivered.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  jetstreamManager,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { TagwireError } from "../../bindings/core/errors.js";
import type { Write } from "../storage/storage.js";
import { AckMux } from "./ack-mux.js";
import { decodeRecord, encodeRecord, type WriteRecord } from "./record.js";
import { assertClusterName, routeToSubject } from "./subjects.js";

export interface JetStreamLogOptions {
  /** NATS server URLs (any nodes of one cluster). */
  servers: string[];
  /** Namespace: stream `TW_<name>`, subjects `tw.<name>.{m,w}.…`. Default "tagwire". */
  name?: string;
  /** Stream replicas (1..5; 3 on a 3-node cluster survives the loss of one node). Default 1. */
  replicas?: number;
  /** Oldest record kept (ms, 0 = forever). */
  maxAgeMs?: number;
  /** Records kept per channel subject (0 = no limit). */
  maxPerChannel?: number;
  /** How long `append` waits for JetStream's ack. Default 5 s. */
  ackTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Runs `fn` until it succeeds or `timeoutMs` passed: a JetStream request made while the cluster
 * elects a leader (a node just died or restarted) times out, and a starting hub should wait for
 * the cluster rather than exit.
 */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates the stream, or updates its settings when they differ. Several hubs starting at once race
 * to create it, and a young cluster may time out while it elects leaders: retried.
 */
function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  return retrying(async () => {
    try {
      const c = (await jsm.streams.info(config.name)).config;
      const same =
        c.max_age === config.max_age &&
        c.max_msgs_per_subject === config.max_msgs_per_subject &&
        c.num_replicas === config.num_replicas &&
        c.subjects.join() === config.subjects!.join();
      if (!same) await jsm.streams.update(config.name, config);
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      await jsm.streams.add(config);
    }
  });
}

/** A record delivered in stream order. */
export type ApplyFn = (seq: number, record: WriteRecord) => void;

export class JetStreamLog {
  readonly stream: string;
  /**
   * `tw.<name>.`: a write's subject is this + `m.` (it adds to the message log: a logged publish
   * or a createMessage) or `w.` (any other publish) + the routing key's tokens. The two kinds get
   * their own per-subject limit: `m.` subjects keep exactly the channel's message log.
   */
  readonly subjectPrefix: string;
  /** The connection (shared with the snapshot bucket). */
  get connection(): NatsConnection {
    return this.nc;
  }
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly ackTimeoutMs: number;
  private readonly acks: AckMux;
  private readonly log: (line: string) => void;
  private connected = true;
  private messages: ConsumerMessages | undefined;
  private closed = false;
  /** The last sequence handed to the applier. */
  appliedSeq = 0;
  private seqWaiters: { seq: number; resolve: () => void }[] = [];

  private constructor(nc: NatsConnection, jsm: JetStreamManager, options: JetStreamLogOptions) {
    const name = options.name ?? "tagwire";
    this.stream = `TW_${name}`;
    this.subjectPrefix = `tw.${name}.`;
    this.nc = nc;
    this.jsm = jsm;
    this.js = jetstream(nc);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.acks = new AckMux(nc, this.ackTimeoutMs);
    this.log = options.log ?? (() => {});
    void this.watchStatus();
  }

  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const name = options.name ?? "tagwire";
    assertClusterName(name);
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: `tagwire-hub`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // Pings every 2 s, two missed: a silently cut link is noticed within about 5 s.
        pingInterval: 2000,
        maxPingOut: 2,
      });
    } catch (err) {
      throw new TagwireError("TAGWIRE_ERR_UNAVAILABLE", `cannot reach NATS at ${options.servers.join(",")}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      // JetStream may be electing leaders (a node just restarted): ensureStream retries.
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const config: Partial<StreamConfig> & { name: string } = {
        name: `TW_${name}`,
        subjects: [`tw.${name}.w.>`, `tw.${name}.m.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: options.replicas ?? 1,
        max_age: (options.maxAgeMs ?? 0) * 1_000_000,
        max_msgs_per_subject: options.maxPerChannel ?? 0,
        allow_direct: true,
      };
      await ensureStream(jsm, config);
      return new JetStreamLog(nc, jsm, options);
    } catch (err) {
      await nc.close().catch(() => {});
      throw new TagwireError("TAGWIRE_ERR_UNAVAILABLE", `JetStream not usable: ${(err as Error).message}`, { cause: err });
    }
  }

  /** False while the NATS connection is down: appends are refused. */
  get available(): boolean {
    return this.connected && !this.closed;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting" || s.type === "staleConnection") {
        if (this.connected) {
          this.connected = false;
          this.log(`NATS connection lost (${s.type}): refusing writes until it is back`);
        }
      } else if (s.type === "reconnect") {
        if (!this.connected) {
          this.connected = true;
          this.log("NATS connection back: accepting writes");
        }
      }
    }
  }

  /** Subject of a channel's writes. */
  subjectOf(write: Write): string {
    const logged = write.kind === "message" || write.log;
    return `${this.subjectPrefix}${logged ? "m" : "w"}.${routeToSubject(write.agentId, write.channel)}`;
  }

  /**
   * Appends a record; resolves with its stream sequence once JetStream stored it (quorum with
   * replicas). Rejects with TAGWIRE_ERR_UNAVAILABLE when NATS is unreachable or does not answer.
   */
  async append(record: WriteRecord): Promise<number> {
    if (!this.available) throw new TagwireError("TAGWIRE_ERR_UNAVAILABLE", "cluster storage (NATS JetStream) is unreachable; retry later");
    try {
      return await this.acks.append(this.subjectOf(record.write), encodeRecord(record));
    } catch (err) {
      throw new TagwireError("TAGWIRE_ERR_UNAVAILABLE", `cluster storage did not confirm the write: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** The last sequence in the stream now (0 when empty). */
  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    return info.state.last_seq;
  }

  /** The first sequence the stream still holds, and the last. */
  async bounds(): Promise<{ first: number; last: number }> {
    const info = await this.jsm.streams.info(this.stream);
    return { first: info.state.first_seq, last: info.state.last_seq };
  }

  /**
   * Delivers every record from `fromSeq` on to `apply`, in order, until `close`. Resolves once the
   * records present at the call are applied (so a starting hub serves nothing older).
   *
   * The ordered consumer recovers from most faults itself; when it ends, or the stream has records
   * past the last one delivered and nothing arrived for a while (a consumer silently lost on a
   * killed node), it is recreated after the last sequence applied. A record is never applied
   * twice: sequences at or below the last applied one are skipped.
   */
  async follow(fromSeq: number, apply: ApplyFn): Promise<void> {
    const last = await retrying(() => this.lastSeq());
    this.appliedSeq = fromSeq - 1;
    const caughtUp = last > this.appliedSeq ? this.waitApplied(last) : Promise.resolve();
    void this.followLoop(apply);
    this.watchdog = setInterval(() => void this.checkStalled(), 1000);
    this.watchdog.unref();
    await caughtUp;
  }

  private watchdog: NodeJS.Timeout | undefined;
  private lastProgress = { seq: 0, at: Date.now() };

  private async checkStalled(): Promise<void> {
    if (this.closed || !this.connected || !this.messages) return;
    const now = Date.now();
    if (this.appliedSeq !== this.lastProgress.seq) {
      this.lastProgress = { seq: this.appliedSeq, at: now };
      return;
    }
    if (now - this.lastProgress.at < 2000) return;
    try {
      const last = await this.lastSeq();
      if (last > this.appliedSeq && this.appliedSeq === this.lastProgress.seq) {
        this.log(`stream consumer stalled at seq ${this.appliedSeq} (stream at ${last}): recreating it`);
        this.lastProgress = { seq: this.appliedSeq, at: Date.now() };
        await this.messages?.close().catch(() => {});
      }
    } catch {
      // JetStream not answering: the next check tries again
    }
  }

  private async followLoop(apply: ApplyFn): Promise<void> {
    while (!this.closed) {
      try {
        const from = this.appliedSeq + 1;
        const consumer = await this.js.consumers.get(this.stream, {
          filter_subjects: `${this.subjectPrefix}>`,
          ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }),
        });
        const messages = await consumer.consume({ max_messages: 1024 });
        this.messages = messages;
        for await (const m of messages) {
          if (m.seq <= this.appliedSeq) continue;
          let record: WriteRecord;
          try {
            record = decodeRecord(m.data);
          } catch (err) {
            // Not ours (someone published on our subjects): skipped on every hub alike.
            this.log(`stream seq ${m.seq}: ${(err as Error).message}; skipped`);
            this.advance(m.seq);
            continue;
          }
          try {
            apply(m.seq, record);
          } catch (err) {
            this.log(`applying stream seq ${m.seq} failed: ${(err as Error).stack ?? err}`);
          }
          this.advance(m.seq);
        }
      } catch (err) {
        if (!this.closed) this.log(`stream consumer stopped (${(err as Error).message}); resuming after seq ${this.appliedSeq}`);
      }
      if (!this.closed) await new Promise((r) => setTimeout(r, 250));
    }
  }

  private advance(seq: number): void {
    this.appliedSeq = seq;
    if (this.seqWaiters.length === 0) return;
    const still: typeof this.seqWaiters = [];
    for (const w of this.seqWaiters) w.seq <= seq ? w.resolve() : still.push(w);
    this.seqWaiters = still;
  }

  /** Resolves when the record with sequence `seq` was handed to the applier. */
  waitApplied(seq: number): Promise<void> {
    if (this.appliedSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.seqWaiters.push({ seq, resolve }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.acks.close();
    try {
      await this.messages?.close();
    } catch {
      // already gone
    }
    await this.nc.close().catch(() => {});
  }
}
