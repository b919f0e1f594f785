// The remote Session: the SDK's Session contract (bindings/sdk/session.ts) spoken to a hub over
// any Transport, with the wire format of docs/PROTOCOL.md (bindings/protocol/frames.ts).
//
// Lifecycle: a transport factory builds one transport per attempt. On open the session sends
// `hello` plus one `subscribe` per live subscription (with the versions it holds, so the hub
// syncs only what changed), then drains the offline outbox, then goes direct. When the transport
// closes, it retries with exponential backoff and jitter (backoff.ts), forever, until close().
//
// Writes (publish, createMessage) resolve once they are safe: acknowledged by the hub when
// online, or kept in the outbox when not (`queued: true`, version -1). Every write carries a
// client id (`messageId`), so the outbox replays idempotently. While the outbox holds anything,
// new writes queue behind it, so the hub applies writes in the order they were made.
//
// Reads wait for a connection (up to `requestTimeoutMs`); a read in flight when the connection
// drops is sent again on the next one.
//
// Subscriptions keep a per-channel cache {version, aggregate}: each `aggregate` event must be
// exactly version + 1, else an update was missed; the session then re-reads the aggregate and
// emits `resynced`. After a reconnect, the hub's `sync` for a channel whose version moved is
// delivered as `resynced` too, and messages logged meanwhile on cached channels are fetched
// and delivered (bounded: the newest 1000 per channel).
//
// Event payloads: aggregates come from that cache, deep-frozen and shared by every listener
// (as LocalBus does); message data is decoded once per listener, so it is the listener's own.

import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import {
  FrameType,
  LIMITS,
  PROTOCOL_VERSION,
  decodeBatch,
  encodeFrame,
  joinFrames,
  toFrame,
  type ClientFrame,
  type Frame,
  type HelloResult,
} from "../protocol/frames.js";
import { decodeValue, encodeValue } from "../protocol/msgpack.js";
import { defaultErrorHandler, report, type ErrorHandler } from "../sdk/errors.js";
import { applyDiff, deepFreeze } from "../sdk/json.js";
import { assertAgentId, assertChannelName, assertChannelPattern, matchPattern } from "../sdk/names.js";
import type {
  ChannelEvent,
  Json,
  Message,
  MessageQuery,
  PublishOptions,
  PublishResult,
  Session,
  Unsubscribe,
} from "../sdk/session.js";
import type { Transport, TransportStateChange } from "../transports/contract.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { MemoryOutbox, type Outbox, type OutboxEntry, type OutboxWrite } from "./outbox.js";
import { randomId } from "../protocol/ids.js";

export type RemoteSessionState = "connecting" | "online" | "offline" | "closed";

export interface RemotePublishResult extends PublishResult {
  /** True when the write was kept in the outbox (offline); `version` is then -1. */
  queued?: boolean;
}

export interface RemoteSessionOptions {
  agentId: string;
  token?: string;
  /** Builds the transport for one connection attempt. */
  transport: () => Transport;
  /** Where offline writes wait (default: in memory, for the life of the session). */
  outbox?: Outbox;
  backoff?: BackoffOptions;
  /** Reads wait this long for a connection and a reply (default 10 s). */
  requestTimeoutMs?: number;
  /** A connection whose hello is not answered in this time is dropped and retried (default 10 s). */
  helloTimeoutMs?: number;
  /** Liveness probe while online (default 15 s; 0 disables). */
  pingIntervalMs?: number;
  /** A ping unanswered for this long drops the connection (default 10 s). */
  pingTimeoutMs?: number;
  /** Messages fetched per channel to fill a gap after a reconnect (default 1000; 0 disables). */
  catchUpMessages?: number;
  /** Background failures: refused outbox entries, listener exceptions (default console.error). */
  onError?: ErrorHandler;
  /** Prefix of generated write ids (default: random). */
  clientId?: string;
}

interface Route {
  key: string;
  agentId: string;
  channel: string;
  /** Active subscriptions matching this channel. */
  subs: Sub[];
  cached: Cached | undefined;
}

interface Sub {
  id: number;
  agentId: string;
  pattern: string;
  listener: (event: ChannelEvent) => void;
  active: boolean;
  /** Subscribed on an earlier connection: its syncs on a new one are `resynced`. */
  everAcked: boolean;
}

interface Cached {
  agentId: string;
  channel: string;
  version: number;
  aggregate: Json;
  /** Events held while the aggregate is being re-read after a gap. */
  held?: Frame[];
  /** Newest message ts seen, and the ids seen at that ts (to drop duplicates on catch-up). */
  lastTs?: number;
  idsAtLastTs?: string[];
  /** Message events held while missed messages are fetched. */
  heldMessages?: Frame[];
}

type PendingKind = "hello" | "subscribe" | "unsubscribe" | "write" | "read" | "ping";

interface Pending {
  kind: PendingKind;
  frame: ClientFrame;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  /** For writes sent from the outbox. */
  seq?: number;
  /** For direct writes: what to keep in the outbox if the connection drops. */
  write?: OutboxWrite;
  /** Connection generation the frame was sent on. */
  gen: number;
}

const EMPTY_DIFF: Json = Object.freeze({}) as Json;
/** Outbox entries in flight at once while draining. */
const DRAIN_WINDOW = 256;

export class RemoteSession implements Session {
  readonly agentId: string;
  private readonly token: string | undefined;
  private readonly makeTransport: () => Transport;
  private readonly outbox: Outbox;
  private readonly backoff: Backoff;
  private readonly requestTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly catchUpLimit: number;
  private readonly onError: ErrorHandler;
  private readonly clientId: string;

  private stateValue: RemoteSessionState = "connecting";
  private readonly stateHandlers = new Set<(state: RemoteSessionState, detail?: TransportStateChange | Error) => void>();
  private transport: Transport | undefined;
  /** Bumped per connection attempt; frames and timers of older attempts are ignored. */
  private gen = 0;
  private online = false;
  private hello: HelloResult | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private fatal: TagwireError | undefined;

  private nextReqId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Reads waiting for a connection. */
  private readonly waitingReads: Pending[] = [];
  private writeSeq = 0;

  private nextSubId = 1;
  private readonly subs = new Map<number, Sub>();
  private readonly cache = new Map<string, Cached>();
  /** agentId -> channel -> route: matching subscriptions and cache entry (no string building per event). */
  private routes = new Map<string, Map<string, Route>>();
  private routeCount = 0;
  private lastHubTs = 0;

  /** Outbox entries sent and not yet acknowledged (by seq). */
  private readonly drainInFlight = new Set<number>();
  private draining = false;

  private outgoing: Uint8Array[] = [];
  private flushQueued = false;
  private tokens: number = LIMITS.framesPerSecond;
  private tokensAt = 0;
  private rateTimer: ReturnType<typeof setTimeout> | undefined;

  private firstOnline: { promise: Promise<void>; resolve(): void; reject(e: Error): void };
  private closing: Promise<void> | undefined;

  constructor(options: RemoteSessionOptions) {
    assertAgentId(options.agentId);
    this.agentId = options.agentId;
    this.token = options.token;
    this.makeTransport = options.transport;
    this.outbox = options.outbox ?? new MemoryOutbox();
    this.backoff = new Backoff(options.backoff);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
    this.catchUpLimit = Math.min(options.catchUpMessages ?? 1000, LIMITS.maxMessageLimit);
    this.onError = options.onError ?? defaultErrorHandler;
    this.clientId = options.clientId ?? randomId();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that never awaits the first connection must not see an unhandled rejection.
    promise.catch(() => {});
    this.firstOnline = { promise, resolve, reject };
    this.attempt();
  }

  /** "connecting" (first attempt), "online", "offline" (retrying), "closed". */
  get state(): RemoteSessionState {
    return this.stateValue;
  }

  /** Writes kept in the outbox, waiting to be sent or acknowledged. */
  get queuedWrites(): number {
    return this.outbox.size;
  }

  /** Limits the hub reported in its hello ack (undefined before the first connection). */
  get limits(): HelloResult["limits"] | undefined {
    return this.hello?.limits;
  }

  /** Called on every state change; returns the function that removes the handler. */
  onState(handler: (state: RemoteSessionState, detail?: TransportStateChange | Error) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  /**
   * Resolves when the session is online (and its outbox drained). Rejects on a fatal refusal
   * (bad token), on close, or after `timeoutMs` (TAGWIRE_ERR_TIMEOUT) if given.
   */
  whenOnline(timeoutMs?: number): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.stateValue === "closed") return Promise.reject(new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed"));
    if (this.online && !this.draining && this.outbox.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const off = this.onState((state, detail) => {
        if (state === "online" && !this.draining && this.outbox.size === 0) done();
        else if (state === "closed") done(detail instanceof Error ? detail : new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed"));
      });
      const drained = () => {
        if (this.online && !this.draining && this.outbox.size === 0) done();
      };
      this.drainedHandlers.add(drained);
      const done = (err?: Error) => {
        off();
        this.drainedHandlers.delete(drained);
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => done(new TagwireError("TAGWIRE_ERR_TIMEOUT", `not online after ${timeoutMs} ms`)), timeoutMs);
      }
    });
  }

  private readonly drainedHandlers = new Set<() => void>();

  // ---------------------------------------------------------------------------------------------
  // Session API

  async publish(agentId: string, channel: string, data: Json, options: PublishOptions = {}): Promise<RemotePublishResult> {
    this.checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const write: OutboxWrite = { kind: "publish", id: options.messageId ?? this.newWriteId(), agentId, channel, data };
    if (options.log) write.log = true;
    if (options.replace) write.replace = true;
    if (options.replaceKeys?.length) write.replaceKeys = [...options.replaceKeys];
    const direct = this.canSendDirect();
    if (!direct) {
      this.outbox.add(write);
      this.kickDrain();
      const queued: RemotePublishResult = { version: -1, diff: data, queued: true };
      if (write.log) queued.message = localMessage(write);
      return queued;
    }
    const ack = (await this.request("write", this.writeFrame(write), write)) as
      | { version: number; diff: Uint8Array; message: { id: string; ts: number } | null }
      | QueuedMarker;
    if (ack === QUEUED) {
      const queued: RemotePublishResult = { version: -1, diff: data, queued: true };
      if (write.log) queued.message = localMessage(write);
      return queued;
    }
    const result: RemotePublishResult = { version: ack.version, diff: decodeDoc(ack.diff) };
    if (ack.message) result.message = { id: ack.message.id, agentId, channel, ts: ack.message.ts, data };
    return result;
  }

  async createMessage(agentId: string, channel: string, data: Json, options: { messageId?: string } = {}): Promise<Message> {
    this.checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const write: OutboxWrite = { kind: "message", id: options.messageId ?? this.newWriteId(), agentId, channel, data };
    if (!this.canSendDirect()) {
      this.outbox.add(write);
      this.kickDrain();
      return localMessage(write);
    }
    const ack = (await this.request("write", this.writeFrame(write), write)) as { id: string; ts: number } | QueuedMarker;
    if (ack === QUEUED) return localMessage(write);
    return { id: ack.id, agentId, channel, ts: ack.ts, data };
  }

  async getAggregate(agentId: string, channel: string): Promise<Json> {
    return (await this.readAggregate(agentId, channel)).aggregate;
  }

  /** The aggregate with its version (0 and `{}` for a channel without one). */
  async readAggregate(agentId: string, channel: string): Promise<{ version: number; aggregate: Json }> {
    this.checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const r = (await this.request("read", { type: "getAggregate", reqId: 0, agentId, channel })) as { version: number; aggregate: Uint8Array };
    return { version: r.version, aggregate: decodeDoc(r.aggregate) };
  }

  async getMessages(agentId: string, channel: string, query: MessageQuery = {}): Promise<Message[]> {
    this.checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const frame: ClientFrame = { type: "getMessages", reqId: 0, agentId, channel };
    if (query.before !== undefined) frame.before = query.before;
    if (query.after !== undefined) frame.after = query.after;
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "limit must be an integer >= 0");
      if (query.limit === 0) return [];
      frame.limit = query.limit;
    }
    const r = (await this.request("read", frame)) as { messages: { id: string; ts: number; data: Uint8Array }[] };
    return r.messages.map((m) => ({ id: m.id, agentId, channel, ts: m.ts, data: decodeDoc(m.data) }));
  }

  async listChannels(agentId: string): Promise<string[]> {
    this.checkOpen();
    assertAgentId(agentId);
    const r = (await this.request("read", { type: "listChannels", reqId: 0, agentId })) as { channels: string[] };
    return r.channels;
  }

  subscribe(agentId: string, pattern: string, listener: (event: ChannelEvent) => void): Unsubscribe {
    this.checkOpen();
    assertAgentId(agentId, true);
    assertChannelPattern(pattern);
    const sub: Sub = { id: this.nextSubId++, agentId, pattern, listener, active: true, everAcked: false };
    this.subs.set(sub.id, sub);
    this.clearRoutes();
    if (this.online) this.sendSubscribe(sub, false);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      this.subs.delete(sub.id);
      this.clearRoutes();
      this.pruneCache();
      if (this.online) this.request("unsubscribe", { type: "unsubscribe", reqId: 0, subId: sub.id }).catch(() => {});
    };
  }

  /**
   * Stops reconnecting and closes the connection. Writes still unacknowledged stay in the
   * outbox (a durable one sends them next time); waits up to `graceMs` for their acks first.
   */
  close(graceMs = 5_000): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  private attempt(): void {
    if (this.stateValue === "closed") return;
    const gen = ++this.gen;
    let transport: Transport;
    try {
      transport = this.makeTransport();
    } catch (err) {
      this.scheduleReconnect(err as Error);
      return;
    }
    this.transport = transport;
    transport.onFrame((bytes) => {
      if (gen === this.gen) this.receive(bytes);
    });
    transport.onState((change) => {
      if (gen !== this.gen) return;
      if (change.state === "open") this.opened(gen);
      else if (change.state === "closed") this.lost(change);
    });
  }

  private opened(gen: number): void {
    this.tokens = LIMITS.framesPerSecond;
    this.tokensAt = now();
    const hello: ClientFrame = { type: "hello", reqId: 0, protocol: PROTOCOL_VERSION, agentId: this.agentId };
    if (this.token !== undefined) hello.token = this.token;
    this.request("hello", hello).then(
      (result) => {
        if (gen !== this.gen) return;
        this.hello = result as HelloResult;
        this.tokens = this.hello.limits.framesPerSecond;
        this.helloAcked(gen);
      },
      (err: TagwireError) => {
        if (gen !== this.gen) return;
        if (err.code === "TAGWIRE_ERR_AUTH" || err.code === "TAGWIRE_ERR_PROTOCOL" || err.code === "TAGWIRE_ERR_FORBIDDEN") {
          this.fail(err);
        } else {
          this.transport?.close(`hello failed: ${err.message}`);
        }
      },
    );
    // Resubscribe in the same batch as the hello (the protocol allows it).
    for (const sub of this.subs.values()) this.sendSubscribe(sub, true);
    const timer = setTimeout(() => {
      if (gen === this.gen && !this.online) this.transport?.close(`no hello reply in ${this.helloTimeoutMs} ms`);
    }, this.helloTimeoutMs);
    (timer as { unref?: () => void }).unref?.();
  }

  private helloAcked(gen: number): void {
    this.online = true;
    this.backoff.reset();
    this.setState("online");
    if (this.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(gen), this.pingIntervalMs);
      (this.pingTimer as { unref?: () => void }).unref?.();
    }
    for (const p of this.waitingReads.splice(0)) this.sendPending(p);
    this.firstOnline.resolve();
    this.kickDrain();
  }

  private ping(gen: number): void {
    if (gen !== this.gen || !this.online) return;
    const timer = setTimeout(() => {
      if (gen === this.gen) this.transport?.close(`ping unanswered for ${this.pingTimeoutMs} ms`);
    }, this.pingTimeoutMs);
    this.request("ping", { type: "ping", reqId: 0 }).then(
      (r) => {
        clearTimeout(timer);
        this.lastHubTs = Math.max(this.lastHubTs, (r as { ts: number }).ts);
      },
      () => clearTimeout(timer),
    );
  }

  private lost(change: TransportStateChange): void {
    this.online = false;
    this.transport = undefined;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.outgoing = [];
    this.draining = false;
    this.drainInFlight.clear();
    // Requests of the dead connection: reads wait for the next one, direct writes go to the
    // outbox (they may or may not have been applied; their ids make the replay safe), the rest
    // end with the connection.
    const inDoubt: Pending[] = [];
    for (const [reqId, p] of this.pending) {
      this.pending.delete(reqId);
      if (p.kind === "read") this.waitingReads.push(p);
      else if (p.kind === "write" && p.write) inDoubt.push(p);
      else if (p.kind === "write") {
        // An outbox entry: it stays in the outbox, marked attempted; nothing to do.
      } else p.reject(new TagwireError("TAGWIRE_ERR_CLOSED", `connection lost: ${change.reason}`));
    }
    for (const p of inDoubt) {
      this.outbox.add(p.write!, true);
      p.resolve(QUEUED);
    }
    if (this.stateValue === "closed") return;
    if (this.fatal) return;
    this.setState("offline", change);
    this.scheduleReconnect(change.error);
  }

  private scheduleReconnect(_error?: Error): void {
    if (this.stateValue === "closed" || this.fatal) return;
    if (this.stateValue !== "offline") this.setState("offline");
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.attempt();
    }, delay);
  }

  /** A refusal no retry can fix (bad token): stop and fail everything waiting. */
  private fail(err: TagwireError): void {
    this.fatal = err;
    this.transport?.close(err.message);
    this.firstOnline.reject(err);
    for (const p of this.waitingReads.splice(0)) p.reject(err);
    for (const [reqId, p] of this.pending) {
      this.pending.delete(reqId);
      p.reject(err);
    }
    report(this.onError, err, "connecting to the hub");
    this.setState("offline", err);
  }

  private async shutdown(graceMs: number): Promise<void> {
    const waiting = [...this.pending.values()].filter((p) => p.kind === "write");
    if (this.online && (waiting.length > 0 || this.drainInFlight.size > 0) && graceMs > 0) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && this.online && (hasWrites(this.pending) || this.drainInFlight.size > 0 || this.outbox.size > 0)) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    const t = this.transport;
    // Moves in-doubt writes to the outbox and ends the rest, as for a lost connection.
    this.gen++;
    this.setState("closed");
    this.lost({ state: "closed", reason: "session closed", local: true });
    t?.close("session closed");
    const closedErr = new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed");
    for (const p of this.waitingReads.splice(0)) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(closedErr);
    }
    this.firstOnline.reject(closedErr);
    for (const sub of this.subs.values()) sub.active = false;
    this.subs.clear();
    this.cache.clear();
    this.outbox.close();
  }

  private setState(state: RemoteSessionState, detail?: TransportStateChange | Error): void {
    if (this.stateValue === "closed" && state !== "closed") return;
    const changed = this.stateValue !== state;
    this.stateValue = state;
    if (!changed && state !== "online") return;
    for (const h of [...this.stateHandlers]) {
      try {
        h(state, detail);
      } catch (err) {
        report(this.onError, err, "session state handler");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests and the send path

  private request(kind: PendingKind, frame: ClientFrame, write?: OutboxWrite, seq?: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const p: Pending = { kind, frame, resolve, reject, gen: this.gen };
      if (write) p.write = write;
      if (seq !== undefined) p.seq = seq;
      if (kind === "read") {
        p.timer = setTimeout(() => {
          for (const [id, q] of this.pending) if (q === p) this.pending.delete(id);
          const i = this.waitingReads.indexOf(p);
          if (i >= 0) this.waitingReads.splice(i, 1);
          reject(new TagwireError("TAGWIRE_ERR_TIMEOUT", `no reply to ${frame.type} in ${this.requestTimeoutMs} ms`));
        }, this.requestTimeoutMs);
        if (!this.online) {
          this.waitingReads.push(p);
          return;
        }
      }
      this.sendPending(p);
    });
  }

  private sendPending(p: Pending): void {
    const reqId = this.nextReqId;
    this.nextReqId = reqId >= 0xfffffffe ? 1 : reqId + 1;
    (p.frame as { reqId: number }).reqId = reqId;
    p.gen = this.gen;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(p.frame);
    } catch (err) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new TagwireError("TAGWIRE_ERR_PAYLOAD", `cannot encode ${p.frame.type}: ${(err as Error).message}`));
      return;
    }
    const max = this.hello?.limits.maxMessageBytes ?? LIMITS.maxMessageBytes;
    if (bytes.length + 5 > max) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new TagwireError("TAGWIRE_ERR_SIZE", `${p.frame.type} frame of ${bytes.length} bytes exceeds the hub's ${max}`));
      return;
    }
    this.pending.set(reqId, p);
    this.enqueue(bytes);
  }

  private writeFrame(w: OutboxWrite): ClientFrame {
    if (w.kind === "message") {
      return { type: "createMessage", reqId: 0, agentId: w.agentId, channel: w.channel, data: encodeValue(w.data), messageId: w.id };
    }
    const f: ClientFrame = { type: "publish", reqId: 0, agentId: w.agentId, channel: w.channel, diff: encodeValue(w.data), messageId: w.id };
    if (w.log) f.log = true;
    if (w.replace) f.replace = true;
    if (w.replaceKeys?.length) f.replaceKeys = w.replaceKeys;
    return f;
  }

  private enqueue(bytes: Uint8Array): void {
    this.outgoing.push(bytes);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Frames made in one synchronous run leave as one batch; a lone frame leaves at once.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const t = this.transport;
    if (!t || t.state !== "open" || this.outgoing.length === 0) return;
    // Stay inside the hub's frame budget, so no frame is refused with TAGWIRE_ERR_RATE.
    const rate = this.hello?.limits.framesPerSecond ?? LIMITS.framesPerSecond;
    const at = now();
    this.tokens = Math.min(rate, this.tokens + ((at - this.tokensAt) * rate) / 1000);
    this.tokensAt = at;
    let allowed = Math.min(this.outgoing.length, Math.floor(this.tokens));
    if (allowed === 0) {
      if (!this.rateTimer) {
        this.rateTimer = setTimeout(() => {
          this.rateTimer = undefined;
          this.flush();
        }, Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate)));
      }
      return;
    }
    const maxBytes = this.hello?.limits.maxMessageBytes ?? LIMITS.maxMessageBytes;
    const frames = this.outgoing;
    let i = 0;
    while (i < allowed) {
      let n = 0;
      let bytes = 5;
      while (i + n < allowed && n < LIMITS.maxFramesPerBatch && bytes + frames[i + n]!.length <= maxBytes) {
        bytes += frames[i + n]!.length;
        n++;
      }
      const batch = joinFrames(n === frames.length ? frames : frames.slice(i, i + n));
      try {
        t.send(batch);
      } catch {
        return; // closing: `lost` will requeue what matters
      }
      i += n;
    }
    this.tokens -= allowed;
    this.outgoing = i === frames.length ? [] : frames.slice(i);
    if (this.outgoing.length > 0) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private canSendDirect(): boolean {
    return this.online && !this.draining && this.outbox.size === 0;
  }

  private newWriteId(): string {
    return `${this.clientId}-${(this.writeSeq++).toString(36)}`;
  }

  // ---------------------------------------------------------------------------------------------
  // The outbox drain

  private kickDrain(): void {
    if (!this.online || this.outbox.size === 0) {
      if (this.online && this.outbox.size === 0 && this.draining) {
        this.draining = false;
      }
      return;
    }
    this.draining = true;
    // Refill only once half the window is acknowledged: each refill reads the outbox's head
    // (a SQLite query for a durable one), so this keeps reads to about two rows per entry.
    if (this.drainInFlight.size > DRAIN_WINDOW / 2) return;
    const room = DRAIN_WINDOW - this.drainInFlight.size;
    const batch = this.outbox.peek(DRAIN_WINDOW).filter((e) => !this.drainInFlight.has(e.seq)).slice(0, room);
    if (batch.length === 0) return;
    // Frozen before sending: from now on this entry is sent only as it is.
    this.outbox.markAttempted(batch.filter((e) => !e.attempted).map((e) => e.seq));
    const gen = this.gen;
    for (const entry of batch) {
      this.drainInFlight.add(entry.seq);
      this.request("write", this.writeFrame(entry), undefined, entry.seq).then(
        () => this.drained(gen, entry, undefined),
        (err: TagwireError) => this.drained(gen, entry, err),
      );
    }
  }

  private drained(gen: number, entry: OutboxEntry, err: TagwireError | undefined): void {
    if (gen !== this.gen) return; // that connection is gone; the entry is sent again
    this.drainInFlight.delete(entry.seq);
    if (err) {
      if (isTransient(err.code)) {
        // The hub could not take it now; drop the connection so the whole outbox replays in order.
        this.transport?.close(`outbox entry refused for now: ${err.code}`);
        return;
      }
      report(this.onError, err, `queued ${entry.kind === "message" ? "message to" : "publish to"} ${entry.agentId}/${entry.channel} refused; dropped`);
    }
    this.outbox.remove([entry.seq]);
    if (this.outbox.size === 0 && this.drainInFlight.size === 0) {
      this.draining = false;
      for (const h of [...this.drainedHandlers]) h();
      return;
    }
    this.kickDrain();
  }

  // ---------------------------------------------------------------------------------------------
  // Receiving

  private receive(bytes: Uint8Array): void {
    let raw: unknown[];
    try {
      raw = decodeBatch(bytes);
    } catch (err) {
      report(this.onError, err, "undecodable message from the hub");
      return;
    }
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i] as unknown[];
      // Fast path for the bulk of traffic, message events: the same checks as toFrame, without
      // building a frame object per event.
      if (Array.isArray(r) && r[0] === FrameType.message && r.length >= 6) {
        const [, agentId, channel, id, ts, data] = r;
        if (
          typeof agentId === "string" &&
          typeof channel === "string" &&
          typeof id === "string" &&
          typeof ts === "number" &&
          Number.isInteger(ts) &&
          ts >= 0 &&
          data instanceof Uint8Array &&
          data.length > 0
        ) {
          this.onMessage(agentId, channel, id, ts, data);
          continue;
        }
      }
      let frame: Frame;
      try {
        frame = toFrame(raw[i]);
      } catch (err) {
        report(this.onError, err, "malformed frame from the hub");
        continue;
      }
      this.dispatch(frame);
    }
  }

  private dispatch(f: Frame): void {
    switch (f.type) {
      case "ack": {
        const p = this.pending.get(f.reqId);
        if (!p) return;
        this.pending.delete(f.reqId);
        if (p.timer) clearTimeout(p.timer);
        p.resolve(f.result);
        return;
      }
      case "error": {
        const p = f.reqId === 0 ? undefined : this.pending.get(f.reqId);
        const err = new TagwireError(asCode(f.code), f.message);
        if (!p) {
          report(this.onError, err, "error from the hub");
          return;
        }
        this.pending.delete(f.reqId);
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
        return;
      }
      case "sync":
        this.onSync(f.subId, f.agentId, f.channel, f.version, f.aggregate);
        return;
      case "aggregate":
        this.onAggregate(f);
        return;
      case "message":
        this.onMessage(f.agentId, f.channel, f.id, f.ts, f.data);
        return;
      default:
        report(this.onError, new TagwireError("TAGWIRE_ERR_PROTOCOL", `unexpected ${f.type} frame from the hub`), "receiving");
    }
  }

  private sendSubscribe(sub: Sub, resubscribe: boolean): void {
    const frame: ClientFrame = { type: "subscribe", reqId: 0, subId: sub.id, agentId: sub.agentId, pattern: sub.pattern };
    if (resubscribe && sub.everAcked) {
      const known: Record<string, number> = {};
      let any = false;
      for (const [key, c] of this.cache) {
        if (subMatches(sub, c.agentId, c.channel)) {
          known[key] = c.version;
          any = true;
        }
      }
      if (any) frame.known = known;
    }
    const gen = this.gen;
    this.request("subscribe", frame).then(
      () => {
        if (gen !== this.gen || !sub.active) return;
        const wasResubscribe = sub.everAcked;
        sub.everAcked = true;
        if (wasResubscribe) this.catchUpMessages(sub, gen);
      },
      (err: TagwireError) => {
        if (gen !== this.gen || !sub.active || err.code === "TAGWIRE_ERR_CLOSED") return;
        // A refused subscription (forbidden pattern) stays registered locally but silent.
        report(this.onError, err, `subscribe ${sub.agentId}/${sub.pattern}`);
      },
    );
  }

  private onSync(subId: number, agentId: string, channel: string, version: number, doc: Uint8Array): void {
    const sub = this.subs.get(subId);
    if (!sub || !sub.active) return;
    const key = `${agentId}/${channel}`;
    let c = this.cache.get(key);
    const aggregate = version === 0 ? EMPTY_DIFF : deepFreeze(decodeDoc(doc));
    if (!c) {
      c = { agentId, channel, version, aggregate };
      this.cache.set(key, c);
    } else if (version >= c.version || c.held === undefined) {
      c.version = version;
      c.aggregate = aggregate;
    }
    const type = sub.everAcked ? "resynced" : "sync";
    this.deliver(sub, { type, agentId, channel, aggregate: c.aggregate, version: c.version });
  }

  private onAggregate(f: Extract<Frame, { type: "aggregate" }>): void {
    const route = this.route(f.agentId, f.channel);
    const subs = route.subs;
    if (subs.length === 0) return;
    // A channel first seen through this event starts from version 0, `{}`.
    const c = this.cached(route);
    if (c.held) {
      c.held.push(f);
      return;
    }
    if (f.version <= c.version) return; // already have it (a sync overtook the event)
    if (f.version !== c.version + 1) {
      this.resync(c, f);
      return;
    }
    const diff = decodeDoc(f.diff);
    c.aggregate = deepFreeze(applyDiff(c.aggregate, diff));
    c.version = f.version;
    const event: ChannelEvent = { type: "aggregate", agentId: f.agentId, channel: f.channel, aggregate: c.aggregate, diff: deepFreeze(diff), version: f.version };
    for (let i = 0; i < subs.length; i++) this.deliver(subs[i]!, event);
  }

  /** A version was skipped: re-read the aggregate, hold events until then, emit `resynced`. */
  private resync(c: Cached, first: Frame): void {
    c.held = [first];
    const gen = this.gen;
    this.readAggregate(c.agentId, c.channel).then(
      ({ version, aggregate }) => {
        const held = c.held ?? [];
        c.held = undefined;
        if (gen !== this.gen && !this.online) return;
        if (version >= c.version) {
          c.version = version;
          c.aggregate = deepFreeze(aggregate);
          const event: ChannelEvent = { type: "resynced", agentId: c.agentId, channel: c.channel, aggregate: c.aggregate, version };
          for (const sub of this.route(c.agentId, c.channel).subs) this.deliver(sub, event);
        }
        for (const f of held) this.onAggregate(f as Extract<Frame, { type: "aggregate" }>);
      },
      (err: Error) => {
        c.held = undefined;
        report(this.onError, err, `resync of ${c.agentId}/${c.channel}`);
      },
    );
  }

  private onMessage(agentId: string, channel: string, id: string, ts: number, data: Uint8Array): void {
    const route = this.route(agentId, channel);
    const subs = route.subs;
    if (subs.length === 0) return;
    const c = this.cached(route);
    if (c.heldMessages) {
      c.heldMessages.push({ type: "message", agentId, channel, id, ts, data });
      return;
    }
    this.noteMessage(c, id, ts);
    if (ts > this.lastHubTs) this.lastHubTs = ts;
    // Each listener gets its own decoded copy instead of one deep-frozen shared one: decoding
    // a small document again is cheaper than freezing it (Object.freeze costs about a
    // microsecond per small object here), and no listener can change what another one sees.
    for (let i = 0; i < subs.length; i++) {
      const message: Message = { id, agentId, channel, ts, data: decodeDoc(data) };
      this.deliver(subs[i]!, { type: "message", agentId, channel, message });
    }
  }

  private noteMessage(c: Cached, id: string, ts: number): void {
    if (c.lastTs === undefined || ts > c.lastTs) {
      c.lastTs = ts;
      if (c.idsAtLastTs && c.idsAtLastTs.length < 8) {
        c.idsAtLastTs.length = 0;
        c.idsAtLastTs.push(id);
      } else c.idsAtLastTs = [id];
    } else if (ts === c.lastTs) c.idsAtLastTs!.push(id);
  }

  /** True when message (id, ts) was already delivered on this channel (catch-up dedupe). */
  private seen(c: Cached, id: string, ts: number): boolean {
    return c.lastTs !== undefined && (ts < c.lastTs || (ts === c.lastTs && c.idsAtLastTs!.includes(id)));
  }

  /**
   * After a resubscribe: fetch messages logged while away on the channels this subscription
   * holds, deliver the ones not seen, then the live ones held meanwhile.
   */
  private catchUpMessages(sub: Sub, gen: number): void {
    if (this.catchUpLimit <= 0) return;
    const since = this.lastHubTs;
    for (const c of this.cache.values()) {
      if (!subMatches(sub, c.agentId, c.channel) || c.heldMessages) continue;
      const after = c.lastTs ?? since;
      if (after <= 0) continue;
      c.heldMessages = [];
      this.getMessages(c.agentId, c.channel, { after: after - 1, limit: this.catchUpLimit }).then(
        (messages) => this.caughtUp(c, messages, gen),
        (err: Error) => {
          this.caughtUp(c, [], gen);
          report(this.onError, err, `fetching missed messages of ${c.agentId}/${c.channel}`);
        },
      );
    }
  }

  private caughtUp(c: Cached, messages: Message[], _gen: number): void {
    const held = c.heldMessages ?? [];
    c.heldMessages = undefined;
    const subs = this.route(c.agentId, c.channel).subs;
    for (const m of messages) {
      if (this.seen(c, m.id, m.ts)) continue;
      this.noteMessage(c, m.id, m.ts);
      const event: ChannelEvent = { type: "message", agentId: c.agentId, channel: c.channel, message: deepFreeze(m as unknown as Json) as unknown as Message };
      for (const sub of subs) this.deliver(sub, event);
    }
    for (const f of held) {
      const m = f as Extract<Frame, { type: "message" }>;
      if (this.seen(c, m.id, m.ts)) continue;
      this.onMessage(m.agentId, m.channel, m.id, m.ts, m.data);
    }
  }

  private route(agentId: string, channel: string): Route {
    let byChannel = this.routes.get(agentId);
    if (!byChannel) {
      byChannel = new Map();
      this.routes.set(agentId, byChannel);
    }
    let r = byChannel.get(channel);
    if (!r) {
      if (this.routeCount >= 10_000) {
        this.clearRoutes();
        return this.route(agentId, channel);
      }
      const key = `${agentId}/${channel}`;
      const subs: Sub[] = [];
      for (const sub of this.subs.values()) if (sub.active && subMatches(sub, agentId, channel)) subs.push(sub);
      r = { key, agentId, channel, subs, cached: this.cache.get(key) };
      byChannel.set(channel, r);
      this.routeCount++;
    }
    return r;
  }

  private cached(r: Route): Cached {
    let c = r.cached ?? this.cache.get(r.key);
    if (!c) {
      c = { agentId: r.agentId, channel: r.channel, version: 0, aggregate: EMPTY_DIFF };
      this.cache.set(r.key, c);
    }
    r.cached = c;
    return c;
  }

  private clearRoutes(): void {
    this.routes.clear();
    this.routeCount = 0;
  }

  private pruneCache(): void {
    this.clearRoutes();
    for (const [key, c] of this.cache) {
      let used = false;
      for (const sub of this.subs.values()) {
        if (subMatches(sub, c.agentId, c.channel)) {
          used = true;
          break;
        }
      }
      if (!used) this.cache.delete(key);
    }
  }

  private deliver(sub: Sub, event: ChannelEvent): void {
    if (!sub.active) return;
    try {
      sub.listener(event);
    } catch (err) {
      report(this.onError, err, `listener for ${sub.agentId}/${sub.pattern}`);
    }
  }

  private checkOpen(): void {
    if (this.stateValue === "closed") throw new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed");
    if (this.fatal) throw this.fatal;
  }

  /** @internal Resolves on the first successful hello (used by connect()). */
  firstConnection(): Promise<void> {
    return this.firstOnline.promise;
  }
}

const QUEUED = Symbol("queued");
type QueuedMarker = typeof QUEUED;

function subMatches(sub: Sub, agentId: string, channel: string): boolean {
  return (sub.agentId === "+" || sub.agentId === agentId) && matchPattern(sub.pattern, channel);
}

function hasWrites(pending: Map<number, Pending>): boolean {
  for (const p of pending.values()) if (p.kind === "write") return true;
  return false;
}

function isTransient(code: string): boolean {
  return code === "TAGWIRE_ERR_RATE" || code === "TAGWIRE_ERR_INTERNAL" || code === "TAGWIRE_ERR_CLOSED";
}

function asCode(code: string): TagwireErrorCode {
  // TAGWIRE_ERR_INTERNAL is a hub-only code; keep it (the union is for known codes).
  return code as TagwireErrorCode;
}

function decodeDoc(bytes: Uint8Array): Json {
  return decodeValue(bytes) as Json;
}

function localMessage(w: OutboxWrite): Message {
  return { id: w.id, agentId: w.agentId, channel: w.channel, ts: Date.now(), data: w.data };
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}


