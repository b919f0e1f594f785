// Doover's document functions on plain JS values: apply_diff, generate_diff and the strict payload
// check. Values go JS -> msgpackr -> core -> msgpackr -> JS; the core does the work on its
// in-memory tree (assembly/doc.ts). For the hub's hot path, where bytes stay bytes, see store.ts.
//
// Data model (the JSON one): null, booleans, numbers, strings, arrays and string-keyed objects.
// Integers outside the safe range come back as BigInt (msgpackr `int64AsType: "auto"`), so int64
// values survive a round trip. Values with no JSON equivalent are rejected with
// TAGWIRE_ERR_MSGPACK: Uint8Array/Buffer (msgpack bin), Date and `undefined` (msgpack ext), Maps
// with non-string keys. msgpackr renames an incoming `__proto__` key to `__proto_`.
import { Packr, Unpackr } from "msgpackr";
import type { CoreInstance } from "./instance.js";
import { TagwireError } from "./errors.js";
import { OK } from "./layout.generated.js";

export interface DiffOptions {
  /** `null` in a diff removes the key (true, the default) or stores null (false). */
  doDelete?: boolean;
}

export interface DocLimits {
  /** Largest msgpack payload accepted, in bytes (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Deepest nesting of objects/arrays accepted (default 64; at most 1000). */
  maxDepth?: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20;
export const DEFAULT_MAX_DEPTH = 64;
const MAX_DEPTH_LIMIT = 1000;

/** One packer/unpacker pair for the whole package: plain objects, smallest headers, no records. */
const PACK_OPTIONS = { useRecords: false, mapsAsObjects: true, variableMapSize: true };
export const packr = new Packr(PACK_OPTIONS);
export const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  // msgpackr supports "auto" (BigInt only beyond 2^53) but its typings do not list it yet.
  int64AsType: "auto" as unknown as "bigint",
});

/** Checks and fills in limits; throws TAGWIRE_ERR_ARGUMENT for nonsense. */
export function resolveLimits(limits: DocLimits = {}): Required<DocLimits> {
  const maxPayloadBytes = limits.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1 || maxPayloadBytes > 0x7fffffff) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `maxPayloadBytes must be an integer in 1..2^31-1, got ${maxPayloadBytes}`);
  }
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_LIMIT) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `maxDepth must be an integer in 1..${MAX_DEPTH_LIMIT}, got ${maxDepth}`);
  }
  return { maxPayloadBytes, maxDepth };
}

/** Packs a JS value; values msgpackr cannot encode become TAGWIRE_ERR_MSGPACK. */
export function packValue(value: unknown, what: string): Uint8Array {
  try {
    return packr.pack(value);
  } catch (cause) {
    throw new TagwireError("TAGWIRE_ERR_MSGPACK", `${what}: value cannot be encoded as msgpack`, { cause });
  }
}

/**
 * The same packer's options on a second instance whose buffer is a core's input region (see
 * packIntoInput): msgpackr keeps one target buffer per instance, and packr's must stay its own.
 */
const inputPackr = new Packr(PACK_OPTIONS);
/** The input region inputPackr writes into now, and the target it was given for it. */
let inputRegion: Uint8Array | undefined;
let inputTarget: Uint8Array | undefined;
/** Under Node, msgpackr writes long strings with Buffer methods: its target must be a Buffer. */
const NodeBuffer = (globalThis as { Buffer?: { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array } }).Buffer;
/**
 * msgpackr's REUSE_BUFFER_MODE | RESET_BUFFER_MODE: pack at the target's start and return the
 * target itself, the packed range in `start`..`end`. Written out rather than imported: the
 * browser build's stand-in for msgpackr (bindings/browser/msgpack.ts) has neither, nor useBuffer,
 * and packs a fresh array instead (see packIntoInput).
 */
const INTO_TARGET = 512 | 1024;
const packsIntoTarget = typeof (inputPackr as { useBuffer?: unknown }).useBuffer === "function";

/**
 * packValue straight into the core's input region, for a call that reads it at once; returns
 * the byte length. No buffer, view or copy per value (packValue's results keep their bytes, so
 * its buffer is used up and a new 8 KiB one allocated every hundred or so small writes, which
 * costs more than the packing). A value larger than the region is packed and copied in.
 */
export function packIntoInput(instance: CoreInstance, value: unknown, what: string): number {
  const region = instance.inputRegion();
  if (region !== simpleRegion) {
    simpleRegion = region;
    simpleView = new DataView(region.buffer, region.byteOffset, region.length);
  }
  const simple = packSimple(value, region, simpleView!, 0, 0);
  if (simple >= 0) return simple;
  if (!packsIntoTarget) {
    const bytes = packValue(value, what);
    instance.writeIn(bytes);
    return bytes.length;
  }
  if (region !== inputRegion) {
    inputTarget = NodeBuffer ? NodeBuffer.from(region.buffer, region.byteOffset, region.length) : region;
    inputPackr.useBuffer(inputTarget);
    inputRegion = region;
  }
  let out: Uint8Array & { start?: number; end?: number };
  try {
    // Writes from the region's start (RESET: every pack does) and returns the target itself.
    out = inputPackr.pack(value, INTO_TARGET);
  } catch (cause) {
    inputRegion = undefined;
    throw new TagwireError("TAGWIRE_ERR_MSGPACK", `${what}: value cannot be encoded as msgpack`, { cause });
  }
  const len = out.end! - out.start!;
  if (out !== inputTarget || out.start !== 0) {
    // It did not fit: msgpackr moved to a buffer of its own. Copy it in; point it back next time.
    inputRegion = undefined;
    instance.writeIn(out.subarray(out.start, out.end));
  }
  return len;
}

/** The input region packSimple wrote into last, and a DataView of it (for doubles). */
let simpleRegion: Uint8Array | undefined;
let simpleView: DataView | undefined;
/** Nesting packSimple follows before it leaves a value to msgpackr. */
const SIMPLE_DEPTH = 8;
/** Longest string (UTF-16 units, all ASCII) packSimple writes itself. */
const SIMPLE_STRING = 255;

/**
 * msgpackr's bytes for the values a telemetry write is made of (plain objects, short ASCII
 * strings, numbers, booleans, null), written into `out` at `at` without msgpackr's per-call set-up,
 * which costs more than packing a few tags: returns the end, or -1 for anything else (an array, a
 * long or non-ASCII string, another type, too deep, no room), which msgpackr then packs whole.
 * The bytes are the same as inputPackr's (PACK_OPTIONS; test/store.test.ts compares them).
 */
function packSimple(value: unknown, out: Uint8Array, view: DataView, at: number, depth: number): number {
  if (typeof value === "number") return packNumber(value, out, view, at);
  if (typeof value === "string") return packAscii(value, out, at);
  if (typeof value === "boolean") {
    if (at >= out.length) return -1;
    out[at] = value ? 0xc3 : 0xc2;
    return at + 1;
  }
  if (value === null) {
    if (at >= out.length) return -1;
    out[at] = 0xc0;
    return at + 1;
  }
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype || depth >= SIMPLE_DEPTH) return -1;
  // for-in over an object whose prototype is Object.prototype lists its own keys, as Object.keys
  // (msgpackr's) does, unless Object.prototype was given an enumerable key: then msgpackr packs.
  if (depth === 0) for (const _ in Object.prototype) return -1;
  const obj = value as Record<string, unknown>;
  // The keys' count is known after them: they go after a one-byte header, moved up if it is longer.
  if (at >= out.length) return -1;
  const head = at;
  at += 1;
  let n = 0;
  // for-in rather than Object.keys: a keyed read of the key for-in gives is a field load.
  for (const key in obj) {
    at = packAscii(key, out, at);
    if (at < 0) return -1;
    at = packSimple(obj[key], out, view, at, depth + 1);
    if (at < 0) return -1;
    n++;
  }
  if (n < 0x10) {
    out[head] = 0x80 | n;
    return at;
  }
  const extra = n < 0x10000 ? 2 : 4;
  if (at + extra > out.length) return -1;
  out.copyWithin(head + 1 + extra, head + 1, at);
  if (n < 0x10000) {
    out[head] = 0xde;
    out[head + 1] = n >> 8;
    out[head + 2] = n & 0xff;
  } else {
    out[head] = 0xdf;
    view.setUint32(head + 1, n);
  }
  return at + extra;
}

/** msgpackr's encoding of a string of at most SIMPLE_STRING ASCII characters, else -1. */
function packAscii(s: string, out: Uint8Array, at: number): number {
  const n = s.length;
  if (n > SIMPLE_STRING || at + 2 + n > out.length) return -1;
  let p = at + (n < 0x20 ? 1 : 2);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    out[p++] = c;
  }
  if (n < 0x20) out[at] = 0xa0 | n;
  else {
    out[at] = 0xd9;
    out[at + 1] = n;
  }
  return p;
}

/** msgpackr's encoding of a number without useFloat32 (smallest integer form, else float 64). */
function packNumber(v: number, out: Uint8Array, view: DataView, at: number): number {
  if (at + 9 > out.length) return -1;
  if (v >>> 0 === v) {
    if (v < 0x80) out[at++] = v;
    else if (v < 0x100) {
      out[at] = 0xcc;
      out[at + 1] = v;
      at += 2;
    } else if (v < 0x10000) {
      out[at] = 0xcd;
      out[at + 1] = v >> 8;
      out[at + 2] = v & 0xff;
      at += 3;
    } else {
      out[at] = 0xce;
      view.setUint32(at + 1, v);
      at += 5;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[at++] = 0x100 + v;
    else if (v >= -0x80) {
      out[at] = 0xd0;
      out[at + 1] = v + 0x100;
      at += 2;
    } else if (v >= -0x8000) {
      out[at] = 0xd1;
      view.setInt16(at + 1, v);
      at += 3;
    } else {
      out[at] = 0xd2;
      view.setInt32(at + 1, v);
      at += 5;
    }
  } else {
    out[at] = 0xcb;
    view.setFloat64(at + 1, v);
    at += 9;
  }
  return at;
}

export class DocCodec {
  private readonly instance: CoreInstance;
  readonly limits: Readonly<Required<DocLimits>>;

  constructor(instance: CoreInstance, limits: DocLimits = {}) {
    this.instance = instance;
    this.limits = resolveLimits(limits);
    instance.exports.docSetLimits(this.limits.maxPayloadBytes, this.limits.maxDepth);
  }

  /** apply_diff: a new value; `data` and `diff` are left untouched. */
  applyDiff(data: unknown, diff: unknown, options: DiffOptions = {}): unknown {
    const status = this.callPair("applyDiff", data, diff, (a, b) =>
      this.instance.exports.docApplyDiff(a, b, options.doDelete === false ? 0 : 1),
    );
    this.instance.ok(status, "applyDiff");
    return unpackr.unpack(this.instance.outView());
  }

  /** generate_diff: what turns `oldValue` into `newValue` under apply_diff. */
  generateDiff(oldValue: unknown, newValue: unknown, options: DiffOptions = {}): unknown {
    const status = this.callPair("generateDiff", oldValue, newValue, (a, b) =>
      this.instance.exports.docGenerateDiff(a, b, options.doDelete === false ? 0 : 1),
    );
    this.instance.ok(status, "generateDiff");
    return unpackr.unpack(this.instance.outView());
  }

  /** Doover's strict rule: an object whose keys, at every depth, match ^[a-zA-Z0-9_-]+$. */
  validatePayload(value: unknown): boolean {
    this.instance.check();
    let bytes: Uint8Array;
    try {
      bytes = packr.pack(value);
    } catch {
      return false; // not representable as JSON-like data at all
    }
    if (bytes.length > this.limits.maxPayloadBytes) return false;
    this.instance.writeIn(bytes);
    // Anything the core rejects (bad key, not an object, too deep, bin/ext) is not a valid payload.
    return this.instance.exports.docValidatePayload(bytes.length) === OK;
  }

  private callPair(what: string, a: unknown, b: unknown, call: (aLen: number, bLen: number) => number): number {
    this.instance.check();
    const first = packValue(a, what);
    const second = packValue(b, what);
    const max = this.limits.maxPayloadBytes;
    if (first.length > max || second.length > max) {
      throw new TagwireError("TAGWIRE_ERR_SIZE", `${what}: payload of ${Math.max(first.length, second.length)} bytes exceeds ${max}`);
    }
    const ptr = this.instance.reserveIn(first.length + second.length);
    const u8 = this.instance.u8;
    u8.set(first, ptr);
    u8.set(second, ptr + first.length);
    return call(first.length, second.length);
  }
}
