// An Agent: one identity that owns channels, talking only to a Session (in-process LocalBus
// today, a hub over WebSocket or MQTT later). Everything here works the same on every session.
import { TagwireError } from "../core/errors.js";
import { defaultErrorHandler, report, type ErrorHandler } from "./errors.js";
import { applyDiff, isObject, isOwned, toJson, type JsonObject } from "./json.js";
import { assertAgentId, assertChannelName, assertChannelPattern } from "./names.js";
import { Publishers, type PublishOnChangeOptions, type PublishThrottledOptions } from "./publishers.js";
import type { ChannelEvent, Json, Message, MessageQuery, PublishOptions, PublishResult, Session, Unsubscribe } from "./session.js";

export interface AgentOptions {
  /** Where handler exceptions and failed background sends go (default: console.error). */
  onError?: ErrorHandler;
  /** Close the session when the agent closes (for a session made for this agent alone). */
  closeSession?: boolean;
}

export interface AgentPublishOptions extends PublishOptions {
  /**
   * Doover's coalescing deadline. Writes to a channel with a max age are merged (later diff
   * composed onto the earlier, nulls kept) and sent together no later than `maxAgeMs` after the
   * first of them; `publish` then resolves to `null` at once. 0, a negative value or no value
   * sends at once (after any writes already pending for the channel, in order). Two writes whose
   * merge would not equal applying them one by one (see clearsThenSets) are not merged: the
   * pending one is sent early and the later one starts a new deadline. A logged write
   * (`log: true`) is one history point and is never merged: it sends the pending writes, then
   * itself. Pending writes are not visible to reads until sent; `flush()` sends them now.
   */
  maxAgeMs?: number;
}

export interface ReadOptions {
  /** Read another agent's channel (default: this agent). */
  agentId?: string;
}

export interface GetMessagesOptions extends MessageQuery, ReadOptions {}

export interface SubscribeOptions {
  /** Whose channels: this agent (default), another agent's id, or "+" for every agent. */
  agentId?: string;
}

export type ChannelEventHandler = (event: ChannelEvent) => void | Promise<void>;

/** Writes waiting for their coalescing deadline, per channel. */
interface Pending {
  data: Json;
  /** `data` is the whole new aggregate, not a diff. */
  replace: boolean;
  /** Top-level keys whose value in `data` is a whole subtree, not a diff. */
  replaceKeys: Set<string>;
  deadline: number;
  timer: ReturnType<typeof setTimeout>;
}

const NO_OPTIONS: PublishOptions = Object.freeze({});

export class Agent {
  readonly id: string;
  readonly session: Session;
  private readonly onError: ErrorHandler;
  private readonly closeSession: boolean;
  private readonly pending = new Map<string, Pending>();
  /** Sends started by coalescing timers or flush, so close() can wait for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** This agent's subscriptions, each with the listener it gave the session. */
  private readonly subscriptions = new Map<Unsubscribe, (event: ChannelEvent) => void>();
  private publishers: Publishers | undefined;
  private closed = false;
  private lastChecked: string | undefined;

  constructor(session: Session, id: string, options: AgentOptions = {}) {
    assertAgentId(id);
    this.session = session;
    this.id = id;
    this.onError = options.onError ?? defaultErrorHandler;
    this.closeSession = options.closeSession ?? false;
  }

  /**
   * Merges `data` into the channel's aggregate (objects merge, scalars and arrays replace, null
   * clears) and, with `log`, appends it to the channel's message log. Resolves to the new
   * version and the effective diff, or to `null` when the write was queued by `maxAgeMs`.
   */
  publish(channel: string, data: unknown, options?: AgentPublishOptions): Promise<PublishResult | null> {
    try {
      this.checkOpen();
      this.checkChannel(channel);
      return this.send(channel, isOwned(data) ? (data as Json) : toJson(data, `publish to ${channel}`), options ?? NO_OPTIONS);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * publish() for JSON the caller built itself and no longer touches (an Application's tag commit):
   * no copy, no ownership mark. Internal to the SDK.
   * @internal
   */
  publishBuilt(channel: string, json: Json): Promise<PublishResult | null> {
    try {
      this.checkOpen();
      this.checkChannel(channel);
      return this.send(channel, json, NO_OPTIONS);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * publishBuilt() done at once when the session can (see Session.tryPublishNow) and nothing is
   * held for the channel; undefined otherwise (then use publishBuilt). Throws what publishBuilt
   * would reject with. Internal to the SDK.
   * @internal
   */
  tryPublishBuiltNow(channel: string, json: Json): PublishResult | undefined {
    const session = this.session;
    if (session.tryPublishNow === undefined || (this.pending.size > 0 && this.pending.has(channel))) return undefined;
    this.checkOpen();
    this.checkChannel(channel);
    return session.tryPublishNow(this.id, channel, json);
  }

  /**
   * tryPublishBuiltNow for a writer subscribed to the channel through `own` (what subscribe
   * returned) that keeps its own state of it: the session does not deliver this write's event to
   * that subscription (see Session.tryCommitNow). Returns the new version; undefined when it was
   * not done (then use publishBuilt). Internal to the SDK.
   * @internal
   */
  tryCommitBuiltNow(channel: string, json: Json, own: Unsubscribe): number | undefined {
    const session = this.session;
    if (session.tryCommitNow === undefined || (this.pending.size > 0 && this.pending.has(channel))) return undefined;
    const listener = this.subscriptions.get(own);
    if (listener === undefined) return undefined;
    this.checkOpen();
    this.checkChannel(channel);
    const version = session.tryCommitNow(this.id, channel, json, listener);
    return version < 0 ? undefined : version;
  }

  /**
   * The common write (no options, nothing held for the channel) hands the session's promise back
   * as it is: no options copy, no async wrapper and its extra promise hops.
   */
  private send(channel: string, json: Json, options: AgentPublishOptions): Promise<PublishResult | null> {
    if (options === NO_OPTIONS && !this.pending.has(channel)) return this.session.publish(this.id, channel, json, NO_OPTIONS);
    return this.publishWith(channel, json, options);
  }

  private async publishWith(channel: string, json: Json, options: AgentPublishOptions): Promise<PublishResult | null> {
    const { maxAgeMs, ...rest } = options;
    if (rest.replaceKeys)
      for (const k of rest.replaceKeys)
        if (typeof k !== "string") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "replaceKeys must be strings");
    if (maxAgeMs !== undefined && maxAgeMs > 0 && !rest.log) {
      this.coalesce(channel, json, rest, maxAgeMs);
      return null;
    }
    if (this.pending.has(channel)) await this.sendPending(channel);
    return this.session.publish(this.id, channel, json, rest);
  }

  /** Appends a message to the channel's log without touching its aggregate. */
  async createMessage(channel: string, data: unknown, options: { messageId?: string } = {}): Promise<Message> {
    this.checkOpen();
    assertChannelName(channel);
    return this.session.createMessage(this.id, channel, toJson(data, `message to ${channel}`), options);
  }

  /** The channel's aggregate, `{}` when it has none. */
  async getAggregate(channel: string, options: ReadOptions = {}): Promise<Json> {
    this.checkOpen();
    assertChannelName(channel);
    return this.session.getAggregate(this.owner(options.agentId), channel);
  }

  /** Logged messages, oldest first; `limit` keeps the newest ones. */
  async getMessages(channel: string, options: GetMessagesOptions = {}): Promise<Message[]> {
    this.checkOpen();
    assertChannelName(channel);
    const { agentId, ...query } = options;
    return this.session.getMessages(this.owner(agentId), channel, query);
  }

  /** Names of the channels that exist (have an aggregate or messages), sorted. */
  async listChannels(options: ReadOptions = {}): Promise<string[]> {
    this.checkOpen();
    return this.session.listChannels(this.owner(options.agentId));
  }

  /**
   * Calls `handler` with a `sync` event per matching channel that exists (its current
   * aggregate), then `aggregate` events (whole aggregate, effective diff, version) and `message`
   * events. `nameOrPattern` may use "+" (one level) and "#" (the rest). A handler that throws or
   * rejects is reported to `onError`; it never stops other handlers or later events.
   * Returns the function that unsubscribes.
   */
  subscribe(nameOrPattern: string, handler: ChannelEventHandler, options: SubscribeOptions = {}): Unsubscribe {
    this.checkOpen();
    assertChannelPattern(nameOrPattern);
    const agentId = options.agentId ?? this.id;
    assertAgentId(agentId, true);
    if (typeof handler !== "function") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "subscribe: handler must be a function");
    let active = true;
    const context = `handler for ${agentId}/${nameOrPattern}`;
    const listener = (event: ChannelEvent): void => {
      if (!active) return;
      try {
        const result = handler(event);
        if (result && typeof (result as Promise<void>).then === "function") {
          (result as Promise<void>).then(undefined, (error) => report(this.onError, error, context));
        }
      } catch (error) {
        report(this.onError, error, context);
      }
    };
    const unsubscribeSession = this.session.subscribe(agentId, nameOrPattern, listener);
    const unsubscribe: Unsubscribe = () => {
      if (!active) return;
      active = false;
      this.subscriptions.delete(unsubscribe);
      unsubscribeSession();
    };
    this.subscriptions.set(unsubscribe, listener);
    return unsubscribe;
  }

  /**
   * Publishes at most once per `minIntervalMs` per channel. A write inside the interval is held
   * (merged with other held writes, later values winning) and published when the interval ends,
   * so no value is lost. Resolves to the publish result, or `null` when the write was held.
   */
  async publishThrottled(channel: string, data: unknown, options: PublishThrottledOptions): Promise<PublishResult | null> {
    this.checkOpen();
    assertChannelName(channel);
    return (await this.getPublishers()).publishThrottled(channel, toJson(data, `publish to ${channel}`), options);
  }

  /**
   * Deadband publishing: publishes `{ [key]: value }` to the channel only when `value` moved at
   * least `threshold` (absolute) or `percent` % from the last value published for that key; the
   * first value always goes out. Resolves to the publish result, or `null` when filtered out.
   */
  async publishOnChange(channel: string, key: string, value: number, options: PublishOnChangeOptions): Promise<PublishResult | null> {
    this.checkOpen();
    assertChannelName(channel);
    return (await this.getPublishers()).publishOnChange(channel, key, value, options);
  }

  /** Sends every write held by `maxAgeMs` or a throttle now; rejects with the first failure. */
  async flush(): Promise<void> {
    const sends: Promise<unknown>[] = [];
    for (const channel of [...this.pending.keys()]) sends.push(this.sendPending(channel));
    if (this.publishers) sends.push(this.publishers.flush());
    const results = await Promise.allSettled(sends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Sends what is pending, ends this agent's subscriptions; the agent cannot be used after. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } catch (error) {
      report(this.onError, error, "flush on close");
    }
    await Promise.allSettled([...this.inFlight]);
    this.closed = true;
    this.publishers?.close();
    for (const unsubscribe of [...this.subscriptions.keys()]) unsubscribe();
    if (this.closeSession) await this.session.close();
  }

  /** @internal Used by Application and helpers to report background failures. */
  reportError(error: unknown, context: string): void {
    report(this.onError, error, context);
  }

  private owner(agentId: string | undefined): string {
    if (agentId === undefined) return this.id;
    assertAgentId(agentId);
    return agentId;
  }

  /** assertChannelName, skipped for the channel last checked (a loop writes the same one). */
  private checkChannel(channel: string): void {
    if (channel === this.lastChecked) return;
    assertChannelName(channel);
    this.lastChecked = channel;
  }

  private checkOpen(): void {
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", `agent ${this.id} is closed`);
  }

  private async getPublishers(): Promise<Publishers> {
    this.publishers ??= new Publishers(
      (channel, data, options) => this.publish(channel, data, options) as Promise<PublishResult>,
      (error, context) => report(this.onError, error, context),
    );
    await this.publishers.ready();
    return this.publishers;
  }

  private coalesce(channel: string, data: Json, options: PublishOptions, maxAgeMs: number): void {
    const deadline = Date.now() + maxAgeMs;
    let pending = this.pending.get(channel);
    if (pending && !compose(pending, data, options)) {
      // Not expressible as one diff: send what is pending now (early is allowed), start anew.
      this.sendInBackground(channel);
      pending = undefined;
    }
    if (!pending) {
      const timer = setTimeout(() => this.sendInBackground(channel), maxAgeMs);
      pending = { data: {}, replace: false, replaceKeys: new Set(), deadline, timer };
      this.pending.set(channel, pending);
      compose(pending, data, options);
      return;
    }
    if (deadline < pending.deadline) {
      clearTimeout(pending.timer);
      pending.deadline = deadline;
      pending.timer = setTimeout(() => this.sendInBackground(channel), maxAgeMs);
    }
  }

  private sendInBackground(channel: string): void {
    const send = this.sendPending(channel).then(undefined, (error) => report(this.onError, error, `coalesced publish to ${channel}`));
    this.inFlight.add(send);
    void send.finally(() => this.inFlight.delete(send));
  }

  private async sendPending(channel: string): Promise<PublishResult | undefined> {
    const pending = this.pending.get(channel);
    if (!pending) return undefined;
    this.pending.delete(channel);
    clearTimeout(pending.timer);
    const options: PublishOptions = {};
    if (pending.replace) options.replace = true;
    else if (pending.replaceKeys.size > 0) options.replaceKeys = [...pending.replaceKeys];
    return this.session.publish(this.id, channel, pending.data, options);
  }
}

/**
 * Folds a later write into the pending one, so that sending it has the effect of both; false
 * (and nothing changed) when that cannot be said in one write.
 */
function compose(pending: Pending, data: Json, options: PublishOptions): boolean {
  if (options.replace || !isObject(data)) {
    // A replace, or a non-object diff, sets the whole aggregate.
    pending.data = data;
    pending.replace = true;
    pending.replaceKeys.clear();
    return true;
  }
  const replaced = new Set(options.replaceKeys ?? []);
  if (pending.replace) {
    // `pending.data` is a whole state: apply the later write to it as a real merge.
    const state: JsonObject = { ...(isObject(pending.data) ? pending.data : {}) };
    const rest: JsonObject = {};
    for (const key of Object.keys(data)) if (!replaced.has(key)) rest[key] = data[key]!;
    for (const key of replaced) {
      const v = data[key];
      if (v === undefined) continue; // a replace key the write does not carry is left alone
      if (v === null) delete state[key];
      else state[key] = applyDiff(undefined, v);
    }
    pending.data = applyDiff(state, rest, true);
    return true;
  }
  const base: JsonObject = isObject(pending.data) ? pending.data : {};
  for (const key of Object.keys(data)) {
    if (replaced.has(key) || pending.replaceKeys.has(key)) continue;
    if (clearsThenSets(base[key], data[key]!)) return false;
  }
  const out: JsonObject = { ...base };
  for (const key of Object.keys(data)) {
    const v = data[key]!;
    if (replaced.has(key)) {
      // This write's whole subtree.
      out[key] = v;
      pending.replaceKeys.add(key);
    } else if (pending.replaceKeys.has(key)) {
      // An earlier write's whole subtree: merge into it for real.
      out[key] = v === null ? null : applyDiff(out[key] ?? undefined, v, true);
    } else {
      // Diff onto diff: nulls kept so they still clear when sent.
      out[key] = applyDiff(Object.prototype.hasOwnProperty.call(out, key) ? out[key] : undefined, v, false);
    }
  }
  pending.data = out;
  return true;
}

/**
 * True when merging `later` onto `earlier` (both diffs) could end differently from applying them
 * one after the other. Doover's merge is not associative where a stored value is not an object:
 * a diff object landing on a scalar, array or null is stored verbatim, nulls included, while one
 * landing on an object merges and its nulls delete. So two writes cannot become one when, under
 * the same key:
 *   - `earlier` sets a non-object and `later` an object (one by one, the earlier write wiped the
 *     key's old fields; merged, the object would merge into them), or
 *   - both set objects and `later`'s carries a null (if the stored value there is not an object,
 *     one by one the null deletes from `earlier`'s verbatim object; merged, it is stored).
 */
function clearsThenSets(earlier: Json | undefined, later: Json): boolean {
  if (!isObject(later) || earlier === undefined) return false;
  if (!isObject(earlier)) return true;
  if (containsNull(later)) return true;
  for (const key of Object.keys(later)) {
    if (Object.prototype.hasOwnProperty.call(earlier, key) && clearsThenSets(earlier[key], later[key]!)) return true;
  }
  return false;
}

function containsNull(value: JsonObject): boolean {
  for (const key of Object.keys(value)) {
    const v = value[key]!;
    if (v === null || (isObject(v) && containsNull(v))) return true;
  }
  return false;
}
