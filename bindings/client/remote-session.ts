// The remote Session: the SDK's Session contract (bindings/sdk/session.ts) spoken to a hub over
// any Transport, with the wire format of docs/PROTOCOL.md. This file only wires the pieces:
//
//   lifecycle.ts      one transport per attempt, backoff and jitter, hello timeout
//   keepalive.ts      pings while online; an unanswered one drops the connection
//   requests.ts       reqId matching, read timeouts, what each request does on a drop
//   send-queue.ts     batching per tick, the hub's frame rate, socket backpressure
//   outbox-drain.ts   the offline outbox sent in order after a (re)connection
//   channel-cache.ts  per-channel {version, aggregate}, gap repair, catch-up of missed messages
//   inbound.ts        frames from the hub to the piece that handles them
//
// On open the session sends `hello` plus one `subscribe` per live subscription (with the versions
// it holds, so the hub syncs only what changed), then drains the outbox, then goes direct.
// Writes (publish, createMessage) resolve once they are safe: acknowledged by the hub when
// online, or kept in the outbox when not (`queued: true`, version -1; resolved after the event
// loop turns, so a loop of awaited writes never starves the reconnect). Every write carries a
// client id (`messageId`), so the outbox replays idempotently. While the outbox holds anything,
// new writes queue behind it, so the hub applies writes in the order they were made. Reads wait
// for a connection (up to `requestTimeoutMs`); a read in flight when the connection drops is sent
// again on the next one. A direct write or read made while the send queue is full is refused
// with TAGWIRE_ERR_BACKPRESSURE.

import { TagwireError } from "../core/errors.js";
import { LIMITS, PROTOCOL_VERSION, type ClientFrame, type HelloResult } from "../protocol/frames.js";
import { randomId } from "../protocol/ids.js";
import { defaultErrorHandler, report, type ErrorHandler } from "../sdk/errors.js";
import { assertAgentId, assertChannelName, assertChannelPattern } from "../sdk/names.js";
import type { ChannelEvent, Json, Message, MessageQuery, PublishOptions, PublishResult, Session, Unsubscribe } from "../sdk/session.js";
import type { Transport, TransportStateChange } from "../transports/contract.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { ChannelCache } from "./channel-cache.js";
import { receiveBatch } from "./inbound.js";
import { Keepalive } from "./keepalive.js";
import { LAZY, Packed } from "./lazy-doc.js";
import { Connection } from "./lifecycle.js";
import { MemoryOutbox, type Outbox, type OutboxWrite } from "./outbox.js";
import { OutboxDrain } from "./outbox-drain.js";
import { Requests } from "./requests.js";
import { SendQueue } from "./send-queue.js";
import type { Sub } from "./subscriptions.js";
import { decodeDoc, localMessage, writeFrame } from "./wire.js";

export type RemoteSessionState = "connecting" | "online" | "offline" | "closed";

export interface RemotePublishResult extends PublishResult {
  /** True when the write was kept in the outbox (offline); `version` is then -1. */
  queued?: boolean;
}

/** Session events that are not channel events (`onEvent`). */
export type RemoteSessionEvent =
  /** The hub refused a subscription (e.g. TAGWIRE_ERR_FORBIDDEN); it stays registered, silent. */
  { type: "subscriptionRefused"; agentId: string; pattern: string; error: TagwireError };

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
  /** Unsent bytes the transport may hold before sending pauses (default 1 MiB). */
  highWaterBytes?: number;
  /** Bytes that may wait to be sent before writes and reads are refused (default 16 MiB). */
  maxQueuedBytes?: number;
  /** Background failures: refused outbox entries, listener exceptions (default console.error). */
  onError?: ErrorHandler;
  /** Part of generated write ids, after their time (default: random). */
  clientId?: string;
}

type StateHandler = (state: RemoteSessionState, detail?: TransportStateChange | Error) => void;
type WriteAck = { version: number; diff: Uint8Array; message: { id: string; ts: number } | null };

const QUEUED = Symbol();
const NO_OPTIONS: PublishOptions = Object.freeze({});

/** Runs `fn(value)` once the event loop has turned (setImmediate in Node, a timer elsewhere). */
const afterTurn: <T>(fn: (value: T) => void, value: T) => void =
  typeof setImmediate === "function" ? (fn, value) => setImmediate(fn, value) : (fn, value) => setTimeout(fn, 0, value);

/**
 * Resolves with a kept write's result once the event loop has turned. Kept at once, it could
 * resolve at once, and a loop awaiting one write after another (`for (;;) await publish(...)`)
 * would then run in microtasks only: no timer or socket event could run, so a session offline
 * would never reconnect, nor a draining one finish its drain.
 */
function resolvedAfterTurn<T>(value: T): Promise<T> {
  return new Promise((resolve) => afterTurn(resolve, value));
}

/** A publish's result from its ack, or from the outbox (QUEUED). */
function publishResult(ack: unknown, w: OutboxWrite | undefined): RemotePublishResult {
  const write = w!;
  if (ack === QUEUED) {
    const queued: RemotePublishResult = { version: -1, diff: write.data, queued: true };
    if (write.log) queued.message = localMessage(write);
    return queued;
  }
  const a = ack as WriteAck;
  // The effective diff is decoded only if read (lazy-doc.ts): most callers read the version.
  const result: Record<PropertyKey, unknown> = { version: a.version, diff: new Packed(a.diff) };
  if (a.message) result.message = localMessage(write, a.message.id, a.message.ts);
  return new Proxy(result, LAZY) as unknown as RemotePublishResult;
}

/** A createMessage's result from its ack, or from the outbox (QUEUED). */
function messageResult(ack: unknown, w: OutboxWrite | undefined): Message {
  // QUEUED (a symbol) has neither field: localMessage's defaults, the write's id and the clock.
  const a = ack as { id?: string; ts?: number };
  return localMessage(w!, a.id, a.ts);
}

/** No names checked yet (never equal to a string). */
const UNCHECKED = Symbol();

export class RemoteSession implements Session {
  readonly agentId: string;
  readonly #token: string | undefined;
  readonly #outbox: Outbox;
  readonly #onError: ErrorHandler;
  readonly #clientId: string;
  readonly #connection: Connection;
  readonly #queue: SendQueue;
  readonly #requests: Requests;
  readonly #keepalive: Keepalive;
  readonly #drain: OutboxDrain;
  readonly #cache: ChannelCache;

  #stateValue: RemoteSessionState = "connecting";
  readonly #stateHandlers = new Set<StateHandler>();
  readonly #eventHandlers = new Set<(event: RemoteSessionEvent) => void>();
  #hello: HelloResult | undefined;
  #fatal: TagwireError | undefined;
  #writeSeq = 0;
  /** The names the last write checked: a device writing one channel checks them once. */
  #checkedAgentId: string | symbol = UNCHECKED;
  #checkedChannel: string | symbol = UNCHECKED;
  /** The head of write ids made in millisecond `#idMs` (see `#newWriteId`). */
  #idMs = -1;
  #idHead = "";
  readonly #firstOnline: { promise: Promise<void>; resolve(): void; reject(e: Error): void };
  #closing: Promise<void> | undefined;

  constructor(options: RemoteSessionOptions) {
    assertAgentId(options.agentId);
    this.agentId = options.agentId;
    this.#token = options.token;
    this.#outbox = options.outbox ?? new MemoryOutbox();
    this.#onError = options.onError ?? defaultErrorHandler;
    this.#clientId = options.clientId ?? randomId();
    this.#queue = new SendQueue(options); // reads highWaterBytes and maxQueuedBytes
    this.#requests = new Requests({ sink: this.#queue, timeoutMs: options.requestTimeoutMs ?? 10_000 });
    this.#connection = new Connection({
      transport: options.transport,
      backoff: new Backoff(options.backoff),
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      hooks: {
        opened: (t) => this.#opened(t),
        frame: (bytes) => receiveBatch(bytes, this.#requests, this.#cache, this.#onError),
        lost: (change) => this.#lost(change),
      },
    });
    this.#keepalive = new Keepalive({
      intervalMs: options.pingIntervalMs ?? 15_000,
      timeoutMs: options.pingTimeoutMs ?? 10_000,
      ping: () => this.#requests.request("ping", { type: "ping", reqId: 0 }).then((r) => this.#cache.noteHubTs((r as { ts: number }).ts)),
      dead: (reason) => this.#connection.drop(reason),
    });
    this.#drain = new OutboxDrain(this.#outbox, this.#requests, this.#queue, this.#connection, this.#onError);
    this.#cache = new ChannelCache({
      source: {
        readAggregate: (a, c) => this.readAggregate(a, c),
        getMessages: (a, c, q) => this.getMessages(a, c, q),
        gen: () => this.#connection.gen,
        online: () => this.#requests.online,
      },
      catchUpLimit: Math.min(options.catchUpMessages ?? 1000, LIMITS.maxMessageLimit),
      onError: this.#onError,
    });
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that never awaits the first connection must not see an unhandled rejection.
    promise.catch(() => {});
    this.#firstOnline = { promise, resolve, reject };
    this.#connection.attempt();
  }

  /** "connecting" (first attempt), "online", "offline" (retrying), "closed". */
  get state(): RemoteSessionState {
    return this.#stateValue;
  }

  /** Writes kept in the outbox, waiting to be sent or acknowledged. */
  get queuedWrites(): number {
    return this.#outbox.size;
  }

  /** Bytes waiting in the send queue (see `maxQueuedBytes`). */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** Limits the hub reported in its hello ack (undefined before the first connection). */
  get limits(): HelloResult["limits"] | undefined {
    return this.#hello?.limits;
  }

  /** Called on every state change; returns the function that removes the handler. */
  onState(handler: StateHandler): () => void {
    this.#stateHandlers.add(handler);
    return () => this.#stateHandlers.delete(handler);
  }

  /**
   * Called on session events (a refused subscription); returns the function that removes the
   * handler. A refusal with no handler registered goes to `onError` instead.
   */
  onEvent(handler: (event: RemoteSessionEvent) => void): () => void {
    this.#eventHandlers.add(handler);
    return () => this.#eventHandlers.delete(handler);
  }

  /**
   * Resolves when the session is online (and its outbox drained). Rejects on a fatal refusal
   * (bad token), on close, or after `timeoutMs` (TAGWIRE_ERR_TIMEOUT) if given.
   */
  whenOnline(timeoutMs?: number): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#stateValue === "closed") return Promise.reject(new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed"));
    if (this.#canSendDirect()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (err?: Error) => {
        off();
        offDrained();
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const off = this.onState((state, detail) => {
        if (state === "online" && this.#canSendDirect()) done();
        else if (this.#fatal) done(this.#fatal);
        else if (state === "closed") done(detail instanceof Error ? detail : new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed"));
      });
      const offDrained = this.#drain.onDrained(() => {
        if (this.#canSendDirect()) done();
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => done(new TagwireError("TAGWIRE_ERR_TIMEOUT", `not online after ${timeoutMs} ms`)), timeoutMs);
      }
    });
  }

  publish(agentId: string, channel: string, data: Json, options: PublishOptions = NO_OPTIONS): Promise<RemotePublishResult> {
    // Not async: the direct path hands its promise straight from the request (shaped as the ack
    // is dispatched), one promise per write instead of three and no extra microtask hops.
    try {
      this.#checkOpen();
      this.#checkWriteNames(agentId, channel);
      const write: OutboxWrite = { kind: "publish", id: options.messageId ?? this.#newWriteId(), agentId, channel, data };
      if (options.log) write.log = true;
      if (options.replace) write.replace = true;
      if (options.replaceKeys?.length) write.replaceKeys = [...options.replaceKeys];
      if (this.#canSendDirect()) {
        return this.#requests.request("write", writeFrame(write), write, publishResult) as Promise<RemotePublishResult>;
      }
      return resolvedAfterTurn(publishResult(this.#keep(write), write));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  createMessage(agentId: string, channel: string, data: Json, options: { messageId?: string } = NO_OPTIONS): Promise<Message> {
    try {
      this.#checkOpen();
      this.#checkWriteNames(agentId, channel);
      const write: OutboxWrite = { kind: "message", id: options.messageId ?? this.#newWriteId(), agentId, channel, data };
      if (this.#canSendDirect()) return this.#requests.request("write", writeFrame(write), write, messageResult) as Promise<Message>;
      return resolvedAfterTurn(messageResult(this.#keep(write), write));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async getAggregate(agentId: string, channel: string): Promise<Json> {
    return (await this.readAggregate(agentId, channel)).aggregate;
  }

  /** The aggregate with its version (0 and `{}` for a channel without one). */
  async readAggregate(agentId: string, channel: string): Promise<{ version: number; aggregate: Json }> {
    this.#checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const r = (await this.#requests.request("read", { type: "getAggregate", reqId: 0, agentId, channel })) as {
      version: number;
      aggregate: Uint8Array;
    };
    return { version: r.version, aggregate: decodeDoc(r.aggregate) };
  }

  async getMessages(agentId: string, channel: string, query: MessageQuery = {}): Promise<Message[]> {
    this.#checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const frame: ClientFrame = { type: "getMessages", reqId: 0, agentId, channel };
    if (query.before !== undefined) frame.before = query.before;
    if (query.after !== undefined) frame.after = query.after;
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 0)
        throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "limit must be an integer >= 0");
      if (query.limit === 0) return [];
      frame.limit = query.limit;
    }
    const r = (await this.#requests.request("read", frame)) as { messages: { id: string; ts: number; data: Uint8Array }[] };
    return r.messages.map((m) => ({ id: m.id, agentId, channel, ts: m.ts, data: decodeDoc(m.data) }));
  }

  async listChannels(agentId: string): Promise<string[]> {
    this.#checkOpen();
    assertAgentId(agentId);
    const r = (await this.#requests.request("read", { type: "listChannels", reqId: 0, agentId })) as { channels: string[] };
    return r.channels;
  }

  subscribe(agentId: string, pattern: string, listener: (event: ChannelEvent) => void): Unsubscribe {
    this.#checkOpen();
    assertAgentId(agentId, true);
    assertChannelPattern(pattern);
    const sub = this.#cache.subs.add(agentId, pattern, listener);
    if (this.#requests.online) this.#sendSubscribe(sub, false);
    return () => {
      if (!sub.active) return;
      this.#cache.unsubscribe(sub);
      if (this.#requests.online) this.#requests.request("unsubscribe", { type: "unsubscribe", reqId: 0, subId: sub.id }).catch(() => {});
    };
  }

  /**
   * Stops reconnecting and closes the connection. Writes still unacknowledged stay in the
   * outbox (a durable one sends them next time); waits up to `graceMs` for their acks first.
   */
  close(graceMs = 5_000): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  /** @internal Resolves on the first successful hello (used by connect()). */
  firstConnection(): Promise<void> {
    return this.#firstOnline.promise;
  }

  #opened(transport: Transport): void {
    const gen = this.#connection.gen;
    this.#queue.attach(transport, this.#hello?.limits);
    const hello: ClientFrame = { type: "hello", reqId: 0, protocol: PROTOCOL_VERSION, agentId: this.agentId };
    if (this.#token !== undefined) hello.token = this.#token;
    this.#requests.request("hello", hello).then(
      (result) => {
        if (gen !== this.#connection.gen) return;
        this.#hello = result as HelloResult;
        this.#queue.setLimits(this.#hello.limits);
        this.#requests.maxMessageBytes = this.#hello.limits.maxMessageBytes;
        this.#helloAcked();
      },
      (err: TagwireError) => {
        if (gen !== this.#connection.gen) return;
        if (err.code === "TAGWIRE_ERR_AUTH" || err.code === "TAGWIRE_ERR_PROTOCOL" || err.code === "TAGWIRE_ERR_FORBIDDEN") this.#fail(err);
        else this.#connection.drop(`hello failed: ${err.message}`);
      },
    );
    // Resubscribe in the same batch as the hello (the protocol allows it).
    for (const sub of this.#cache.subs.all()) this.#sendSubscribe(sub, true);
  }

  #helloAcked(): void {
    this.#connection.established();
    // Online from here (reads waiting for a connection go now), before state handlers run.
    this.#requests.connected();
    this.#setState("online");
    this.#keepalive.start();
    this.#firstOnline.resolve();
    this.#drain.kick();
  }

  #lost(change: TransportStateChange): void {
    this.#keepalive.stop();
    this.#queue.detach();
    this.#drain.reset();
    // Direct writes of the dead connection may or may not have been applied; their ids make the
    // replay from the outbox safe.
    for (const w of this.#requests.connectionLost(change.reason ?? "closed")) {
      this.#outbox.add(w.write, true);
      w.settle(QUEUED);
    }
    if (this.#stateValue === "closed" || this.#fatal) return;
    this.#setState("offline", change);
    this.#connection.retry();
  }

  /** A refusal no retry can fix (bad token): stop and fail everything waiting. */
  #fail(err: TagwireError): void {
    this.#fatal = err;
    this.#connection.drop(err.message);
    this.#firstOnline.reject(err);
    this.#requests.failAll(err);
    report(this.#onError, err, "connecting to the hub");
    this.#setState("offline", err);
  }

  async #shutdown(graceMs: number): Promise<void> {
    const unacked = () => this.#requests.hasWrites() || this.#drain.inFlightCount > 0;
    if (this.#requests.online && unacked() && graceMs > 0) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && this.#requests.online && (unacked() || this.#outbox.size > 0)) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const t = this.#connection.stop();
    this.#keepalive.stop();
    this.#queue.close();
    this.#setState("closed");
    // Moves in-doubt writes to the outbox and ends the rest, as for a lost connection.
    this.#lost({ state: "closed", reason: "session closed", local: true });
    t?.close("session closed");
    const closed = new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed");
    this.#requests.failAll(closed);
    this.#firstOnline.reject(closed);
    this.#cache.clear();
    this.#outbox.close();
  }

  #sendSubscribe(sub: Sub, resubscribe: boolean): void {
    const frame: ClientFrame = { type: "subscribe", reqId: 0, subId: sub.id, agentId: sub.agentId, pattern: sub.pattern };
    if (resubscribe && sub.everAcked) {
      const known = this.#cache.known(sub);
      if (known) frame.known = known;
    }
    const gen = this.#connection.gen;
    this.#requests.request("subscribe", frame).then(
      () => {
        if (gen !== this.#connection.gen || !sub.active) return;
        const wasResubscribe = sub.everAcked;
        sub.everAcked = true;
        if (wasResubscribe) this.#cache.catchUp(sub);
      },
      (error: TagwireError) => {
        if (gen !== this.#connection.gen || !sub.active || error.code === "TAGWIRE_ERR_CLOSED") return;
        // A refused subscription (forbidden pattern) stays registered locally but silent.
        this.#emit(
          { type: "subscriptionRefused", agentId: sub.agentId, pattern: sub.pattern, error },
          `subscribe ${sub.agentId}/${sub.pattern}`,
        );
      },
    );
  }

  /** Hands an event to its handlers; with none, its error goes to onError under `context`. */
  #emit(event: RemoteSessionEvent, context: string): void {
    if (this.#eventHandlers.size === 0) {
      report(this.#onError, event.error, context);
      return;
    }
    for (const h of [...this.#eventHandlers]) {
      try {
        h(event);
      } catch (err) {
        report(this.#onError, err, "session event handler");
      }
    }
  }

  /** Keeps a write in the outbox (offline, or behind earlier queued writes). */
  #keep(write: OutboxWrite): typeof QUEUED {
    this.#outbox.add(write);
    this.#drain.kick();
    return QUEUED;
  }

  /** assertAgentId and assertChannelName, skipped for the names the previous write passed. */
  #checkWriteNames(agentId: string, channel: string): void {
    if (agentId === this.#checkedAgentId && channel === this.#checkedChannel) return;
    assertAgentId(agentId);
    assertChannelName(channel);
    this.#checkedAgentId = agentId;
    this.#checkedChannel = channel;
  }

  #canSendDirect(): boolean {
    return this.#requests.online && !this.#drain.draining && this.#outbox.size === 0;
  }

  /**
   * Time first: the hub keeps the id of every write for replay detection in a tree keyed by it,
   * and ids that rise with time from every device append there instead of touching one page
   * per device (hub/storage/sqlite.ts, applied_ids). The client id and counter keep it unique.
   */
  #newWriteId(): string {
    const ms = Date.now();
    if (ms !== this.#idMs) {
      this.#idMs = ms;
      this.#idHead = `${ms.toString(36)}-${this.#clientId}-`;
    }
    return this.#idHead + (this.#writeSeq++).toString(36);
  }

  #setState(state: RemoteSessionState, detail?: TransportStateChange | Error): void {
    if (this.#stateValue === "closed" && state !== "closed") return;
    const changed = this.#stateValue !== state;
    this.#stateValue = state;
    if (!changed && state !== "online") return;
    for (const h of [...this.#stateHandlers]) {
      try {
        h(state, detail);
      } catch (err) {
        report(this.#onError, err, "session state handler");
      }
    }
  }

  #checkOpen(): void {
    if (this.#stateValue === "closed") throw new TagwireError("TAGWIRE_ERR_CLOSED", "session is closed");
    if (this.#fatal) throw this.#fatal;
  }
}
