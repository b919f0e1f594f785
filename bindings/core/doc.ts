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
  if (!packsIntoTarget) {
    const bytes = packValue(value, what);
    instance.writeIn(bytes);
    return bytes.length;
  }
  const region = instance.inputRegion();
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
