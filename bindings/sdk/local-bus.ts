// LocalBus: the in-process Session. Aggregates live in a core ChannelStore (merged in linear
// memory), subscriptions in a core Router; message logs are bounded arrays in JS memory.
//
// Routing key of a channel: `${agentId}/${channel}`; subscription pattern:
// `${agentIdOrPlus}/${pattern}`. Events go through one FIFO queue drained synchronously, so every
// listener sees events in publish order even when a handler publishes from inside a handler.
// Event payloads are deep-frozen and shared by all listeners; an event's diff and aggregate are
// decoded and merged when first read (aggregate-chain.ts), so a listener that reads neither costs
// nothing but the event.
import { createCore, type Core } from "../core/index.js";
import type { ChannelStore, ChannelStoreOptions } from "../core/store.js";
import type { Router } from "../core/router.js";
import { TagwireError } from "../core/errors.js";
import { Agent, type AgentOptions } from "./agent.js";
import { defaultErrorHandler, report, type ErrorHandler } from "./errors.js";
import { AggregateNode, PackedDiff, aggregateEvent, forgetNewest, publishResult } from "./aggregate-chain.js";
import { deepFreeze, toJson } from "./json.js";
import { packSimple } from "./msgpack-simple.js";
import { MAX_NAME_BYTES, assertAgentId, assertChannelName, assertChannelPattern, matchPattern } from "./names.js";
import type { ChannelEvent, Json, Message, MessageQuery, PublishOptions, PublishResult, Session, Unsubscribe } from "./session.js";

export interface LocalBusOptions {
  /** Messages kept per channel; the oldest are dropped first (default 1000). */
  maxMessagesPerChannel?: number;
  /** Limits of the aggregate store (payload bytes, nesting depth). */
  store?: ChannelStoreOptions;
  /** A core to use instead of creating one. */
  core?: Core | Promise<Core>;
  /** Where failing listeners are reported (default: console.error). */
  onError?: ErrorHandler;
}

interface ChannelState {
  agentId: string;
  channel: string;
  slot: number;
  /** True once it has had an aggregate write or a message. */
  exists: boolean;
  messages: Message[];
  messageIds: Map<string, Message>;
  lastTs: number;
  /**
   * The aggregate at the newest version an event was made for, kept while the channel has
   * subscribers by chaining each effective diff onto it (the store's diffs are exact for that),
   * so events share one immutable value per version and the store is only decoded when the chain
   * fell behind or grew long.
   */
  tip: AggregateNode | undefined;
  /** The subscriptions matching this channel, valid while `subsEpoch` is the bus's. */
  subs: Subscription[];
  subsEpoch: number;
}

interface Subscription {
  id: number;
  agentId: string;
  pattern: string;
  key: string;
  listener: (event: ChannelEvent) => void;
  active: boolean;
}

const EMPTY: Json = Object.freeze({}) as Json;
const NO_OPTIONS: PublishOptions = Object.freeze({});

export class LocalBus implements Session {
  private readonly maxMessages: number;
  private readonly storeOptions: ChannelStoreOptions | undefined;
  private readonly onError: ErrorHandler;
  private readonly ready: Promise<void>;
  private store: ChannelStore | undefined;
  private router: Router | undefined;
  private failure: unknown;
  private readonly channels = new Map<string, ChannelState>();
  private readonly channelsByAgent = new Map<string, Set<string>>();
  private readonly subscriptions = new Map<number, Subscription>();
  /** Subscriptions made before the core was ready; registered when it is. */
  private readonly early: Subscription[] = [];
  private nextSubscriptionId = 1;
  /** The channel of the last write, so a writer repeating itself skips building its key. */
  private lastChannel: ChannelState | undefined;
  /** Bumped by every subscribe and unsubscribe: channels' cached matches are stale then. */
  private subsEpoch = 0;
  private nextMessageSeq = 0;
  /**
   * Events to deliver, as parallel arrays (no pair allocated per delivery) used from 0 to
   * queueTail: drained slots are cleared, never cut off (setting an array's length is a runtime
   * call, and the same few slots serve every write).
   */
  private readonly queue: Array<Subscription | undefined> = [];
  private readonly queueEvents: Array<ChannelEvent | undefined> = [];
  private queueHead = 0;
  private queueTail = 0;
  private draining = false;
  private closed = false;

  constructor(options: LocalBusOptions = {}) {
    const max = options.maxMessagesPerChannel ?? 1000;
    if (!Number.isInteger(max) || max < 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "maxMessagesPerChannel must be an integer >= 0");
    this.maxMessages = max;
    this.storeOptions = options.store;
    this.onError = options.onError ?? defaultErrorHandler;
    this.ready = Promise.resolve(options.core ?? createCore()).then(
      (core) => this.init(core),
      (error) => {
        this.failure = error;
      },
    );
  }

  /** A bus whose core is already loaded. */
  static async create(options: LocalBusOptions = {}): Promise<LocalBus> {
    const bus = new LocalBus(options);
    await bus.whenReady();
    return bus;
  }

  /** Resolves once the core is loaded (rejects if it could not be). */
  async whenReady(): Promise<void> {
    await this.ready;
    if (this.failure !== undefined) throw this.failure;
  }

  /** An Agent with this id on this bus. */
  agent(id: string, options: Omit<AgentOptions, "closeSession"> = {}): Agent {
    return new Agent(this, id, options);
  }

  async publish(agentId: string, channel: string, data: Json, options: PublishOptions = {}): Promise<PublishResult> {
    let state = this.known(agentId, channel);
    if (state === undefined) {
      const key = this.checkAddress(agentId, channel);
      if (!this.store) await this.use();
      state = this.channel(key, agentId, channel);
    }
    return this.write(state, agentId, channel, data, options);
  }

  tryPublishNow(agentId: string, channel: string, data: Json): PublishResult | undefined {
    const state = this.known(agentId, channel);
    return state === undefined ? undefined : this.write(state, agentId, channel, data, NO_OPTIONS);
  }

  tryCommitNow(agentId: string, channel: string, data: Json, own: (event: ChannelEvent) => void): number {
    const state = this.known(agentId, channel);
    if (state === undefined) return -1;
    const view = this.store!.applyValueViewWith(state.slot, data, packSimple);
    const version = view.version;
    this.markExists(state);
    if (view.changed) {
      const subs = this.matching(state);
      let others = false;
      for (let i = 0; i < subs.length; i++) if (subs[i]!.listener !== own) others = true;
      // The writer alone listening: no diff copy, node or event (the chain then restarts from
      // the store when an event is next made).
      if (others) {
        const diff = PackedDiff.copyOf(view.bytes, view.diffStart, view.diffLength);
        this.tellChange(subs, state, agentId, channel, version, diff, diff, own);
        this.drain();
      }
    }
    return version;
  }

  /** A publish to a channel that is open: merge, log, events, result. */
  private write(state: ChannelState, agentId: string, channel: string, data: Json, options: PublishOptions): PublishResult {
    let message: Message | undefined;
    if (options.log && options.messageId !== undefined) {
      const seen = state.messageIds.get(options.messageId);
      // A replay of a logged write: already applied once, so nothing changes.
      if (seen) return { version: this.store!.version(state.slot), diff: {}, message: seen };
    }
    const replacing = options.replace === true || (options.replaceKeys !== undefined && options.replaceKeys.length > 0);
    // The diff is packed into the core's input region and the result read before any other call
    // into it, so neither needs a buffer of its own (see ChannelStore.applyValueView).
    const view = replacing
      ? this.store!.applyValueView(state.slot, data, { replace: options.replace, replaceKeys: options.replaceKeys, doDelete: true })
      : this.store!.applyValueViewWith(state.slot, data, packSimple);
    const version = view.version;
    const changed = view.changed;
    const diff = PackedDiff.copyOf(view.bytes, view.diffStart, view.diffLength);
    this.markExists(state);
    if (options.log) message = this.append(state, data, options.messageId);
    const subs = this.matching(state);
    if (subs.length > 0) {
      if (changed) {
        // A replace stores the new value as given (nulls included), which its effective diff
        // cannot always say: read the store then.
        this.tellChange(subs, state, agentId, channel, version, diff, replacing ? undefined : diff, undefined);
      }
      if (message) {
        const event: ChannelEvent = Object.freeze({ type: "message", agentId, channel, message });
        for (const sub of subs) this.enqueue(sub, event);
      }
      this.drain();
    }
    return publishResult(version, diff, message);
  }

  /**
   * Queues the aggregate event of a change for every one of `subs` but `skip` (the caller drains).
   * `nodeDiff` builds the event's aggregate from the previous one; undefined reads the store.
   */
  private tellChange(
    subs: readonly Subscription[],
    state: ChannelState,
    agentId: string,
    channel: string,
    version: number,
    diff: PackedDiff,
    nodeDiff: PackedDiff | undefined,
    skip: ((event: ChannelEvent) => void) | undefined,
  ): void {
    const event: ChannelEvent = aggregateEvent(agentId, channel, version, this.nodeAt(state, version, nodeDiff), diff);
    for (const sub of subs) if (sub.listener !== skip) this.enqueue(sub, event);
  }

  async createMessage(agentId: string, channel: string, data: Json, options: { messageId?: string } = {}): Promise<Message> {
    const key = this.checkAddress(agentId, channel);
    if (!this.store) await this.use();
    const state = this.channel(key, agentId, channel);
    if (options.messageId !== undefined) {
      const seen = state.messageIds.get(options.messageId);
      if (seen) return seen;
    }
    this.markExists(state);
    const message = this.append(state, data, options.messageId);
    const subs = this.matching(state);
    if (subs.length > 0) {
      const event: ChannelEvent = Object.freeze({ type: "message", agentId, channel, message });
      for (const sub of subs) this.enqueue(sub, event);
      this.drain();
    }
    return message;
  }

  async getAggregate(agentId: string, channel: string): Promise<Json> {
    const key = this.checkAddress(agentId, channel);
    if (!this.store) await this.use();
    const state = this.channels.get(key);
    if (!state || !this.store!.version(state.slot)) return {};
    return this.store!.getValue(state.slot) as Json;
  }

  async getMessages(agentId: string, channel: string, query: MessageQuery = {}): Promise<Message[]> {
    const key = this.checkAddress(agentId, channel);
    if (!this.store) await this.use();
    const state = this.channels.get(key);
    if (!state) return [];
    const { limit, before, after } = query;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "limit must be an integer >= 0");
    let list = state.messages;
    if (before !== undefined || after !== undefined) {
      list = list.filter((m) => (before === undefined || m.ts < before) && (after === undefined || m.ts > after));
    }
    if (limit !== undefined) return limit === 0 ? [] : list.slice(-limit);
    return list.slice();
  }

  async listChannels(agentId: string): Promise<string[]> {
    this.checkOpen();
    assertAgentId(agentId);
    if (!this.store) await this.use();
    return [...(this.channelsByAgent.get(agentId) ?? [])].sort();
  }

  subscribe(agentId: string, pattern: string, listener: (event: ChannelEvent) => void): Unsubscribe {
    this.checkOpen();
    assertAgentId(agentId, true);
    assertChannelPattern(pattern);
    const key = `${agentId}/${pattern}`;
    checkKeyLength(key);
    const sub: Subscription = { id: this.nextSubscriptionId++, agentId, pattern, key, listener, active: true };
    if (this.router) this.register(sub);
    else this.early.push(sub);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      this.subsEpoch++;
      if (this.subscriptions.delete(sub.id)) this.router?.unsubscribe(sub.key, sub.id);
      else {
        const i = this.early.indexOf(sub);
        if (i >= 0) this.early.splice(i, 1);
      }
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions.values()) sub.active = false;
    for (const sub of this.early) sub.active = false;
    this.subscriptions.clear();
    this.early.length = 0;
    forgetNewest();
    await this.ready;
    this.router?.dispose();
  }

  private init(core: Core): void {
    this.store = core.createChannelStore(this.storeOptions);
    this.router = core.createRouter();
    for (const sub of this.early.splice(0)) if (sub.active && !this.closed) this.register(sub);
  }

  /** Registers with the router and queues the first sync events. */
  private register(sub: Subscription): void {
    this.subsEpoch++;
    this.subscriptions.set(sub.id, sub);
    this.router!.subscribe(sub.key, sub.id);
    const agents = sub.agentId === "+" ? [...this.channelsByAgent.keys()].sort() : [sub.agentId];
    for (const agentId of agents) {
      const names = this.channelsByAgent.get(agentId);
      if (!names) continue;
      for (const channel of [...names].sort()) {
        if (!matchPattern(sub.pattern, channel)) continue;
        const state = this.channels.get(`${agentId}/${channel}`)!;
        const version = this.store!.version(state.slot);
        const aggregate = version ? this.nodeAt(state, version, undefined).get() : EMPTY;
        this.enqueue(sub, Object.freeze({ type: "sync", agentId, channel, aggregate, version }));
      }
    }
    // Delivered after the subscribe call returns, so the handler can use its unsubscribe.
    if (this.queueTail > this.queueHead) queueMicrotask(() => this.drain());
  }

  /** Waits for the core (callers skip this once it is loaded, saving a microtask per call). */
  private async use(): Promise<void> {
    await this.whenReady();
    this.checkOpen();
  }

  private checkOpen(): void {
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", "bus is closed");
  }

  private checkAddress(agentId: string, channel: string): string {
    this.checkOpen();
    assertAgentId(agentId);
    assertChannelName(channel);
    const key = `${agentId}/${channel}`;
    checkKeyLength(key);
    return key;
  }

  private channel(key: string, agentId: string, channel: string): ChannelState {
    let state = this.channels.get(key);
    if (!state) {
      state = {
        agentId,
        channel,
        slot: this.store!.open(key),
        exists: false,
        messages: [],
        messageIds: new Map(),
        lastTs: 0,
        tip: undefined,
        subs: [],
        subsEpoch: -1,
      };
      this.channels.set(key, state);
    }
    return state;
  }

  /**
   * The aggregate node at `version` (the store's current one): the tip, the tip chained with
   * `diff` when that is the next version, else read from the store.
   */
  private nodeAt(state: ChannelState, version: number, diff: PackedDiff | undefined): AggregateNode {
    const tip = state.tip;
    if (tip !== undefined && tip.version === version) return tip;
    const node =
      diff !== undefined && tip !== undefined && tip.version === version - 1 && tip.chainable
        ? tip.next(version, diff)
        : AggregateNode.of(version, deepFreeze(this.store!.getValue(state.slot) as Json));
    state.tip = node;
    return node;
  }

  /** The channel, when it was already checked and opened for this agent (the common case). */
  private known(agentId: string, channel: string): ChannelState | undefined {
    if (this.closed || !this.store) return undefined;
    const last = this.lastChannel;
    if (last !== undefined && last.agentId === agentId && last.channel === channel) return last;
    const state = this.channels.get(`${agentId}/${channel}`);
    // Same agent and same key means the same channel name: both were checked when it was opened.
    if (state === undefined || state.agentId !== agentId) return undefined;
    this.lastChannel = state;
    return state;
  }

  private markExists(state: ChannelState): void {
    if (state.exists) return;
    state.exists = true;
    let names = this.channelsByAgent.get(state.agentId);
    if (!names) this.channelsByAgent.set(state.agentId, (names = new Set()));
    names.add(state.channel);
  }

  private append(state: ChannelState, data: Json, messageId: string | undefined): Message {
    if (messageId !== undefined && (typeof messageId !== "string" || messageId.length === 0 || messageId.length > MAX_NAME_BYTES)) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "messageId must be a string of 1..255 characters");
    }
    // Timestamps never go backwards within a channel, so before/after queries stay consistent.
    const ts = Math.max(Date.now(), state.lastTs);
    state.lastTs = ts;
    const id = messageId ?? `${ts.toString(36)}-${(this.nextMessageSeq++).toString(36)}`;
    const message: Message = Object.freeze({
      id,
      agentId: state.agentId,
      channel: state.channel,
      ts,
      data: deepFreeze(toJson(data, `message to ${state.channel}`)),
    });
    if (this.maxMessages === 0) return message;
    state.messages.push(message);
    state.messageIds.set(id, message);
    if (state.messages.length > this.maxMessages) {
      const dropped = state.messages.shift()!;
      if (state.messageIds.get(dropped.id) === dropped) state.messageIds.delete(dropped.id);
    }
    return message;
  }

  private matching(state: ChannelState): Subscription[] {
    if (state.subsEpoch === this.subsEpoch) return state.subs;
    const ids = this.router!.matchId(this.router!.channelId(`${state.agentId}/${state.channel}`));
    const out: Subscription[] = [];
    for (let i = 0; i < ids.length; i++) {
      const sub = this.subscriptions.get(ids[i]!);
      if (sub) out.push(sub);
    }
    state.subs = out;
    state.subsEpoch = this.subsEpoch;
    return out;
  }

  private enqueue(sub: Subscription, event: ChannelEvent): void {
    const at = this.queueTail++;
    if (at < this.queue.length) {
      this.queue[at] = sub;
      this.queueEvents[at] = event;
    } else {
      this.queue.push(sub);
      this.queueEvents.push(event);
    }
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queueHead < this.queueTail) {
        const sub = this.queue[this.queueHead]!;
        const event = this.queueEvents[this.queueHead]!;
        this.queue[this.queueHead] = undefined;
        this.queueEvents[this.queueHead++] = undefined;
        if (!sub.active) continue;
        try {
          sub.listener(event);
        } catch (error) {
          report(this.onError, error, `listener for ${sub.key}`);
        }
      }
    } finally {
      // Slots a throwing drain left are cleared too, so no event outlives its delivery.
      for (let i = this.queueHead; i < this.queueTail; i++) {
        this.queue[i] = undefined;
        this.queueEvents[i] = undefined;
      }
      this.queueHead = 0;
      this.queueTail = 0;
      this.draining = false;
    }
  }
}

function checkKeyLength(key: string): void {
  // The core router takes routing keys of at most 255 bytes, agent id and "/" included.
  if (key.length > MAX_NAME_BYTES) {
    throw new TagwireError("TAGWIRE_ERR_NAME", `agent id + "/" + channel name must fit in ${MAX_NAME_BYTES} bytes (got ${key.length})`);
  }
}
