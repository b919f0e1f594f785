// The one hand-written msgpack reader: the client's receive path (the batches a client gets from
// the hub and the documents in them), and the browser codec's `unpack` (bindings/browser/msgpack.ts).
// No Node API is required; with a Node Buffer it takes Buffer's native UTF-8 slicing.
//
// Why not msgpackr here: on a source of 180 bytes or more msgpackr hands every string to its
// native extractor (one C++ call per value it unpacks) and passes keys by it instead of its key
// cache; for a subscriber's batches and ~200-byte telemetry documents that is most of its cost.
// This reader keeps short strings (names, keys, units, states: up to 32 bytes) in a cache of
// recent ones, compared byte for byte, and reads a document in place by (start, end).
//
// Values, as bindings/protocol/msgpack.ts configures msgpackr: maps as plain objects (a
// "__proto__" key is data, not the prototype), integers as numbers (64-bit ones beyond 2^53 lose
// precision, or stay exact as BigInt with `int64Auto`), float32 and float64, bin as a view of the
// input. Extension types and 0xc1 are refused; str must be valid UTF-8. Errors are plain Errors;
// input cut short throws one with `incomplete: true`, as msgpackr's does.

const utf8 = new TextDecoder("utf-8", { fatal: true });

// float64 (every non-integer number) through a shared scratch; float32 and exact 64-bit integers
// (rare) through a DataView of the source's buffer, made once per buffer.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(8));
let viewBuffer: ArrayBufferLike | undefined;

// The short-string cache: SLOTS slots of SLOT_BYTES bytes each, indexed by a hash of a string's
// length and three of its bytes; a hit is confirmed byte for byte. A miss overwrites the slot.
const SLOT_BYTES = 32;
const SLOTS = 1024;
const cacheBytes = new Uint8Array(SLOTS * SLOT_BYTES);
const cacheLength = new Int32Array(SLOTS).fill(-1);
const cacheText: string[] = new Array<string>(SLOTS).fill("");

type NodeBufferLike = Uint8Array & { utf8Slice(start: number, end: number): string };

// Reader state: the reader is synchronous and calls out to nothing, so one set is enough.
let src: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let bigAuto = false;
/** `src` is a Node Buffer: strings are sliced natively. */
let nodeBuffer = false;
/** The next array() is a batch's (see readBatch). */
let inBatch = false;

function incomplete(): Error {
  return Object.assign(new Error("unexpected end of msgpack data"), { incomplete: true });
}

/**
 * The one value in `bytes[start, end)`. Throws when the bytes end early (`incomplete`), hold
 * anything after the value, or hold a type outside the data model.
 */
export function readValue(bytes: Uint8Array, start = 0, stop: number = bytes.length, int64Auto = false): unknown {
  return readTop(bytes, start, stop, int64Auto, false);
}

function readTop(bytes: Uint8Array, start: number, stop: number, int64Auto: boolean, batch: boolean): unknown {
  src = bytes;
  pos = start;
  end = stop;
  bigAuto = int64Auto;
  nodeBuffer = typeof (bytes as Partial<NodeBufferLike>).utf8Slice === "function";
  // Only when the value is an array: its array() call is the first and takes the flag.
  inBatch = batch;
  const value = read();
  if (pos !== stop) throw new Error(`${stop - pos} bytes after the msgpack value`);
  return value;
}

/** A non-negative integer a number holds exactly: what the protocol's grammar calls a uint. */
export function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
}

/**
 * A message event (frame type 20: `[20, agentId, channel, id, ts, data]`) as `readBatch` leaves it:
 * names, id and ts read, the document left in place as bytes [start, end) of the batch. Building
 * a view of it (`subarray`) would cost a Buffer object per event in Node, more than the rest of
 * the frame; the reader decodes it from there (`readValue(batch, start, end)`).
 */
export class MessageAt {
  declare readonly agentId: string;
  declare readonly channel: string;
  declare readonly id: string;
  declare readonly ts: number;
  declare readonly start: number;
  declare readonly end: number;
  constructor(agentId: string, channel: string, id: string, ts: number, start: number, end: number) {
    this.agentId = agentId;
    this.channel = channel;
    this.id = id;
    this.ts = ts;
    this.start = start;
    this.end = end;
  }
}

/**
 * The batch in `bytes` as `readValue` reads it, except that each message event with the grammar's
 * types (str names and id, uint ts, non-empty bin data, six elements) comes as a `MessageAt`. Any
 * other frame, a message event that breaks the grammar included, is read as a plain array for the
 * frame checks to judge. Throws as `readValue`.
 */
export function readBatch(bytes: Uint8Array): unknown {
  const b = bytes[0]!;
  return readTop(bytes, 0, bytes.length, false, (b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd);
}

/** A message event at `pos` (its `0x96 20` seen) as a MessageAt, else as read() has it. */
function messageAt(): unknown {
  const at = pos;
  pos = at + 2;
  // Read in the order read() would: any error thrown here is the one the plain array gets.
  const agentId = read();
  const channel = read();
  const id = read();
  const ts = read();
  const d = pos < end ? src[pos]! : 0;
  if (typeof agentId === "string" && typeof channel === "string" && typeof id === "string" && isUint(ts) && d >= 0xc4 && d <= 0xc6) {
    pos++;
    const size = uint(1 << (d - 0xc4));
    if (size > 0) {
      const start = need(size);
      return new MessageAt(agentId, channel, id, ts, start, pos);
    }
  }
  pos = at;
  return read();
}

/** The DataView of `src` (positions in it are `src.byteOffset` + position in `src`). */
function dataView(): DataView<ArrayBufferLike> {
  if (src.buffer !== viewBuffer) {
    viewBuffer = src.buffer;
    view = new DataView(viewBuffer);
  }
  return view;
}

function need(n: number): number {
  const at = pos;
  if (at + n > end) throw incomplete();
  pos = at + n;
  return at;
}

function read(): unknown {
  if (pos >= end) throw incomplete();
  const b = src[pos++]!;
  if (b < 0x80) return b;
  if (b < 0x90) return map(b & 0x0f);
  if (b < 0xa0) return array(b & 0x0f);
  if (b < 0xc0) return str(b & 0x1f);
  if (b >= 0xe0) return b - 0x100;
  if (b === 0xcb) {
    const at = need(8);
    if (littleEndian) {
      f64Bytes[0] = src[at + 7]!;
      f64Bytes[1] = src[at + 6]!;
      f64Bytes[2] = src[at + 5]!;
      f64Bytes[3] = src[at + 4]!;
      f64Bytes[4] = src[at + 3]!;
      f64Bytes[5] = src[at + 2]!;
      f64Bytes[6] = src[at + 1]!;
      f64Bytes[7] = src[at]!;
    } else for (let i = 0; i < 8; i++) f64Bytes[i] = src[at + i]!;
    return f64[0];
  }
  // Families whose members differ in the size of a big-endian length or value: 1, 2, 4 bytes.
  if (b >= 0xcc && b <= 0xce) return uint(1 << (b - 0xcc));
  if (b >= 0xd9 && b <= 0xdb) return str(uint(1 << (b - 0xd9)));
  if (b >= 0xc4 && b <= 0xc6) {
    const at = need(uint(1 << (b - 0xc4)));
    return src.subarray(at, pos);
  }
  if (b >= 0xd0 && b <= 0xd2) {
    const shift = 32 - (8 << (b - 0xd0));
    return (uint(1 << (b - 0xd0)) << shift) >> shift;
  }
  if (b === 0xdc || b === 0xdd) return array(uint(2 << (b - 0xdc)));
  if (b === 0xde || b === 0xdf) return map(uint(2 << (b - 0xde)));
  if (b === 0xc0) return null;
  if (b === 0xc2 || b === 0xc3) return b === 0xc3;
  if (b === 0xca) return dataView().getFloat32(src.byteOffset + need(4));
  if (b === 0xcf || b === 0xd3) {
    const at = need(8);
    const high = b === 0xd3 ? u32(at) | 0 : u32(at);
    return int64(high * 0x100000000 + u32(at + 4), at, b === 0xd3);
  }
  throw new Error(`msgpack type 0x${b.toString(16)} is not supported`);
}

/** A big-endian unsigned integer of `size` (1, 2 or 4) bytes. */
function uint(size: number): number {
  const at = need(size);
  return size === 1 ? src[at]! : size === 2 ? (src[at]! << 8) | src[at + 1]! : u32(at);
}

function u32(at: number): number {
  return src[at]! * 0x1000000 + ((src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!);
}

/** `n` (exact below 2^53, rounded once above); with `int64Auto` an inexact one is read as BigInt. */
function int64(n: number, at: number, signed: boolean): number | bigint {
  if (!bigAuto || Number.isSafeInteger(n)) return n;
  return signed ? dataView().getBigInt64(src.byteOffset + at) : dataView().getBigUint64(src.byteOffset + at);
}

function array(n: number): unknown[] {
  // Every element takes at least one byte: a larger count cannot be complete.
  if (n > end - pos) throw incomplete();
  const out = new Array<unknown>(n);
  if (inBatch) {
    inBatch = false;
    for (let i = 0; i < n; i++) out[i] = src[pos] === 0x96 && src[pos + 1] === 20 ? messageAt() : read();
  } else for (let i = 0; i < n; i++) out[i] = read();
  return out;
}

function map(n: number): Record<string, unknown> {
  if (2 * n > end - pos) throw incomplete();
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const b = src[pos]!;
    let key: string;
    if (b >= 0xa0 && b < 0xc0) {
      pos++;
      key = str(b & 0x1f);
    } else {
      const k = read();
      key = typeof k === "string" ? k : String(k);
    }
    const value = read();
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

function str(n: number): string {
  const at = need(n);
  if (n > SLOT_BYTES) return text(at, n);
  if (n === 0) return "";
  const slot = (n * 31 + src[at]! * 7 + src[at + (n >> 1)]! * 13 + src[at + n - 1]!) & (SLOTS - 1);
  const base = slot * SLOT_BYTES;
  if (cacheLength[slot] === n) {
    let i = 0;
    while (i < n && cacheBytes[base + i] === src[at + i]) i++;
    if (i === n) return cacheText[slot]!;
  }
  const s = text(at, n);
  for (let i = 0; i < n; i++) cacheBytes[base + i] = src[at + i]!;
  cacheLength[slot] = n;
  cacheText[slot] = s;
  return s;
}

function text(at: number, n: number): string {
  // Node's native slice (ASCII is its fast case) replaces bytes that are not UTF-8 with U+FFFD,
  // as msgpackr does in Node; elsewhere such a str is refused.
  return nodeBuffer ? (src as NodeBufferLike).utf8Slice(at, at + n) : utf8.decode(src.subarray(at, at + n));
}
