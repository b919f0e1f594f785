// The one hand-written msgpack reader: documents on the client's receive path (every message and
// aggregate event a subscriber gets), and the browser codec's `unpack` (bindings/browser/msgpack.ts).
// No Node API is required; with a Node Buffer it takes Buffer's native UTF-8 slicing.
//
// Why not msgpackr here: on a source of 180 bytes or more msgpackr hands every string to its
// native extractor (one C++ call per document) and passes keys by it instead of its key cache;
// for the ~200-byte telemetry documents a subscriber decodes that is most of its cost. This
// reader keeps short strings (keys, units, states: up to 32 bytes) in a cache of recent ones,
// compared byte for byte, and reads a document straight out of a batch by (start, end), so a
// message event needs no view of its data.
//
// Values, as bindings/protocol/msgpack.ts configures msgpackr: maps as plain objects (a
// "__proto__" key is data, not the prototype), integers as numbers (64-bit ones beyond 2^53 lose
// precision, or stay exact as BigInt with `int64Auto`), float32 and float64, bin as a view of the
// input. Extension types and 0xc1 are refused; str must be valid UTF-8. Errors are plain Errors;
// input cut short throws one with `incomplete: true`, as msgpackr's does.

const utf8 = new TextDecoder("utf-8", { fatal: true });

// Big-endian floats through one shared scratch (no DataView per document).
const f64 = new Float64Array(1);
const f32 = new Float32Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32Bytes = new Uint8Array(f32.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const int64View = new DataView(f64.buffer);

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

function incomplete(): Error {
  return Object.assign(new Error("unexpected end of msgpack data"), { incomplete: true });
}

/**
 * The one value in `bytes[start, end)`. Throws when the bytes end early (`incomplete`), hold
 * anything after the value (unless `more`: then `readPosition()` tells where it ended), or hold
 * a type outside the data model.
 */
export function readValue(bytes: Uint8Array, start = 0, stop: number = bytes.length, int64Auto = false, more = false): unknown {
  src = bytes;
  pos = start;
  end = stop;
  bigAuto = int64Auto;
  nodeBuffer = typeof (bytes as Partial<NodeBufferLike>).utf8Slice === "function";
  const value = read();
  if (pos !== stop && !more) throw new Error(`${stop - pos} bytes after the msgpack value`);
  return value;
}

/** Where the last `readValue` stopped reading. */
export function readPosition(): number {
  return pos;
}

/** The text of `n` UTF-8 bytes at `bytes[start]` (not cached: for ids and other one-off strings). */
export function readText(bytes: Uint8Array, start: number, n: number): string {
  src = bytes;
  nodeBuffer = typeof (bytes as Partial<NodeBufferLike>).utf8Slice === "function";
  return text(start, n);
}

/** The big-endian float64 at `bytes[at]`. */
export function readFloat64(bytes: Uint8Array, at: number): number {
  if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = bytes[at + i]!;
  else for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[at + i]!;
  return f64[0]!;
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
  let at: number;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcb:
      return readFloat64(src, need(8));
    case 0xca:
      return float32(need(4));
    case 0xcc:
      return src[need(1)]!;
    case 0xcd:
      return u16(need(2));
    case 0xce:
      return u32(need(4));
    case 0xcf:
      at = need(8);
      return int64(u32(at) * 0x100000000 + u32(at + 4), at, false);
    case 0xd0:
      return (src[need(1)]! << 24) >> 24;
    case 0xd1:
      return (u16(need(2)) << 16) >> 16;
    case 0xd2:
      return u32(need(4)) | 0;
    case 0xd3:
      at = need(8);
      return int64((u32(at) | 0) * 0x100000000 + u32(at + 4), at, true);
    case 0xd9:
      return str(src[need(1)]!);
    case 0xda:
      return str(u16(need(2)));
    case 0xdb:
      return str(u32(need(4)));
    case 0xc4:
      return bin(src[need(1)]!);
    case 0xc5:
      return bin(u16(need(2)));
    case 0xc6:
      return bin(u32(need(4)));
    case 0xdc:
      return array(u16(need(2)));
    case 0xdd:
      return array(u32(need(4)));
    case 0xde:
      return map(u16(need(2)));
    case 0xdf:
      return map(u32(need(4)));
  }
  throw new Error(`msgpack type 0x${b.toString(16)} is not supported`);
}

function u16(at: number): number {
  return (src[at]! << 8) | src[at + 1]!;
}

function u32(at: number): number {
  return src[at]! * 0x1000000 + ((src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!);
}

function float32(at: number): number {
  if (littleEndian) for (let i = 0; i < 4; i++) f32Bytes[3 - i] = src[at + i]!;
  else for (let i = 0; i < 4; i++) f32Bytes[i] = src[at + i]!;
  return f32[0]!;
}

/** `n` (exact below 2^53, rounded once above); with `int64Auto` an inexact one is read as BigInt. */
function int64(n: number, at: number, signed: boolean): number | bigint {
  if (!bigAuto || Number.isSafeInteger(n)) return n;
  for (let i = 0; i < 8; i++) f64Bytes[i] = src[at + i]!;
  return signed ? int64View.getBigInt64(0) : int64View.getBigUint64(0);
}

function bin(n: number): Uint8Array {
  const at = need(n);
  return src.subarray(at, at + n);
}

function array(n: number): unknown[] {
  // Every element takes at least one byte: a larger count cannot be complete.
  if (n > end - pos) throw incomplete();
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = read();
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
  const s = internalize(text(at, n));
  for (let i = 0; i < n; i++) cacheBytes[base + i] = src[at + i]!;
  cacheLength[slot] = n;
  cacheText[slot] = s;
  return s;
}

function text(at: number, n: number): string {
  // Node's native slice (ASCII is its fast case) replaces bytes that are not UTF-8 with U+FFFD,
  // as msgpackr does in Node; elsewhere such a str is refused.
  if (nodeBuffer) return (src as NodeBufferLike).utf8Slice(at, at + n);
  if (n < 64) {
    let i = 0;
    while (i < n && src[at + i]! < 0x80) i++;
    if (i === n) return String.fromCharCode.apply(null, src.subarray(at, at + n) as unknown as number[]);
  }
  return utf8.decode(src.subarray(at, at + n));
}

/**
 * The same text as the engine's own copy used for property names: a cached key stored under
 * it makes every later `out[key] = value` skip the engine's string-table look-up.
 */
function internalize(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}
