// The hub's state and its one write path, shared by the WebSocket handlers and the HTTP API:
// channels (aggregates in the core's ChannelStore, routing in the core's Router), durable storage,
// fan-out, and the per-tick flush.
//
// A tick: frames and HTTP requests are applied as they arrive (core merge, SQLite writes into the
// tick's open transaction, reply and event frames queued per connection). On setImmediate, after
// every socket read in this round of the event loop, `flush` writes the changed aggregates,
// commits once, and only then writes each socket once with everything queued for it. So an ack
// or event never leaves before its write is durable, a lone frame waits for no timer, and a burst
// costs one commit and one socket write per connection.
import type { Core } from "../bindings/core/index.js";
import type { Router } from "../bindings/core/router.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId, assertChannelName, matchPattern } from "../bindings/sdk/names.js";
import type { Pipeline } from "../bindings/core/pipeline.js";
import { decodeValue } from "../bindings/protocol/msgpack.js";
import {
  eventPrefix,
  encodeAggregateEvent,
  encodeMessageEvent,
  encodePublishAck,
  joinFrames,
  type ProtocolErrorCode,
} from "../bindings/protocol/frames.js";
import { checkDocument } from "../bindings/protocol/msgpack.js";
import type { Storage, StoredChannel, StoredMessage, Write, WriteOutcome } from "./storage/storage.js";
import type { HubLimits } from "./limits.js";

/** msgpack of `{}`: the aggregate of a channel nobody published to, and the "nothing changed" diff. */
export const EMPTY_DOC: Uint8Array = new Uint8Array([0x80]);

/** Routing keys are `${agentId}/${channel}`; the router takes at most 255 bytes. */
export const MAX_KEY_BYTES = 255;

export class Channel {
  /** Row id in storage. */
  readonly id: number;
  readonly agentId: string;
  readonly name: string;
  readonly key: string;
  readonly slot: number;
  /** Interned id in the core router (fast matching). */
  readonly routeId: number;
  /** Hub version: +1 per effective change, persisted. 0 = never published to. */
  version: number;
  messageCount: number;
  /** Changed in this tick: its aggregate is written at flush. */
  dirty = false;
  private aggregatePrefix: Uint8Array | undefined;
  private messagePrefix: Uint8Array | undefined;

  constructor(id: number, agentId: string, name: string, slot: number, routeId: number, version: number, messageCount: number) {
    this.id = id;
    this.agentId = agentId;
    this.name = name;
    this.key = `${agentId}/${name}`;
    this.slot = slot;
    this.routeId = routeId;
    this.version = version;
    this.messageCount = messageCount;
  }

  /** Constant head of this channel's aggregate events (built on first use). */
  get aggregateEventPrefix(): Uint8Array {
    return (this.aggregatePrefix ??= eventPrefix(19, this.agentId, this.name));
  }

  get messageEventPrefix(): Uint8Array {
    return (this.messagePrefix ??= eventPrefix(20, this.agentId, this.name));
  }
}

/** Where queued frames go: a WebSocket connection (see connection.ts). */
export interface Outlet {
  readonly id: number;
  /** Queues one encoded frame for the next flush. */
  enqueue(frame: Uint8Array): void;
  /** Writes what is queued (called by the hub's flush, after the commit). */
  flush(): void;
}

export interface PublishInput {
  log?: boolean;
  replace?: boolean;
  replaceKeys?: string[];
  messageId?: string;
}

export interface MessageOut {
  id: string;
  ts: number;
  data: Uint8Array;
}

export type PublishOutcome = WriteOutcome;

export interface RetentionOptions {
  /** Keep at most this many messages per channel (0 = no limit). Default 10,000. */
  maxMessagesPerChannel: number;
  /** Drop messages older than this (0 = keep forever). Default 30 days. */
  maxMessageAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionOptions = {
  maxMessagesPerChannel: 10_000,
  maxMessageAgeMs: 30 * 24 * 3600 * 1000,
};

const MAX_MESSAGE_ID = 128;
/** As the core pipeline reads them (assembly/pipeline.ts). */
const MAX_REPLACE_KEYS = 64;

function isMapHeader(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf);
}

export class HubState {
  readonly core: Core;
  readonly store: ChannelStore;
  readonly router: Router;
  readonly storage: Storage;
  readonly limits: HubLimits;
  readonly retention: RetentionOptions;
  /** Publish batches in one core call (see `ingestPublishes`). */
  readonly pipeline: Pipeline;
  private readonly channels = new Map<string, Channel>();
  /** Channels by core store slot (the pipeline reports slots). */
  private readonly bySlot: (Channel | undefined)[] = [];
  private readonly byAgent = new Map<string, Map<string, Channel>>();
  private readonly outlets = new Map<number, Outlet>();
  private pending: Outlet[] = [];
  private readonly pendingSet = new Set<Outlet>();
  private dirty: Channel[] = [];
  private afterCommit: ((error?: Error) => void)[] = [];
  private flushScheduled = false;
  private readonly idPrefix: string;
  private idCounter = 0;
  /** Set when storage failed: the hub stops accepting work (fail-stop, see `fail`). */
  failed: Error | undefined;
  private closed = false;
  onFatal: ((error: Error) => void) | undefined;

  constructor(core: Core, storage: Storage, limits: HubLimits, retention: RetentionOptions) {
    this.core = core;
    this.storage = storage;
    this.limits = limits;
    this.retention = retention;
    this.store = core.createChannelStore({ maxPayloadBytes: limits.maxPayloadBytes, maxDepth: limits.maxDepth });
    this.router = core.createRouter();
    this.pipeline = core.createPipeline(this.store, this.router);
    this.idPrefix = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");
  }

  /** A hub state over `storage`, with every stored channel loaded into the core. */
  static async open(core: Core, storage: Storage, limits: HubLimits, retention: RetentionOptions): Promise<HubState> {
    const state = new HubState(core, storage, limits, retention);
    await storage.open({ restore: (row) => state.restore(row), apply: (write) => state.applyWrite(write) });
    return state;
  }

  /** Puts a stored channel back into the core (aggregate replaced in, version from storage). */
  private restore(row: StoredChannel): void {
    const slot = this.store.open(`${row.agent}/${row.name}`);
    if (row.aggregate) this.store.apply(slot, row.aggregate, { replace: true, doDelete: true });
    const ch = new Channel(row.id, row.agent, row.name, slot, this.router.channelId(`${row.agent}/${row.name}`), row.version, row.messageCount);
    this.remember(ch);
  }

  /** Applies a write handed back by storage (see hub/storage/storage.ts). */
  private applyWrite(w: Write): WriteOutcome {
    if (w.kind === "message") {
      const message = this.createMessage(w.agentId, w.channel, w.data, w.messageId);
      return { version: this.channel(w.agentId, w.channel)?.version ?? 0, diff: EMPTY_DOC, message };
    }
    return this.publish(w.agentId, w.channel, w.diff, { log: w.log, replace: w.replace, replaceKeys: w.replaceKeys, messageId: w.messageId });
  }

  private remember(ch: Channel): void {
    this.channels.set(ch.key, ch);
    this.bySlot[ch.slot] = ch;
    let names = this.byAgent.get(ch.agentId);
    if (!names) this.byAgent.set(ch.agentId, (names = new Map()));
    names.set(ch.name, ch);
  }

  get channelCount(): number {
    return this.channels.size;
  }

  // -------------------------------------------------------------------------------------------
  // Outlets and the tick

  addOutlet(outlet: Outlet): void {
    this.outlets.set(outlet.id, outlet);
  }

  removeOutlet(outlet: Outlet): void {
    this.outlets.delete(outlet.id);
  }

  /** Marks an outlet as having queued frames; the flush writes it. */
  markPending(outlet: Outlet): void {
    if (this.pendingSet.has(outlet)) return;
    this.pendingSet.add(outlet);
    this.pending.push(outlet);
    this.scheduleFlush();
  }

  /** Runs `fn` after this tick's commit (with the error when the commit failed). */
  whenCommitted(fn: (error?: Error) => void): void {
    this.afterCommit.push(fn);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /** Commits the tick's writes, then writes every socket that has frames queued. */
  readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.failed || this.closed) return;
    let error: Error | undefined;
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
        error = err as Error;
      }
    }
    if (error) {
      this.fail(error);
      return;
    }
    const callbacks = this.afterCommit;
    this.afterCommit = [];
    for (const fn of callbacks) fn();
    const pending = this.pending;
    this.pending = [];
    this.pendingSet.clear();
    this.lastBatch = undefined;
    for (const outlet of pending) outlet.flush();
    this.lastBatch = undefined;
  };

  /**
   * Storage refused a commit: what this tick applied in memory is not durable, and its acks must
   * not go out. Fail-stop: drop the queued frames, answer HTTP callbacks with the error and hand
   * the error to `onFatal` (the server closes every connection; a restart reloads the last
   * committed state, which is exactly what was acknowledged).
   */
  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    try {
      this.storage.rollback();
    } catch {
      // the connection may be unusable; the restart recovers from the WAL
    }
    const callbacks = this.afterCommit;
    this.afterCommit = [];
    for (const fn of callbacks) fn(error);
    this.pending = [];
    this.pendingSet.clear();
    this.onFatal?.(error);
  }

  private lastBatch: { frames: Uint8Array[]; bytes: Uint8Array } | undefined;

  /**
   * The batch bytes for `frames`. Consecutive outlets in one flush very often hold exactly the
   * same frames (a broadcast): comparing the frame references is far cheaper than joining again,
   * so the previous batch is reused when they match.
   */
  joinCached(frames: Uint8Array[]): Uint8Array {
    const last = this.lastBatch;
    if (last && last.frames.length === frames.length) {
      let same = true;
      for (let i = 0; i < frames.length; i++) {
        if (last.frames[i] !== frames[i]) {
          same = false;
          break;
        }
      }
      if (same) return last.bytes;
    }
    const bytes = joinFrames(frames);
    this.lastBatch = { frames, bytes };
    return bytes;
  }

  // -------------------------------------------------------------------------------------------
  // Channels

  /** Throws TAGWIRE_ERR_NAME unless agentId/channel make a valid routing key. */
  checkAddress(agentId: string, channel: string): void {
    // Every known channel was checked when it was created. (An agent id never holds "/", so the
    // key splits one way only.)
    if (agentId.indexOf("/") === -1 && this.channels.has(`${agentId}/${channel}`)) return;
    assertAgentId(agentId);
    assertChannelName(channel);
    if (agentId.length + 1 + channel.length > MAX_KEY_BYTES) {
      throw new TagwireError("TAGWIRE_ERR_NAME", `routing key ${agentId}/${channel} is longer than ${MAX_KEY_BYTES} bytes`);
    }
  }

  channel(agentId: string, name: string): Channel | undefined {
    return this.channels.get(`${agentId}/${name}`);
  }

  /** Channel names of an agent, sorted. */
  channelNames(agentId: string): string[] {
    const names = this.byAgent.get(agentId);
    return names ? [...names.keys()].sort() : [];
  }

  /** Existing channels whose routing key matches `pattern` (`agent/pattern`, "+" allowed first). */
  matching(agentId: string, pattern: string): Channel[] {
    const routePattern = `${agentId}/${pattern}`;
    const out: Channel[] = [];
    const scan = (names: Map<string, Channel>) => {
      for (const ch of names.values()) if (matchPattern(routePattern, ch.key)) out.push(ch);
    };
    if (agentId === "+") for (const names of this.byAgent.values()) scan(names);
    else {
      const names = this.byAgent.get(agentId);
      if (names) scan(names);
    }
    return out;
  }

  /** The aggregate bytes (a fresh copy) and version of a channel; `{}` and 0 when it has none. */
  aggregate(agentId: string, name: string): { version: number; aggregate: Uint8Array } {
    const ch = this.channel(agentId, name);
    if (!ch || ch.version === 0) return { version: 0, aggregate: EMPTY_DOC };
    return { version: ch.version, aggregate: this.store.get(ch.slot) };
  }

  aggregateOf(ch: Channel): Uint8Array {
    return ch.version === 0 ? EMPTY_DOC : this.store.get(ch.slot);
  }

  /** Messages with after < ts < before, newest `limit`, oldest first. */
  messages(agentId: string, name: string, before: number | undefined, after: number | undefined, limit: number): StoredMessage[] | Promise<StoredMessage[]> {
    const ch = this.channel(agentId, name);
    if (!ch) return [];
    return this.storage.messages(ch.id, before ?? Number.MAX_SAFE_INTEGER, after ?? -1, limit);
  }

  /** The channel, created (core slot and storage row in the open transaction) if new. */
  private ensure(agentId: string, name: string): { ch: Channel; created: boolean } {
    const key = `${agentId}/${name}`;
    const existing = this.channels.get(key);
    if (existing) return { ch: existing, created: false };
    const slot = this.store.open(key);
    const routeId = this.router.channelId(key);
    const id = this.write(() => this.storage.createChannel(agentId, name, Date.now()));
    const ch = new Channel(id, agentId, name, slot, routeId, 0, 0);
    this.remember(ch);
    return { ch, created: true };
  }

  private newMessageId(ts: number): string {
    return `${ts.toString(36)}-${this.idPrefix}${(this.idCounter++).toString(36)}`;
  }

  private checkMessageId(id: string | undefined): void {
    if (id === undefined) return;
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_MESSAGE_ID || /[\x00-\x1f\x7f]/.test(id)) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `messageId must be 1..${MAX_MESSAGE_ID} printable characters`);
    }
  }

  /**
   * A message already stored under `id` in this channel. Rows inserted earlier in this tick are
   * found too: the open transaction belongs to the same SQLite connection.
   */
  private storedMessage(ch: Channel, id: string): StoredMessage | undefined {
    return this.storage.findMessage(ch.id, id);
  }

  private failIfDown(): void {
    if (this.failed) throw new TagwireError("TAGWIRE_ERR_CLOSED", `hub storage failed: ${this.failed.message}`);
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", "hub is shutting down");
  }

  /**
   * Runs a storage write. Every check that can refuse a write happens before one, so a failure
   * here is the disk or the database itself; the core already holds this tick's changes and
   * storage does not, so the only consistent answer is to stop (see `fail`).
   */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.fail(err as Error);
      throw new TagwireError("TAGWIRE_ERR_CLOSED", `hub storage failed: ${(err as Error).message}`);
    }
  }

  /** Commits what is pending and refuses further work (the server closes sockets meanwhile). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /**
   * Merges (or replaces) `diff` into a channel's aggregate, logs it with `log`, fans the
   * effective diff out. Validation comes first and a refused write changes nothing: not the
   * aggregate, not storage, not the channel list.
   */
  publish(agentId: string, name: string, diff: Uint8Array, options: PublishInput = {}): PublishOutcome {
    this.failIfDown();
    this.checkAddress(agentId, name);
    this.checkMessageId(options.messageId);
    if (diff.length > this.limits.maxPayloadBytes) {
      throw new TagwireError("TAGWIRE_ERR_SIZE", `diff of ${diff.length} bytes (limit ${this.limits.maxPayloadBytes})`);
    }
    const keys = options.replaceKeys;
    if (keys && (keys.length > MAX_REPLACE_KEYS || keys.some((k) => Buffer.byteLength(k) > 255))) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `replaceKeys: at most ${MAX_REPLACE_KEYS} keys of at most 255 bytes`);
    }
    if (!isMapHeader(diff[0])) {
      throw new TagwireError("TAGWIRE_ERR_PAYLOAD", options.replace ? "an aggregate must be a map" : "a diff must be a map");
    }
    const existing = this.channel(agentId, name);
    // The id of a publish without a log, claimed in storage before the core applies the diff.
    let claimed: string | undefined;
    if (existing && options.messageId !== undefined) {
      if (options.log) {
        const seen = this.storedMessage(existing, options.messageId);
        if (seen) return { version: existing.version, diff: EMPTY_DOC, message: { id: seen.id, ts: seen.ts, data: seen.data } };
      } else {
        const id = options.messageId;
        const chId = existing.id;
        this.scheduleFlush();
        if (!this.write(() => this.storage.claimWriteId(chId, id, Date.now()))) {
          // A replay (an outbox resend after a lost ack): applying the diff again could undo a
          // change another writer made in between, so it is acknowledged and ignored.
          return { version: existing.version, diff: EMPTY_DOC, message: undefined };
        }
        claimed = id;
      }
    }
    // Apply in the core before touching storage: a diff the core refuses (malformed, too deep)
    // must leave no channel row behind (and no claimed id: a corrected resend must apply).
    const key = `${agentId}/${name}`;
    const fresh = !existing;
    const slot = existing ? existing.slot : this.store.open(key);
    let result: { version: number; diff: Uint8Array; changed: boolean };
    try {
      result = this.store.apply(slot, diff, { replace: options.replace, replaceKeys: options.replaceKeys, doDelete: true });
    } catch (err) {
      if (fresh) this.store.remove(key);
      if (claimed !== undefined) {
        const chId = existing!.id;
        this.write(() => this.storage.releaseWriteId(chId, claimed!));
      }
      throw err;
    }
    const effective = result.changed ? result.diff : EMPTY_DOC;
    let ch = existing;
    if (!ch) {
      const routeId = this.router.channelId(key);
      const id = this.write(() => this.storage.createChannel(agentId, name, Date.now()));
      ch = new Channel(id, agentId, name, slot, routeId, 0, 0);
      this.remember(ch);
    }
    if (result.changed) {
      this.bumpVersion(ch);
      this.scheduleFlush();
      this.fanOut(ch, encodeAggregateEvent(ch.aggregateEventPrefix, ch.version, effective));
    }
    let message: MessageOut | undefined;
    if (options.log) message = this.appendMessage(ch, diff.slice(), options.messageId);
    else if (options.messageId !== undefined && claimed === undefined) {
      const id = options.messageId;
      const chId = ch.id;
      this.write(() => this.storage.claimWriteId(chId, id, Date.now()));
      this.scheduleFlush();
    }
    return { version: ch.version, diff: effective, message };
  }

  /** Appends `data` to a channel's log (idempotent with `messageId`). */
  createMessage(agentId: string, name: string, data: Uint8Array, messageId?: string): MessageOut {
    this.failIfDown();
    this.checkAddress(agentId, name);
    this.checkMessageId(messageId);
    checkDocumentBytes(data, this.limits);
    // A repeated messageId is found by the insert itself (see appendMessage): no look-up first.
    const { ch } = this.ensure(agentId, name);
    return this.appendMessage(ch, data.slice(), messageId);
  }

  /**
   * Stores and fans out a message; with a `messageId` the channel already holds (a replay), the
   * stored message is returned instead and nothing is written or sent.
   */
  private appendMessage(ch: Channel, data: Uint8Array, messageId: string | undefined): MessageOut {
    const ts = Date.now();
    const id = messageId ?? this.newMessageId(ts);
    let inserted: boolean;
    try {
      inserted = this.storage.appendMessage(ch.id, id, ts, data);
    } catch (err) {
      this.fail(err as Error);
      throw new TagwireError("TAGWIRE_ERR_CLOSED", `hub storage failed: ${(err as Error).message}`);
    }
    this.scheduleFlush();
    if (!inserted) {
      const seen = this.storedMessage(ch, id)!;
      return { id: seen.id, ts: seen.ts, data: seen.data };
    }
    ch.messageCount++;
    const max = this.retention.maxMessagesPerChannel;
    // Trim in steps (10% slack) so a busy channel is not trimmed on every message.
    if (max > 0 && ch.messageCount > max + Math.max(1, max >>> 3)) {
      ch.messageCount -= this.write(() => this.storage.trimMessages(ch.id, max));
    }
    this.fanOut(ch, encodeMessageEvent(ch.messageEventPrefix, id, ts, data));
    return { id, ts, data };
  }

  /** Drops messages past the age limit (called on a timer; committed with the next flush). */
  expireMessages(now = Date.now()): number {
    if (this.failed || this.retention.maxMessageAgeMs <= 0) return 0;
    const removed = this.write(() => this.storage.expireMessages(now - this.retention.maxMessageAgeMs));
    let total = 0;
    for (const ch of this.channels.values()) {
      const n = removed.get(ch.id);
      if (n) {
        ch.messageCount -= n;
        total += n;
      }
    }
    this.scheduleFlush();
    return total;
  }

  /**
   * The hot path: a batch of plain publishes (`isPlainPublishBatch`) merged, routed and listed for
   * fan-out by the core in one call; here only the hub's bookkeeping per frame (version, storage
   * row for a new channel, event frame spliced from the core's diff bytes, ack). Same outcome,
   * frame for frame, as `publish`. `writer` restricts writes to one agent's channels (a device).
   */
  ingestPublishes(replyTo: Outlet & { error(reqId: number, code: ProtocolErrorCode, message: string): void }, batch: Uint8Array, writer: string | undefined): void {
    this.failIfDown();
    const res = this.pipeline.ingest(batch, writer === undefined ? {} : { writerAgentId: writer });
    let scheduled = false;
    for (let i = 0; i < res.count; i++) {
      const reqId = res.reqId(i);
      const error = res.error(i);
      if (error) {
        replyTo.error(reqId, error.code, error.message);
        continue;
      }
      const slot = res.slot(i);
      let ch = this.bySlot[slot];
      if (!ch) {
        // First write to this channel: its names come from the frame (decoded once, not per write).
        const f = decodeValue(res.frame(i)) as [number, number, string, string];
        const id = this.write(() => this.storage.createChannel(f[2], f[3], Date.now()));
        ch = new Channel(id, f[2], f[3], slot, res.channelId(i), 0, 0);
        this.remember(ch);
      }
      let diff: Uint8Array = EMPTY_DOC;
      if (res.changed(i)) {
        this.bumpVersion(ch);
        if (!scheduled) {
          this.scheduleFlush();
          scheduled = true;
        }
        diff = res.diff(i);
        const event = encodeAggregateEvent(ch.aggregateEventPrefix, ch.version, diff);
        if (reqId !== 0) diff = event.subarray(event.length - diff.length);
        // The core already routed this frame: its subscriber ids are read in place.
        const start = res.fanoutStart(i);
        this.enqueueTo(res.words, start, start + res.fanoutCount(i), event);
      }
      if (reqId !== 0) replyTo.enqueue(encodePublishAck(reqId, ch.version, diff));
    }
  }

  /** A real change: the version rises and the aggregate is written at the next commit. */
  private bumpVersion(ch: Channel): void {
    ch.version++;
    if (!ch.dirty) {
      ch.dirty = true;
      this.dirty.push(ch);
    }
  }

  /** Queues an event frame for every connection subscribed to the channel (once per connection). */
  private fanOut(ch: Channel, frame: Uint8Array): void {
    const ids = this.router.matchId(ch.routeId);
    this.enqueueTo(ids, 0, ids.length, frame);
  }

  /**
   * Queues `frame` for the connections whose ids are `ids[from..to)`. The ids live in core
   * memory: they are read fully before the next core call (enqueue makes none).
   */
  private enqueueTo(ids: Uint32Array, from: number, to: number, frame: Uint8Array): void {
    for (let i = from; i < to; i++) this.outlets.get(ids[i]!)?.enqueue(frame);
  }
}

function checkDocumentBytes(bytes: Uint8Array, limits: HubLimits): void {
  checkDocument(bytes, limits.maxDepth, limits.maxPayloadBytes);
}
