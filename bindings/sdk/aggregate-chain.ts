// A LocalBus channel's aggregate as frozen JS values, one per version, built only when read.
//
// Every write's event carries the effective diff and the whole aggregate after it. Decoding the
// diff from the core's msgpack and merging it into the previous version's JS value costs more
// than the write itself, and a listener often reads neither (an app recognising its own write
// keeps its cache from what it sent). So an event holds a PackedDiff (the core's bytes, decoded on
// first read) and an AggregateNode: the previous version's node plus that diff, resolved on first
// read by merging forward from the newest resolved node. A chain that nobody reads is cut after
// MAX_UNREAD versions or MAX_UNREAD_BYTES of diffs by reading the aggregate from the store
// instead, so it holds a bounded amount; the store's read is exact at any version, a merge of
// exact diffs equally so. (Reading the store decodes the whole aggregate, so the bounds are set
// to make that rare: once per 1,024 small writes.)
import { unpackr } from "../core/doc.js";
import { applyDiff, deepFreeze, freezeChanged } from "./json.js";
import type { ChannelEvent, Json, Message, PublishResult } from "./session.js";

/** Unread versions, and bytes of their diffs, a chain may hold before the next is read from the store. */
export const MAX_UNREAD = 1024;
export const MAX_UNREAD_BYTES = 256 * 1024;

const NO_BYTES = new Uint8Array(0);

/**
 * Small diffs are copied into shared slabs, not a buffer each: allocating an ArrayBuffer per
 * write cost more than the write's merge (a slab is 32 KiB, about 700 telemetry diffs). A slab
 * lives while a diff in it is unread; larger diffs get their own copy.
 */
const SLAB_BYTES = 32 * 1024;
const MAX_SLAB_COPY = 2048;
const COPY_LOOP_BYTES = 128;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** An effective diff as the core wrote it (a copy of its bytes), decoded and frozen on first read. */
export class PackedDiff {
  /** Size of the encoded diff. */
  readonly size: number;
  private bytes: Uint8Array;
  private start: number;
  private value: Json = null;
  private decoded = false;

  /** A diff of these bytes (kept, not copied: the caller hands them over). */
  constructor(bytes: Uint8Array, start = 0, size = bytes.length) {
    this.bytes = bytes;
    this.start = start;
    this.size = size;
  }

  /** A diff copied out of `source[start, start + size)` (the core's output, reused by its next call). */
  static copyOf(source: Uint8Array, start: number, size: number): PackedDiff {
    if (size > MAX_SLAB_COPY) return new PackedDiff(source.slice(start, start + size));
    if (slabUsed + size > SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES);
      slabUsed = 0;
    }
    const at = slabUsed;
    // A telemetry diff is tens of bytes: a loop costs less than the view subarray() allocates.
    if (size <= COPY_LOOP_BYTES) for (let i = 0; i < size; i++) slab[at + i] = source[start + i]!;
    else slab.set(source.subarray(start, start + size), at);
    slabUsed = at + size;
    return new PackedDiff(slab, at, size);
  }

  get(): Json {
    if (!this.decoded) {
      this.value = deepFreeze(unpackr.unpack(this.bytes.subarray(this.start, this.start + this.size)) as Json);
      this.decoded = true;
      this.bytes = NO_BYTES;
    }
    return this.value;
  }
}

/** The aggregate at one version: a value, or the previous version's node and the diff between. */
export class AggregateNode {
  readonly version: number;
  /** Unread versions behind this one, itself included (0 when resolved at creation), and their diffs' bytes. */
  readonly unread: number;
  readonly unreadBytes: number;
  private value: Json = null;
  private resolved: boolean;
  private prev: AggregateNode | undefined;
  private diff: PackedDiff | undefined;

  private constructor(version: number, unread: number, unreadBytes: number, prev: AggregateNode | undefined, diff: PackedDiff | undefined) {
    this.version = version;
    this.unread = unread;
    this.unreadBytes = unreadBytes;
    this.prev = prev;
    this.diff = diff;
    this.resolved = false;
  }

  /** A node whose (frozen) value is known. */
  static of(version: number, value: Json): AggregateNode {
    const node = new AggregateNode(version, 0, 0, undefined, undefined);
    node.value = value;
    node.resolved = true;
    return node;
  }

  /** True when one more diff may be chained onto this node. */
  get chainable(): boolean {
    return this.resolved || (this.unread < MAX_UNREAD && this.unreadBytes < MAX_UNREAD_BYTES);
  }

  /** The next version: this one's value with `diff` merged in, when read. */
  next(version: number, diff: PackedDiff): AggregateNode {
    const resolved = this.resolved;
    return new AggregateNode(version, resolved ? 1 : this.unread + 1, (resolved ? 0 : this.unreadBytes) + diff.size, this, diff);
  }

  get(): Json {
    if (this.resolved) return this.value;
    const chain: AggregateNode[] = [];
    let n: AggregateNode = this;
    while (!n.resolved) {
      chain.push(n);
      n = n.prev!;
    }
    let value = n.value;
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i]!;
      const d = c.diff!.get();
      value = freezeChanged(applyDiff(value, d), d);
      c.value = value;
      c.resolved = true;
      c.prev = undefined;
      c.diff = undefined;
    }
    return value;
  }
}

/**
 * Events and results whose `aggregate` and `diff` are computed on first read: a Proxy over a plain
 * object that holds, in those fields, what computes them (a node or a packed diff). Reads, `in`, spread, Object.keys,
 * JSON.stringify and deep equality see a plain object with every field; writes are refused, as
 * on a frozen object. (Class getters would be cheaper but vanish from spreads and Object.keys, and
 * accessors defined per object cost more to make than the decoding they save.) Unlike a frozen
 * object, it cannot be passed to structuredClone.
 */
function lazyHandler(keys: readonly string[]): ProxyHandler<Record<string, unknown>> {
  const value = (t: Record<string, unknown>, k: string | symbol): unknown => {
    const v = t[k as string];
    return (k === "aggregate" || k === "diff") && v !== undefined ? (v as { get(): Json }).get() : v;
  };
  const present = (t: Record<string, unknown>, k: string | symbol) => keys.includes(k as string) && t[k as string] !== undefined;
  return {
    get: value,
    has: present,
    ownKeys: (t) => keys.filter((k) => t[k] !== undefined),
    getOwnPropertyDescriptor: (t, k) =>
      present(t, k) ? { value: value(t, k), writable: false, enumerable: true, configurable: true } : undefined,
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
    setPrototypeOf: () => false,
  };
}

const EVENT_HANDLER = lazyHandler(["type", "agentId", "channel", "aggregate", "diff", "version"]);
const RESULT_HANDLER = lazyHandler(["version", "diff", "message"]);

/** The fields of an event that are never computed (all the SDK itself reads of most events). */
export type EventHead<E extends ChannelEvent> = E extends { version: number } ? Pick<E, "type" | "version"> : Pick<E, "type">;

/**
 * The newest lazy event and result and their targets. Each field read through a Proxy is a trap
 * call (about 45 ns, more than the rest of a delivery), so the SDK's own listener and caller,
 * which get these objects straight from the write that made them, read `type` and `version` from
 * the target instead (headOf, versionOf). Anything else reads through the Proxy as before.
 */
let lastEvent: object | undefined;
let lastEventTarget: EventHead<ChannelEvent> | undefined;
let lastResult: object | undefined;
let lastResultTarget: { version: number } | undefined;

/** `event` itself, or, for the newest lazy event, its target (whose type and version are the event's). */
export function headOf<E extends ChannelEvent>(event: E): EventHead<E> {
  return (event === lastEvent ? lastEventTarget! : event) as EventHead<E>;
}

/** Drops the newest event and result kept for headOf/versionOf (a closing bus: its chain can go). */
export function forgetNewest(): void {
  lastEvent = lastEventTarget = lastResult = lastResultTarget = undefined;
}

/** A publish result's version, read past the Proxy when it is the newest lazy result. */
export function versionOf(result: PublishResult): number {
  return result === lastResult ? lastResultTarget!.version : result.version;
}

/** An aggregate event of a LocalBus channel, its diff and aggregate decoded and merged when read. */
export function aggregateEvent(
  agentId: string,
  channel: string,
  version: number,
  node: AggregateNode,
  diff: PackedDiff,
): Extract<ChannelEvent, { type: "aggregate" }> {
  const target = { type: "aggregate" as const, agentId, channel, aggregate: node, diff, version };
  const event = new Proxy(target, EVENT_HANDLER);
  lastEvent = event;
  lastEventTarget = target;
  return event as unknown as Extract<ChannelEvent, { type: "aggregate" }>;
}

/** A LocalBus publish result, its diff decoded when read. */
export function publishResult(version: number, diff: PackedDiff, message: Message | undefined): PublishResult {
  const target = { version, diff, message };
  const result = new Proxy(target, RESULT_HANDLER);
  lastResult = result;
  lastResultTarget = target;
  return result as unknown as PublishResult;
}
