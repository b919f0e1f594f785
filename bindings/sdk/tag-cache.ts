// The tag cache of an Application: `tag_values` as this app knows it, the writes it has in flight
// and this loop's pending diff, read synchronously and written synchronously; the Application
// sends a commit (one write per loop) and reports its result back here.
//
// The app's own namespace is the hot path (a main loop sets and reads dozens of its own tags per
// loop), so it is kept flat, in one Map from tag name to OwnTag: the tag's committed value (the
// namespace as of `version`, with writes confirmed but not yet seen in an event) and this loop's
// resulting value (DELETED for a delete). A read is one Map lookup; a set of a primitive is a
// `===` compare and a few stores. A commit lists the OwnTags it set with their values, so taking
// and confirming it touch only those (no lookups); a by-name view of it is built only when a
// read has to look through it (writes in flight under this loop's). Everything else (global
// tags, other apps' namespaces) reads through the whole document `base` and the diffs layered
// on it, as before.
//
// Exactness: after a write the cache is what the store holds when the write's version follows
// the cache's version directly (nobody wrote in between), since a merge of the diff sent onto the
// state before it is by definition the state after it. So the app's own commit updates the cache
// from what it sent and never needs to decode its own event; any other event, or a gap in the
// versions, replaces the cache with the event's aggregate, the truth.
import { TagwireError } from "../core/errors.js";
import { assertKey } from "./names.js";
import { applyDiff, deepFreeze, diffChanges, freezeChanged, getPath, isObject, toJson, type JsonObject } from "./json.js";
import { evaluateTriggers, type LogTrigger, type TriggerState } from "./triggers.js";
import { headOf, versionOf } from "./aggregate-chain.js";
import type { ChannelEvent, Json, PublishResult } from "./session.js";

export interface TagAddress {
  /** A top-level key of `tag_values` instead of one inside an app's namespace. */
  global?: boolean;
  /** Another app's namespace on the same agent (default: this app's). */
  appKey?: string;
}

export interface SetTagOptions extends TagAddress {
  /** Also log this value (one message on `tag_values` after the commit). */
  log?: boolean;
  /** pydoover's log_on: log when any of these triggers fires (see triggers.ts). */
  logOn?: LogTrigger | readonly LogTrigger[];
}

/** A pending own value that deletes the tag (null in the diff). */
const DELETED: unique symbol = Symbol("deleted");
type Slot = Json | typeof DELETED;

/** One tag of the own namespace. */
class OwnTag {
  readonly key: string;
  /** The value at the cache's `version` (frozen, never null); undefined when absent. */
  committed: Json | undefined = undefined;
  /** This loop's resulting value (DELETED: removed); undefined when not set this loop. */
  pending: Slot | undefined = undefined;
  /** False once dropped from the cache's Map (a commit holding it then looks the key up again). */
  live = true;

  constructor(key: string) {
    this.key = key;
  }
}

/** One write of `tag_values`: what was sent, and the own namespace's values it results in. */
export interface TagCommit {
  readonly data: JsonObject;
  /** The own tags this commit sets and, in step, their values after it (DELETED: removed). */
  readonly tags: OwnTag[];
  readonly values: Slot[];
  /** The same by tag name, built when first needed (see viewOf); then it is the one kept current. */
  view: Map<string, Slot> | undefined;
  /** The cache's version when the commit was taken. */
  readonly baseVersion: number;
  /** True when `data` holds more than the own namespace (global tags, other apps'). */
  readonly others: boolean;
}

type AggregateEvent = Extract<ChannelEvent, { aggregate: Json }>;

export class TagCache {
  readonly appKey: string;
  /** `tag_values` at `version`, except that its own namespace lags while `ownAhead`. */
  private base: Json = {};
  private version = 0;
  /** True once own commits were applied to the committed values but not to `base`. */
  private ownAhead = false;
  /** `base` with the committed own values as its own namespace, built when asked for. */
  private document: Json | undefined;
  /** The own namespace by tag name: committed values and this loop's. */
  private readonly own = new Map<string, OwnTag>();
  /** The own tags set this loop (`pending` defined), in the order first set. */
  private setTags: OwnTag[] = [];
  /** Commits stored at a version that does not follow `version` (someone wrote in between), by version. */
  private unconfirmed: Array<{ version: number; commit: TagCommit }> = [];
  /** Commits sent and not answered yet, oldest first. */
  private inflight: TagCommit[] = [];
  /** An event that is most likely the one commit in flight's own, held unread until its result says. */
  private deferred: AggregateEvent | undefined;
  /** The held event's version. */
  private deferredVersion = 0;
  /** This loop's own-namespace diff (nulls kept) and the values it results in. */
  private pendingOwn: JsonObject = {};
  private dirtyOwn = false;
  /** This loop's diff outside the own namespace: `{ [otherApp]: { tag }, globalTag }`. */
  private pendingOther: JsonObject | undefined;
  private pendingLog: JsonObject | undefined;
  private readonly triggerStates = new Map<string, TriggerState[]>();
  /**
   * The own tags in the order this loop's primitive sets named them (up to MAX_ORDER), kept from
   * the last loop as a guess for this one; `cursor` is the next set's position (0 after a commit).
   * Only a cache of the Map: a guess is used when its key is the key set and it is still live.
   */
  private readonly order: OwnTag[] = [];
  private cursor = 0;

  constructor(appKey: string) {
    this.appKey = appKey;
  }

  /** True when there is something to commit. */
  get dirty(): boolean {
    return this.dirtyOwn || this.pendingOther !== undefined;
  }

  // ---------------------------------------------------------------- reads

  /** The own tag's value with this loop's writes; undefined when absent (or null). */
  getOwn(key: string): Json | undefined {
    const v = this.currentOwn(key);
    return v === DELETED || v === null ? undefined : v;
  }

  /** The own tag's slot with this loop's writes (checks the key when no OwnTag knows it). */
  private currentOwn(key: string): Slot | undefined {
    return this.currentOf(this.own.get(key), key);
  }

  /** currentOwn for the key's OwnTag (undefined: none yet). */
  private currentOf(tag: OwnTag | undefined, key: string): Slot | undefined {
    if (tag !== undefined && tag.pending !== undefined) return tag.pending;
    const below = this.layered() ? this.below(key) : tag?.committed;
    if (below === undefined && tag === undefined) assertKey("tag key", key); // a known tag is a key already checked
    return below;
  }

  /** A tag anywhere in `tag_values`; the own namespace goes through getOwn. */
  get(key: string, address: TagAddress | undefined): Json | undefined {
    const path = this.pathOf(key, address);
    if (path === undefined) return this.getOwn(key);
    if (this.deferred !== undefined) this.settle();
    // Only the own namespace lags in `base`; a path outside it reads base as it is.
    let value = getPath(path[0] === this.appKey ? this.doc() : this.base, path);
    for (const u of this.unconfirmed) value = applyAt(value, u.commit.data, path);
    for (const c of this.inflight) value = applyAt(value, c.data, path);
    if (this.pendingOther !== undefined) value = applyAt(value, this.pendingOther, path);
    if (path.length === 1 && path[0] === this.appKey && this.dirtyOwn) value = applyDiff(value, this.pendingOwn);
    return value === null ? undefined : value;
  }

  // ---------------------------------------------------------------- writes

  /**
   * Sets a tag in this loop's pending diff; a value equal to the current one changes nothing and
   * is not logged. Objects merge into an object value, as any diff does. `logOn` triggers are
   * evaluated on every call.
   */
  set(key: string, value: unknown, options: SetTagOptions | undefined): void {
    if (options === undefined && (typeof value === "number" || typeof value === "string" || typeof value === "boolean")) {
      // The hot path: an own tag set to a primitive. A loop sets its tags in the same order each
      // time, so the tag at this position last loop is tried before the Map (a lookup per set
      // was the larger part of a set's cost).
      const at = this.cursor++;
      let tag = this.order[at];
      if (tag === undefined || tag.key !== key || !tag.live) {
        tag = this.own.get(key);
        if (tag !== undefined && at < MAX_ORDER) this.order[at] = tag;
      }
      const cur = this.currentOf(tag, key);
      if (cur === value || (Number.isNaN(value) && Number.isNaN(cur))) return; // unchanged (NaN included)
      // Its own keyed store, not setOwn's (shared by every object setOwn writes): with setOwn
      // here, 3 of 4 app-loop bench runs ran 1.5x slow, against 1 of 4 with this.
      if (key === "__proto__") setOwn(this.pendingOwn, key, value);
      else this.pendingOwn[key] = value;
      if (tag === undefined) {
        this.own.set(key, (tag = new OwnTag(key)));
        if (at < MAX_ORDER) this.order[at] = tag;
      }
      if (tag.pending === undefined) this.setTags.push(tag);
      tag.pending = value;
      this.dirtyOwn = true;
      return;
    }
    this.setSlow(key, value, options ?? EMPTY);
  }

  /** Values logged since the last call (one message on `tag_values`), or undefined. */
  takeLog(): JsonObject | undefined {
    const log = this.pendingLog;
    this.pendingLog = undefined;
    return log;
  }

  // ---------------------------------------------------------------- commits

  /** Takes this loop's pending diff as a commit in flight; undefined when there is none. */
  take(): TagCommit | undefined {
    this.cursor = 0; // the next loop's sets start over (see set)
    if (!this.dirty) return undefined;
    const data: JsonObject = this.pendingOther ?? {};
    if (this.dirtyOwn) setOwn(data, this.appKey, this.pendingOwn);
    const tags = this.setTags;
    const values: Slot[] = new Array(tags.length);
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!;
      values[i] = tag.pending!;
      tag.pending = undefined;
    }
    if (tags.length > 0) this.setTags = [];
    const commit: TagCommit = { data, tags, values, view: undefined, baseVersion: this.version, others: this.pendingOther !== undefined };
    this.pendingOwn = {};
    this.pendingOther = undefined;
    this.dirtyOwn = false;
    this.inflight.push(commit);
    return commit;
  }

  /** The commit failed: its tags go back under anything set since, for the next commit. */
  fail(commit: TagCommit): void {
    this.dropInflight(commit);
    if (this.deferred !== undefined) this.settle();
    const { [this.appKey]: own, ...other } = commit.data;
    if (own !== undefined) {
      this.pendingOwn = applyDiff(own, this.pendingOwn, false) as JsonObject;
      this.forEachOwn(commit, (k, v) => {
        if (this.tagOf(k).pending === undefined) this.setPending(k, v);
      });
      this.dirtyOwn = true;
    }
    if (Object.keys(other).length > 0) this.pendingOther = applyDiff(other, this.pendingOther ?? {}, false) as JsonObject;
  }

  /** The commit was stored as `result` (null or a negative version: queued; it shows when its event does). */
  confirm(commit: TagCommit, result: PublishResult | null): void {
    this.confirmAt(commit, result == null ? -1 : (versionOf(result) ?? -1));
  }

  /** confirm, for a commit stored at `version` (negative: queued). */
  confirmAt(commit: TagCommit, version: number): void {
    this.dropInflight(commit);
    const held = this.deferred;
    if (held !== undefined) {
      this.deferred = undefined;
      // Our own event, unread: nothing else was written in between, so what we sent is the change.
      if (this.deferredVersion === version && version === this.version + 1) return this.advance(commit, version);
      this.adopt(held);
    }
    if (version <= this.version) return; // an event already brought it
    if (version === this.version + 1) return this.advance(commit, version);
    let i = this.unconfirmed.length;
    while (i > 0 && this.unconfirmed[i - 1]!.version > version) i--;
    this.unconfirmed.splice(i, 0, { version, commit });
  }

  // ---------------------------------------------------------------- state from the channel

  /** The first read of `tag_values`, when no event came before it. */
  reset(aggregate: Json): void {
    this.replaceBase(deepFreeze(aggregate), this.version);
  }

  /** A sync, aggregate or resynced event of `tag_values`. */
  onEvent(event: AggregateEvent): void {
    // Read once, past the Proxy when it is a LocalBus event just made (see headOf).
    const head = headOf(event);
    const type = head.type;
    const version = head.version;
    if (type === "aggregate" && this.deferred === undefined && this.inflight.length === 1 && version === this.version + 1) {
      // Most likely the event of our own write, come before its result: keep it unread.
      this.deferred = event;
      this.deferredVersion = version;
      return;
    }
    if (this.deferred !== undefined) this.settle();
    // An aggregate event at the cache's version brings nothing new (the cache is exact there).
    if (version > this.version || type === "resynced" || (type === "sync" && version === this.version)) {
      this.adopt(event);
    }
  }

  /** The whole `tag_values` as last confirmed (what watchers compare a resync against). */
  snapshot(): Json {
    if (this.deferred !== undefined) this.settle();
    return this.doc();
  }

  // ---------------------------------------------------------------- internals

  /** True when writes lie between this loop's and the committed values (or an event waits to be read). */
  private layered(): boolean {
    return this.inflight.length > 0 || this.unconfirmed.length > 0 || this.deferred !== undefined;
  }

  /** The own tag below this loop's writes: in flight, unconfirmed, committed (newest first). */
  private below(key: string): Slot | undefined {
    if (this.deferred !== undefined) this.settle();
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const v = viewOf(this.inflight[i]!).get(key);
      if (v !== undefined) return v;
    }
    for (let i = this.unconfirmed.length - 1; i >= 0; i--) {
      const v = viewOf(this.unconfirmed[i]!.commit).get(key);
      if (v !== undefined) return v;
    }
    return this.own.get(key)?.committed;
  }

  /** The own tag `key`, made when new. */
  private tagOf(key: string): OwnTag {
    let tag = this.own.get(key);
    if (tag === undefined) this.own.set(key, (tag = new OwnTag(key)));
    return tag;
  }

  /** Sets the own tag's value for this loop (its diff is pendingOwn's business). */
  private setPending(key: string, value: Slot): void {
    const tag = this.tagOf(key);
    if (tag.pending === undefined) this.setTags.push(tag);
    tag.pending = value;
  }

  /** Sets an own tag's committed value (undefined: absent); a tag with nothing left is dropped. */
  private commitTag(tag: OwnTag, value: Json | undefined): void {
    if (!tag.live) tag = this.tagOf(tag.key);
    tag.committed = value;
    if (value === undefined && tag.pending === undefined) this.dropTag(tag);
  }

  private dropTag(tag: OwnTag): void {
    tag.live = false;
    this.own.delete(tag.key);
  }

  /** Calls `fn` with each own tag a commit sets and its value, from its view once it has one. */
  private forEachOwn(commit: TagCommit, fn: (key: string, value: Slot) => void): void {
    if (commit.view !== undefined) {
      for (const [k, v] of commit.view) fn(k, v);
      return;
    }
    const { tags, values } = commit;
    for (let i = 0; i < tags.length; i++) fn(tags[i]!.key, values[i]!);
  }

  private setSlow(key: string, value: unknown, options: SetTagOptions): void {
    const path = this.pathOf(key, options);
    if (path?.length === 1 && key === this.appKey) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `global tag ${key} is this app's namespace: set the app's own tags instead`);
    }
    if (value === undefined) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `setTag(${key}): value is undefined (use deleteTag or null)`);
    const json = deepFreeze(toJson(value, `tag ${key}`));
    const current = path === undefined ? this.getOwn(key) : this.get(key, options);
    let log = options.log ?? false;
    if (options.logOn !== undefined) {
      const triggers = Array.isArray(options.logOn) ? options.logOn : [options.logOn as LogTrigger];
      const stateKey = path === undefined ? `${this.appKey}/${key}` : path.join("/");
      let states = this.triggerStates.get(stateKey);
      if (!states) this.triggerStates.set(stateKey, (states = []));
      if (evaluateTriggers(triggers, current, json, states)) log = true;
    }
    if (!diffChanges(current, json)) return;
    if (path === undefined) {
      const old = Object.prototype.hasOwnProperty.call(this.pendingOwn, key) ? this.pendingOwn[key] : undefined;
      setOwn(this.pendingOwn, key, isObject(old) && isObject(json) ? applyDiff(old, json, false) : json);
      this.setPending(key, json === null ? DELETED : merged(current, json));
      this.dirtyOwn = true;
    } else {
      this.pendingOther ??= {};
      setIn(this.pendingOther, path, json);
    }
    if (log) setIn((this.pendingLog ??= {}), path ?? [this.appKey, key], json);
  }

  /** The tag's path in the document, or undefined for this app's own tags. */
  private pathOf(key: string, address: TagAddress | undefined): string[] | undefined {
    if (address === undefined || (!address.global && (address.appKey === undefined || address.appKey === this.appKey))) return undefined;
    assertKey("tag key", key);
    if (address.global) return [key];
    assertKey("app key", address.appKey);
    return [address.appKey!, key];
  }

  /** The cache moves to `version` by this commit, with nothing written in between. */
  private advance(commit: TagCommit, version: number): void {
    this.version = version;
    this.document = undefined;
    const data = commit.data;
    const own = data[this.appKey];
    if (isObject(own)) {
      // The values as they were set, except object merges: an event in between may have changed
      // an object tag's other keys, so the diff is merged onto what is stored now. (The view Map
      // has the diff's keys; it is iterated rather than the diff, a dictionary-mode object.)
      if (commit.view === undefined) {
        const { tags, values } = commit;
        for (let i = 0; i < tags.length; i++) this.advanceTag(tags[i]!, values[i]!, own);
      } else {
        for (const [k, v] of commit.view) this.advanceTag(this.tagOf(k), v, own);
      }
      this.ownAhead = true;
    }
    if (commit.others) {
      const { [this.appKey]: _own, ...rest } = data;
      this.base = freezeChanged(applyDiff(this.base, rest), rest);
    }
    // A commit stored right after this one is now in order as well.
    const next = this.unconfirmed[0];
    if (next !== undefined && next.version === version + 1) {
      this.unconfirmed.shift();
      this.advance(next.commit, next.version);
    }
  }

  /** One tag of a commit stored right after the cache's version. */
  private advanceTag(tag: OwnTag, v: Slot, own: JsonObject): void {
    if (!tag.live) tag = this.tagOf(tag.key);
    if (v === DELETED) this.commitTag(tag, undefined);
    else if (isObject(v)) tag.committed = merged(tag.committed, own[tag.key]!);
    else tag.committed = v;
  }

  private dropInflight(commit: TagCommit): void {
    const inflight = this.inflight;
    if (inflight.length === 1 && inflight[0] === commit) {
      inflight.pop(); // the usual case: one commit per loop
      return;
    }
    const i = inflight.indexOf(commit);
    if (i >= 0) inflight.splice(i, 1);
  }

  /** Reads the held event after all: it is the truth at its version. */
  private settle(): void {
    const event = this.deferred!;
    this.deferred = undefined;
    this.adopt(event);
  }

  private adopt(event: AggregateEvent): void {
    if (this.unconfirmed.length > 0) this.unconfirmed = this.unconfirmed.filter((u) => u.version > event.version);
    this.replaceBase(event.aggregate, event.version);
  }

  private replaceBase(aggregate: Json, version: number): void {
    this.base = aggregate;
    this.version = version;
    this.document = undefined;
    this.ownAhead = false;
    for (const tag of this.own.values()) tag.committed = undefined;
    const ns = isObject(aggregate) ? aggregate[this.appKey] : undefined;
    if (isObject(ns)) for (const k of Object.keys(ns)) if (ns[k] !== null) this.tagOf(k).committed = ns[k]!;
    for (const tag of this.own.values()) if (tag.committed === undefined && tag.pending === undefined) this.dropTag(tag);
    this.remerge();
  }

  /**
   * After the namespace changed under them, the object tags merged by later writes are merged
   * again onto what is below them now (scalars, arrays and deletes replace, so they stand).
   */
  private remerge(): void {
    // The commits' views, oldest first; this loop's values (last) live in the OwnTags.
    const layers: Array<[JsonObject | undefined, Map<string, Slot> | undefined]> = [];
    for (const u of this.unconfirmed) layers.push([ownDiff(u.commit.data, this.appKey), viewOf(u.commit)]);
    for (const c of this.inflight) layers.push([ownDiff(c.data, this.appKey), viewOf(c)]);
    layers.push([this.pendingOwn, undefined]);
    for (let i = 0; i < layers.length; i++) {
      const [diff, view] = layers[i]!;
      if (diff === undefined) continue;
      for (const k in diff) {
        const d = diff[k]!;
        if (!isObject(d)) continue;
        let under: Slot | undefined;
        for (let j = i - 1; j >= 0 && under === undefined; j--) under = layers[j]![1]!.get(k);
        under ??= this.own.get(k)?.committed;
        const value = merged(under === DELETED ? undefined : under, d);
        if (view !== undefined) view.set(k, value);
        else this.setPending(k, value);
      }
    }
  }

  /** The whole document at `version` (own namespace from the committed values). */
  private doc(): Json {
    if (!this.ownAhead) return this.base;
    if (this.document === undefined) {
      const ns: JsonObject = {};
      for (const tag of this.own.values()) if (tag.committed !== undefined) setOwn(ns, tag.key, tag.committed);
      const doc: JsonObject = isObject(this.base) ? { ...this.base } : {};
      setOwn(doc, this.appKey, ns);
      this.document = deepFreeze(doc as Json);
    }
    return this.document;
  }
}

const EMPTY: SetTagOptions = Object.freeze({});
/** Positions of a loop's sets remembered (TagCache.order). */
const MAX_ORDER = 1024;

/** A tag's value after a diff `d` is merged onto `current` (frozen). */
function merged(current: Json | undefined, d: Json): Json {
  return isObject(d) ? freezeChanged(applyDiff(current, d), d) : d;
}

/** The commit's own values by tag name, built on first use and kept current from then on. */
function viewOf(commit: TagCommit): Map<string, Slot> {
  if (commit.view === undefined) {
    const view = new Map<string, Slot>();
    for (let i = 0; i < commit.tags.length; i++) view.set(commit.tags[i]!.key, commit.values[i]!);
    commit.view = view;
  }
  return commit.view;
}

function ownDiff(data: JsonObject, appKey: string): JsonObject | undefined {
  const own = Object.prototype.hasOwnProperty.call(data, appKey) ? data[appKey] : undefined;
  return isObject(own) ? own : undefined;
}

/** Sets an own key: `__proto__` is a valid tag key, and must not reach the prototype setter. */
function setOwn(target: JsonObject, key: string, value: Json): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Sets `value` at `path` in a diff we own, composing with what is there (nulls kept). */
function setIn(target: JsonObject, path: string[], value: Json): void {
  let obj = target;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = Object.prototype.hasOwnProperty.call(obj, k) ? obj[k] : undefined;
    if (!isObject(next) || Object.isFrozen(next)) setOwn(obj, k, isObject(next) ? { ...next } : {});
    obj = obj[k] as JsonObject;
  }
  const last = path[path.length - 1]!;
  const old = Object.prototype.hasOwnProperty.call(obj, last) ? obj[last] : undefined;
  setOwn(obj, last, isObject(old) && isObject(value) ? applyDiff(old, value, false) : value);
}

/** The value at `path` after applying `diff` to a document whose value there is `current`. */
function applyAt(current: Json | undefined, diff: Json, path: string[]): Json | undefined {
  let d: Json | undefined = diff;
  for (const key of path) {
    if (!isObject(d)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(d, key)) return current;
    d = d[key];
  }
  if (d === null) return undefined;
  return applyDiff(current, d!);
}
