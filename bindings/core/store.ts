// Channel aggregates held in the core: bytes in, bytes out. This is the hub's hot path: a diff
// arrives as msgpack, is merged straight into the channel's tree in linear memory
// (assembly/store.ts, assembly/doc.ts), and the effective diff (only what really changed; an
// empty map when nothing did) comes back as msgpack with the channel's new version.
//
// Semantics are Doover's apply_diff (see bindings/core/doc.ts). Options per apply:
//   doDelete (default true)  null in the diff removes the key; false stores null.
//   replace                  the new state replaces the aggregate: the effective diff is
//                            generate_diff(old, new, doDelete) and the aggregate becomes
//                            apply_diff(old, that diff), i.e. `new` up to Doover's equality
//                            (1 == 1.0 == true, keeps the stored form) and, with doDelete false,
//                            keeping keys `new` lacks. Subscribers applying the diff stay exact.
//   replaceKeys              these top-level keys, when present in the diff, are replaced (as
//                            above, per key) instead of merged into; keys absent from the diff are
//                            left alone.
// Versions start at 0 and rise by one on every apply that really changed the aggregate.
// Errors (TagwireError): TAGWIRE_ERR_MSGPACK (malformed, bin/ext, non-string or duplicate keys,
// bytes after the value), TAGWIRE_ERR_INCOMPLETE (cut short; `incomplete: true`),
// TAGWIRE_ERR_DEPTH, TAGWIRE_ERR_SIZE, TAGWIRE_ERR_NAME, TAGWIRE_ERR_NOT_FOUND. After any of them
// the aggregate and version are exactly as before.
import { copyBytes } from "./bytes.js";
import type { CoreInstance } from "./instance.js";
import { TagwireError } from "./errors.js";
import { type DocLimits, packIntoInput, packValue, resolveLimits, unpackr } from "./doc.js";
import { isValidChannelName, nameError } from "./names.js";
import {
  APPLY_DO_DELETE,
  APPLY_REPLACE,
  ERR_NOT_FOUND,
  STORE_RESULT_CHANGED as CHANGED,
  STORE_RESULT_OUT_LEN as OUT_LEN,
  STORE_RESULT_OUT_PTR as OUT_PTR,
  STORE_RESULT_VERSION as VERSION,
} from "./layout.generated.js";

export interface ChannelStoreOptions extends DocLimits {}

export interface ApplyOptions {
  /** Replace the whole aggregate instead of merging. */
  replace?: boolean;
  /** Replace these top-level subtrees instead of merging into them. */
  replaceKeys?: string[];
  /** `null` removes a key (default true) or stores null (false). */
  doDelete?: boolean;
}

export interface ApplyResult {
  version: number;
  /** The effective diff as msgpack (a copy); `0x80` (`{}`) when nothing changed. */
  diff: Uint8Array;
  changed: boolean;
}

/**
 * What `applyView` returns: ONE object per store, rewritten by every applyView, whose diff is read
 * in place from the core's output region. Valid until the next call into the same core (any call
 * may grow memory or reuse the region): copy what must outlive it (`diff.slice()`).
 */
export class ApplyView {
  version = 0;
  changed = false;
  /** Offset of the effective diff in `bytes` (all of linear memory). */
  diffStart = 0;
  diffLength = 0;
  /** @internal */
  u8: Uint8Array = new Uint8Array(0);

  /** All of linear memory, for diffStart / diffLength without allocating a view. */
  get bytes(): Uint8Array {
    return this.u8;
  }

  /** The effective diff as msgpack: a view into the core (`0x80`, `{}`, when nothing changed). */
  get diff(): Uint8Array {
    return this.u8.subarray(this.diffStart, this.diffStart + this.diffLength);
  }
}

export interface ApplyValueResult {
  version: number;
  diff: unknown;
  changed: boolean;
}

const encoder = new TextEncoder();

/** True when the apply replaces named keys (ignored under a whole `replace`). */
function replacesKeys(options: ApplyOptions | undefined): options is ApplyOptions & { replaceKeys: string[] } {
  return options !== undefined && !options.replace && options.replaceKeys !== undefined && options.replaceKeys.length > 0;
}

function flagsOf(options: ApplyOptions | undefined): number {
  if (options === undefined) return APPLY_DO_DELETE;
  const flags = options.doDelete === false ? 0 : APPLY_DO_DELETE;
  return options.replace ? flags | APPLY_REPLACE : flags;
}

function invalidName(name: unknown): TagwireError {
  return nameError("channel name", name, "must be 1..255 bytes of '/'-separated levels of A-Z a-z 0-9 _ . : -");
}

export class ChannelStore {
  private readonly instance: CoreInstance;
  private readonly ex: CoreInstance["exports"];
  private handle: number;
  private readonly maxBytes: number;
  private readonly resultPtr: number;
  /** name -> slot for channels opened or looked up through this object. */
  private readonly slots = new Map<string, number>();
  private readonly lastView = new ApplyView();
  // Views of linear memory for the hot path. Growing memory detaches the old buffer, which
  // turns these views' length to 0: a cheap check instead of reading memory.buffer per call.
  private u8 = new Uint8Array(0);
  private u32 = new Uint32Array(0);
  private f64 = new Float64Array(0);

  constructor(instance: CoreInstance, options: ChannelStoreOptions = {}) {
    this.instance = instance;
    this.ex = instance.exports;
    const limits = resolveLimits(options);
    this.maxBytes = limits.maxPayloadBytes;
    instance.check();
    const handle = this.ex.storeCreate(limits.maxPayloadBytes, limits.maxDepth);
    if (handle < 0) instance.ok(-handle, "createChannelStore");
    this.handle = handle;
    this.resultPtr = this.ex.storeResultPtr();
  }

  /** @internal The core handle, for a pipeline over this store. */
  get coreHandle(): number {
    return this.handle;
  }

  /** The channel's slot id; creates an empty aggregate `{}` at version 0 the first time. */
  open(name: string): number {
    const known = this.slots.get(name);
    if (known !== undefined) return known;
    if (!isValidChannelName(name)) throw invalidName(name);
    this.live();
    const len = this.instance.writeInString(name);
    const slot = this.ex.storeOpen(this.handle, len);
    if (slot < 0) this.instance.ok(-slot, `open ${name}`);
    this.slots.set(name, slot);
    return slot;
  }

  slotOf(name: string): number | undefined {
    const known = this.slots.get(name);
    if (known !== undefined) return known;
    if (!isValidChannelName(name)) return undefined;
    this.live();
    const slot = this.ex.storeSlotOf(this.handle, this.instance.writeInString(name));
    if (slot < 0) return undefined;
    this.slots.set(name, slot);
    return slot;
  }

  /** Merges a msgpack diff into a channel's aggregate. */
  apply(channel: number | string, diff: Uint8Array, options?: ApplyOptions): ApplyResult {
    this.applyBytes(channel, diff, options);
    const r = this.resultPtr;
    const u32 = this.u32;
    const at = u32[(r + OUT_PTR) >>> 2]!;
    return {
      version: this.f64[(r + VERSION) >>> 3]!,
      diff: copyBytes(this.u8, at, at + u32[(r + OUT_LEN) >>> 2]!),
      changed: u32[(r + CHANGED) >>> 2] !== 0,
    };
  }

  /**
   * `apply` without the copy: the effective diff stays in the core's output region and the result
   * is this store's one ApplyView, rewritten by the next applyView (see ApplyView for how long it
   * is valid). For hot loops that read the version or forward the diff at once.
   */
  applyView(channel: number | string, diff: Uint8Array, options?: ApplyOptions): ApplyView {
    this.applyBytes(channel, diff, options);
    return this.readView();
  }

  /**
   * applyView for a JS value, packed with msgpackr straight into the core's input region (no
   * bytes of its own, see packIntoInput). With replaceKeys it is packed apart, as for applyValue.
   */
  applyValueView(channel: number | string, diff: unknown, options?: ApplyOptions): ApplyView {
    if (replacesKeys(options)) {
      return this.applyView(channel, packValue(diff, "applyValue"), options);
    }
    const slot = this.slotFor(channel); // first: resolving a name writes it to the input region
    const len = packIntoInput(this.instance, diff, "applyValue");
    this.checkSize(len);
    this.applyInput(slot, channel, len, flagsOf(options), 0);
    return this.readView();
  }

  /**
   * applyValueView (merging, doDelete) with the caller's packer tried first: `pack(diff, region)`
   * writes msgpack at the start of the input region and returns its length, or -1 to leave `diff`
   * to msgpackr. For a writer with a faster packer for its common values (LocalBus).
   */
  applyValueViewWith(channel: number, diff: unknown, pack: (value: unknown, region: Uint8Array) => number): ApplyView {
    const slot = this.slotFor(channel);
    let len = pack(diff, this.instance.inputRegion());
    if (len < 0) len = packIntoInput(this.instance, diff, "applyValue");
    this.checkSize(len);
    this.applyInput(slot, channel, len, APPLY_DO_DELETE, 0);
    return this.readView();
  }

  /** The result of the last apply as this store's ApplyView. */
  private readView(): ApplyView {
    const r = this.resultPtr;
    const u32 = this.u32;
    const v = this.lastView;
    v.version = this.f64[(r + VERSION) >>> 3]!;
    v.changed = u32[(r + CHANGED) >>> 2] !== 0;
    v.diffStart = u32[(r + OUT_PTR) >>> 2]!;
    v.diffLength = u32[(r + OUT_LEN) >>> 2]!;
    v.u8 = this.u8;
    return v;
  }

  /** `apply` for JS values: the diff is packed with msgpackr and the effective diff unpacked. */
  applyValue(channel: number | string, diff: unknown, options?: ApplyOptions): ApplyValueResult {
    this.applyBytes(channel, packValue(diff, "applyValue"), options);
    const r = this.resultPtr;
    const u32 = this.u32;
    const at = u32[(r + OUT_PTR) >>> 2]!;
    return {
      version: this.f64[(r + VERSION) >>> 3]!,
      diff: unpackr.unpack(this.u8.subarray(at, at + u32[(r + OUT_LEN) >>> 2]!)),
      changed: u32[(r + CHANGED) >>> 2] !== 0,
    };
  }

  /** The aggregate as msgpack (a copy). */
  get(channel: number | string): Uint8Array {
    const slot = this.resolve(channel);
    this.instance.ok(this.ex.storeGet(this.handle, slot), `get ${String(channel)}`);
    return this.instance.outCopy();
  }

  getValue(channel: number | string): unknown {
    const slot = this.resolve(channel);
    this.instance.ok(this.ex.storeGet(this.handle, slot), `get ${String(channel)}`);
    return unpackr.unpack(this.instance.outView());
  }

  version(channel: number | string): number {
    const slot = this.resolve(channel);
    const v = this.ex.storeVersion(this.handle, slot);
    if (v < 0) this.instance.ok(ERR_NOT_FOUND, `version ${String(channel)}`);
    return v;
  }

  /** Removes a channel and frees its memory for reuse; false when there was no such channel. */
  remove(channel: number | string): boolean {
    this.live();
    let slot: number | undefined;
    let name: string | undefined;
    if (typeof channel === "string") {
      name = channel;
      slot = this.slotOf(channel);
      if (slot === undefined) return false;
    } else {
      slot = channel;
    }
    if (this.ex.storeRemove(this.handle, slot) !== 0) return false;
    if (name !== undefined) {
      this.slots.delete(name);
    } else {
      for (const [n, s] of this.slots) if (s === slot) this.slots.delete(n);
    }
    return true;
  }

  names(): string[] {
    this.live();
    this.instance.ok(this.ex.storeNames(this.handle), "names");
    return unpackr.unpack(this.instance.outView()) as string[];
  }

  get size(): number {
    this.live();
    return this.ex.storeSize(this.handle);
  }

  /** Frees every channel; the store cannot be used afterwards. */
  dispose(): void {
    if (this.handle === 0) return;
    if (!this.instance.dead) this.ex.storeDispose(this.handle);
    this.handle = 0;
    this.slots.clear();
  }

  private live(): void {
    this.instance.check();
    if (this.handle === 0) throw new TagwireError("TAGWIRE_ERR_CLOSED", "channel store was disposed");
  }

  private resolve(channel: number | string): number {
    this.live();
    if (typeof channel === "number") return channel;
    const slot = this.slotOf(channel);
    if (slot === undefined) {
      if (!isValidChannelName(channel)) throw invalidName(channel);
      throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no channel ${JSON.stringify(channel)}`);
    }
    return slot;
  }

  private slotFor(channel: number | string): number {
    return typeof channel === "number" && this.handle !== 0 && !this.instance.dead ? channel : this.resolve(channel);
  }

  private checkSize(len: number): void {
    if (len > this.maxBytes) {
      throw new TagwireError("TAGWIRE_ERR_SIZE", `apply: payload of ${len} bytes exceeds ${this.maxBytes}`);
    }
  }

  private applyBytes(channel: number | string, diff: Uint8Array, options: ApplyOptions | undefined): void {
    const slot = this.slotFor(channel);
    const len = diff.length;
    this.checkSize(len);
    let keyCount = 0;
    if (replacesKeys(options)) {
      keyCount = this.writeDiffAndKeys(diff, options.replaceKeys);
    }
    if (keyCount === 0) {
      const ptr = this.instance.reserveIn(len);
      if (this.u8.length === 0) this.refreshViews();
      this.u8.set(diff, ptr);
    }
    this.applyInput(slot, channel, len, flagsOf(options), keyCount);
  }

  /** storeApply on what the input region holds (a diff of `len` bytes, then `keyCount` keys). */
  private applyInput(slot: number, channel: number | string, len: number, flags: number, keyCount: number): void {
    const status = this.ex.storeApply(this.handle, slot, len, flags, keyCount);
    // the core may have grown memory (bigger aggregate or output)
    if (this.u8.length === 0) this.refreshViews();
    if (status !== 0) this.instance.ok(status, `apply to channel ${String(channel)}`);
  }

  private refreshViews(): void {
    const buf = this.ex.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
  }

  /** Input region layout for replaceKeys: the diff, then per key [u32 LE length][UTF-8 bytes]. */
  private writeDiffAndKeys(diff: Uint8Array, keys: string[]): number {
    const encoded = keys.map((k) => encoder.encode(String(k)));
    let total = diff.length;
    for (const k of encoded) total += 4 + k.length;
    const ptr = this.instance.reserveIn(total);
    const u8 = this.instance.u8;
    const view = this.instance.view;
    u8.set(diff, ptr);
    let at = ptr + diff.length;
    for (const k of encoded) {
      view.setUint32(at, k.length, true);
      u8.set(k, at + 4);
      at += 4 + k.length;
    }
    return encoded.length;
  }
}
