// The hub's state, shared by the WebSocket handlers and the HTTP API: a short coordinator over
//   registry.ts    channels (created in one place)        tick.ts       group commit, then sockets
//   publish.ts     publish + idempotency                   messages.ts   createMessage, message log
//   fast-path.ts   publish batches in one core call        retention.ts  message count and age limits
//   outlets.ts     connections and fan-out                 storage/      the Storage interface + SQLite
//
// Every write takes one route: validated here (on the hub that received it), handed to
// `storage.submit`, and applied by `apply` below when storage delivers it — at once with SQLite,
// after the log ordered it in cluster mode, on every hub. The fast path is the one exception, and
// only where the hub orders writes itself (ordering "local").
import type { Core } from "../bindings/core/index.js";
import type { Pipeline } from "../bindings/core/pipeline.js";
import type { Router } from "../bindings/core/router.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { TagwireError, type TagwireErrorCode } from "../bindings/core/errors.js";
import { decodeBatch, encodePublishAck, toFrame } from "../bindings/protocol/frames.js";
import { type Channel, EMPTY_DOC } from "./channel.js";
import { type BatchReplyTo, ingestPublishes } from "./fast-path.js";
import type { HubLimits } from "./limits.js";
import { MessageIds, applyMessage, checkMessage } from "./messages.js";
import { type Outlet, Outlets } from "./outlets.js";
import type { HubParts } from "./parts.js";
import { type PublishInput, applyPublish, checkPublish } from "./publish.js";
import { ChannelRegistry } from "./registry.js";
import { Retention, type RetentionOptions } from "./retention.js";
import type { Storage, StoredChannel, StoredMessage, Write, WriteDone, WriteOutcome, WriteSink } from "./storage/storage.js";
import { Tick } from "./tick.js";

export { Channel, EMPTY_DOC } from "./channel.js";
export { MAX_KEY_BYTES } from "./registry.js";
export { DEFAULT_RETENTION, type RetentionOptions } from "./retention.js";
export type { Outlet } from "./outlets.js";
export type { PublishInput } from "./publish.js";
export type PublishOutcome = WriteOutcome;

export class HubState implements WriteSink, HubParts {
  readonly core: Core;
  readonly store: ChannelStore;
  readonly router: Router;
  readonly pipeline: Pipeline;
  readonly storage: Storage;
  readonly limits: HubLimits;
  readonly registry: ChannelRegistry;
  readonly outlets: Outlets;
  readonly tick: Tick;
  readonly retention: Retention;
  private readonly ids = new MessageIds();

  private constructor(core: Core, storage: Storage, limits: HubLimits, retention: RetentionOptions) {
    this.core = core;
    this.storage = storage;
    this.limits = limits;
    this.store = core.createChannelStore({ maxPayloadBytes: limits.maxPayloadBytes, maxDepth: limits.maxDepth });
    this.router = core.createRouter();
    this.pipeline = core.createPipeline(this.store, this.router);
    this.tick = new Tick(storage, this.store);
    this.outlets = new Outlets(this.router);
    this.registry = new ChannelRegistry(this.store, this.router, storage, this.tick);
    this.retention = new Retention(retention, storage, this.tick, this.registry);
  }

  /** A hub state over `storage`, with everything storage holds loaded into the core. */
  static async open(core: Core, storage: Storage, limits: HubLimits, retention: RetentionOptions): Promise<HubState> {
    const state = new HubState(core, storage, limits, retention);
    await storage.open(state);
    return state;
  }

  // --- WriteSink: called by storage.

  restore(row: StoredChannel): void {
    this.registry.restore(row);
  }

  apply(write: Write): WriteOutcome {
    return write.kind === "publish" ? applyPublish(this, write) : applyMessage(this, write);
  }

  // --- Writes (validated here, then submitted).

  /**
   * Merges (or replaces) `diff` into a channel's aggregate, logs it with `log`, fans the
   * effective diff out. Throws a TagwireError for a write refused before submission (names,
   * sizes, ids: nothing changes); otherwise `done` gets the outcome or the refusal. With SQLite
   * `done` runs before this returns; frames it queues leave after the tick's commit.
   */
  publish(agentId: string, name: string, diff: Uint8Array, options: PublishInput, done: WriteDone, author?: string): void {
    checkPublish(this, agentId, name, diff, options);
    const log = options.log === true;
    const ts = Date.now();
    this.storage.submit(
      {
        kind: "publish",
        agentId,
        channel: name,
        diff,
        replace: options.replace === true,
        replaceKeys: options.replaceKeys,
        log,
        messageId: options.messageId,
        logId: log && options.messageId === undefined ? this.ids.next(ts) : undefined,
        ts,
        author,
      },
      done,
    );
  }

  /** Appends `data` to a channel's log (idempotent with `messageId`); errors as for `publish`. */
  createMessage(agentId: string, name: string, data: Uint8Array, messageId: string | undefined, done: WriteDone, author?: string): void {
    checkMessage(this, agentId, name, data, messageId);
    const ts = Date.now();
    this.storage.submit(
      {
        kind: "message",
        agentId,
        channel: name,
        data,
        messageId,
        logId: messageId === undefined ? this.ids.next(ts) : undefined,
        ts,
        author,
      },
      done,
    );
  }

  /** `publish` for request/response callers (HTTP): resolves once the write is durable. */
  publishDurably(agentId: string, name: string, diff: Uint8Array, options: PublishInput, author?: string): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => this.publish(agentId, name, diff, options, this.durably(resolve, reject), author));
  }

  /** `createMessage` for request/response callers: resolves once the message is durable. */
  createMessageDurably(agentId: string, name: string, data: Uint8Array, messageId?: string, author?: string): Promise<StoredMessage> {
    return new Promise((resolve, reject) =>
      this.createMessage(
        agentId,
        name,
        data,
        messageId,
        this.durably((out) => resolve(out.message!), reject),
        author,
      ),
    );
  }

  private durably(resolve: (out: WriteOutcome) => void, reject: (err: Error) => void): WriteDone {
    return (out, error) => {
      if (error) return reject(error);
      this.tick.whenCommitted((failed) =>
        failed ? reject(new TagwireError(INTERNAL, `storage failed: ${failed.message}`)) : resolve(out!),
      );
    };
  }

  /**
   * A batch of plain publishes from one connection (`isPlainPublishBatch`). `writer` restricts
   * writes to one agent's channels (a device). Through the core pipeline when the hub orders
   * writes; otherwise frame by frame through `publish`, replies in frame order.
   */
  ingestPublishes(replyTo: BatchReplyTo, batch: Uint8Array, writer: string | undefined): void {
    if (this.storage.ordering === "local") return ingestPublishes(this, replyTo, batch, writer);
    for (const raw of decodeBatch(batch, this.limits.maxFramesPerBatch)) {
      let reqId = 0;
      try {
        const f = toFrame(raw);
        if (f.type !== "publish") continue; // isPlainPublishBatch admits publishes only
        reqId = f.reqId;
        if (writer !== undefined && f.agentId !== writer) {
          throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `device ${writer} may not write ${f.agentId}/${f.channel}`);
        }
        const id = reqId;
        this.publish(
          f.agentId,
          f.channel,
          f.diff,
          f,
          (out, err) => {
            if (err) replyTo.error(id, codeOf(err), err.message);
            else if (id !== 0) replyTo.enqueue(encodePublishAck(id, out!.version, out!.diff));
          },
          writer,
        );
      } catch (err) {
        replyTo.error(reqId, codeOf(err), (err as Error).message);
      }
    }
  }

  /** Drops messages past the age limit (called on a timer). */
  expireMessages(now = Date.now()): number {
    return this.retention.expire(now);
  }

  // --- Reads.

  get channelCount(): number {
    return this.registry.size;
  }

  checkAddress(agentId: string, channel: string): void {
    this.registry.checkAddress(agentId, channel);
  }

  channel(agentId: string, name: string): Channel | undefined {
    return this.registry.get(agentId, name);
  }

  channelNames(agentId: string): string[] {
    return this.registry.names(agentId);
  }

  matching(agentId: string, pattern: string): Channel[] {
    return this.registry.matching(agentId, pattern);
  }

  /** The aggregate bytes (a fresh copy) and version of a channel; `{}` and 0 when it has none. */
  aggregate(agentId: string, name: string): { version: number; aggregate: Uint8Array } {
    const ch = this.registry.get(agentId, name);
    if (!ch || ch.version === 0) return { version: 0, aggregate: EMPTY_DOC };
    return { version: ch.version, aggregate: this.store.get(ch.slot) };
  }

  aggregateOf(ch: Channel): Uint8Array {
    return ch.version === 0 ? EMPTY_DOC : this.store.get(ch.slot);
  }

  /** Messages with after < ts < before, newest `limit`, oldest first. */
  messages(
    agentId: string,
    name: string,
    before: number | undefined,
    after: number | undefined,
    limit: number,
    maxBytes?: number,
  ): StoredMessage[] | Promise<StoredMessage[]> {
    const ch = this.registry.get(agentId, name);
    if (!ch) return [];
    return this.storage.messages(ch.id, before ?? Number.MAX_SAFE_INTEGER, after ?? -1, limit, maxBytes);
  }

  // --- Outlets and the tick (connection.ts, http.ts, server.ts).

  get failed(): Error | undefined {
    return this.tick.failed;
  }

  set onFatal(fn: ((error: Error) => void) | undefined) {
    this.tick.onFatal = fn;
  }

  addOutlet(outlet: Outlet): void {
    this.outlets.add(outlet);
  }

  removeOutlet(outlet: Outlet): void {
    this.outlets.remove(outlet);
  }

  markPending(outlet: Outlet): void {
    this.tick.markPending(outlet);
  }

  whenCommitted(fn: (error?: Error) => void): void {
    this.tick.whenCommitted(fn);
  }

  /** `frames` as one WebSocket frame (hub/ws-batch-write.ts), shared by the outlets of a flush. */
  joinCached(frames: Uint8Array[]): Buffer {
    return this.tick.batches.join(frames);
  }

  /**
   * Commits what is pending and refuses further work; resolves once every commit is durable and
   * its frames were written (or the hub failed).
   */
  close(): Promise<void> {
    return this.tick.close();
  }
}

// TAGWIRE_ERR_INTERNAL is a protocol code (ProtocolErrorCode), not (yet) a TagwireErrorCode.
const INTERNAL = "TAGWIRE_ERR_INTERNAL" as TagwireErrorCode;

function codeOf(err: unknown): TagwireErrorCode {
  return err instanceof TagwireError ? err.code : INTERNAL;
}
