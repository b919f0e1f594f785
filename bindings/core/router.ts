// Binding of the core channel router (assembly/router.ts). Only numbers cross: names are written
// as UTF-8 into the core's input region, results are read from linear memory through the
// instance's cached views.
import type { CoreExports, CoreInstance } from "./instance.js";
import { TagwireError, statusError } from "./errors.js";
import { MAX_NAME_BYTES, nameError, shownName } from "./names.js";

/**
 * Channel name -> interned channel id, one map per core instance (interning is per instance and
 * ids are never released, so an entry never goes stale). Saves encoding the string and crossing
 * the boundary for channels seen before. Cleared when it reaches CHANNEL_ID_CACHE_LIMIT entries so
 * a stream of unique names cannot grow it without bound (the core still knows every id).
 */
const channelIdCaches = new WeakMap<CoreInstance, Map<string, number>>();
const CHANNEL_ID_CACHE_LIMIT = 1 << 16;

/**
 * Routes channel names to subscriber ids with MQTT-style patterns.
 *
 * Names (the tagwire rule): a channel name is 1..255 UTF-8 bytes of levels separated by "/", no
 * empty level (no leading, trailing or doubled "/"), each level made only of `[A-Za-z0-9_.:-]`.
 * A pattern is the same, except that a level may be exactly `+` (any one level) and the LAST level
 * may be exactly `#` (zero or more remaining levels: `a/#` matches `a`, `a/b` and `a/b/c`).
 * Routing keys are `${agentId}/${channel}`, so patterns such as `+/sensors/#` are normal.
 * Anything else throws a TagwireError with code `TAGWIRE_ERR_NAME` and changes nothing.
 *
 * Matching results are computed once per channel and cached in the core until the next
 * subscribe/unsubscribe that changes something; `channelId` + `matchId` is the fastest path.
 */
export class Router {
  readonly instance: CoreInstance;
  private readonly ex: CoreExports;
  private readonly channelIds: Map<string, number>;
  private handle: number;
  /**
   * A u32 view of linear memory, kept here to skip the instance's per-access check of
   * `memory.buffer`. When memory grows the old buffer is detached and this view's length drops
   * to 0, so "index out of range" is exactly "stale view".
   */
  private u32: Uint32Array;

  constructor(instance: CoreInstance) {
    instance.check();
    this.instance = instance;
    this.ex = instance.exports;
    let ids = channelIdCaches.get(instance);
    if (!ids) channelIdCaches.set(instance, (ids = new Map()));
    this.channelIds = ids;
    this.handle = this.ex.routerCreate();
    this.u32 = instance.u32;
  }

  /** @internal The core handle, for a pipeline over this router. */
  get coreHandle(): number {
    return this.handle;
  }

  /** Subscribes `id` (an integer 0..2^32-1) to `pattern`. Subscribing twice is a no-op. */
  subscribe(pattern: string, id: number): void {
    const len = this.writePattern(pattern, id, "subscribe");
    const r = this.ex.routerSubscribe(this.handle, this.instance.inPtr, len, id);
    if (r < 0) throw statusError(-r, `router.subscribe(${shownName(pattern)})`);
  }

  /** Removes `id` from `pattern`; true if it was subscribed to exactly that pattern. */
  unsubscribe(pattern: string, id: number): boolean {
    const len = this.writePattern(pattern, id, "unsubscribe");
    const r = this.ex.routerUnsubscribe(this.handle, this.instance.inPtr, len, id);
    if (r < 0) throw statusError(-r, `router.unsubscribe(${shownName(pattern)})`);
    return r === 1;
  }

  /**
   * Subscriber ids whose patterns match `channel`: ascending, no duplicates.
   *
   * Returns a VIEW of the core's cached result, as `matchId` does (no array is built, so a
   * channel with hundreds of subscribers costs what one with three does): read it before the next
   * call into this core, or use `matchArray` for a plain array to keep.
   */
  match(channel: string): Uint32Array {
    return this.matchId(this.channelId(channel));
  }

  /** `match` as a fresh plain array, for callers that keep or change the result. */
  matchArray(channel: string): number[] {
    const ids = this.matchId(this.channelId(channel));
    // A counted loop: Array.from over a typed array is several times slower for long lists.
    const out = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
    return out;
  }

  /**
   * The interned id of a channel name (validating it once). Ids belong to the core instance, not
   * to this router: they are stable forever and valid with every router of the same core.
   */
  channelId(channel: string): number {
    if (this.handle === 0) throw this.disposedError();
    const known = this.channelIds.get(channel);
    if (known !== undefined) return known;
    if (typeof channel !== "string") throw nameError("channel name", channel, "not a string");
    if (channel.length === 0 || channel.length > MAX_NAME_BYTES) {
      throw nameError("channel name", channel, `must be 1..${MAX_NAME_BYTES} bytes`);
    }
    this.instance.check();
    const len = this.instance.writeInString(channel);
    const id = this.ex.routerInternChannel(this.handle, this.instance.inPtr, len);
    if (id < 0) throw statusError(-id, `router.channelId(${shownName(channel)})`);
    if (this.channelIds.size >= CHANNEL_ID_CACHE_LIMIT) this.channelIds.clear();
    this.channelIds.set(channel, id);
    return id;
  }

  /**
   * Subscriber ids for an id from `channelId`: ascending, no duplicates.
   *
   * Returns a VIEW of the core's cached result (no copy): read it before the next call into this
   * core (any call may grow linear memory, which detaches the view, and a subscribe/unsubscribe
   * rewrites the cached list). Use `.slice()` to keep it.
   */
  matchId(channelId: number): Uint32Array {
    const at = this.matchPtr(channelId) >>> 2;
    const u32 = this.view(at);
    return u32.subarray(at + 1, at + 1 + u32[at]!);
  }

  /** Number of (pattern, id) subscriptions held. */
  get subscriptionCount(): number {
    const n = this.ex.routerSubscriptionCount(this.handle);
    if (n < 0) throw this.disposedError();
    return n;
  }

  /** Frees the router's core memory. Later calls throw TAGWIRE_ERR_NOT_FOUND; a second dispose is a no-op. */
  dispose(): void {
    if (this.handle === 0) return;
    this.instance.check();
    this.ex.routerDispose(this.handle);
    this.handle = 0;
  }

  /** The live u32 view, given a word index the core just returned (see `u32`). */
  private view(at: number): Uint32Array {
    let u32 = this.u32;
    if (at >= u32.length) this.u32 = u32 = this.instance.u32;
    return u32;
  }

  /** Address of the cached [count u32][id u32 x count] list. */
  private matchPtr(channelId: number): number {
    if (this.instance.dead) this.instance.check();
    if ((channelId | 0) !== channelId || channelId < 0) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `router.matchId(${channelId}): not a channel id`);
    }
    const ptr = this.ex.routerMatchId(this.handle, channelId) >>> 0;
    if (ptr === 0) {
      if (this.handle === 0) throw this.disposedError();
      throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `router.matchId(${channelId}): unknown channel id`);
    }
    return ptr;
  }

  /** Checks the arguments of subscribe/unsubscribe and writes the pattern; returns its byte length. */
  private writePattern(pattern: string, id: number, what: string): number {
    if (this.handle === 0) throw this.disposedError();
    if (typeof pattern !== "string") throw nameError("pattern", pattern, "not a string");
    if (pattern.length === 0 || pattern.length > MAX_NAME_BYTES) {
      throw nameError("pattern", pattern, `must be 1..${MAX_NAME_BYTES} bytes`);
    }
    if (id >>> 0 !== id) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `router.${what}: subscriber id ${id} is not an integer 0..2^32-1`);
    }
    this.instance.check();
    return this.instance.writeInString(pattern);
  }

  private disposedError(): TagwireError {
    return new TagwireError("TAGWIRE_ERR_NOT_FOUND", "router is disposed");
  }
}
