// The msgpack configuration every tagwire peer uses, and a few hand-written encoders for the
// hub's hot path (event frames built by splicing bytes the core already produced).
//
// Encodings written by hand here (msgpack spec):
//   str     a0+n (n < 32) | d9 n8 | da n16 | db n32, then UTF-8 bytes
//   uint    00..7f | cc u8 | cd u16 | ce u32 | cb f64 (integers >= 2^32, exact below 2^53)
//   bin     c4 n8 | c5 n16 | c6 n32, then the bytes
//   array   90+n (n < 16) | dc n16 | dd n32
import { Packr } from "msgpackr";
import { TagwireError } from "../core/errors.js";

/**
 * One Packr for envelopes and documents: plain maps (no msgpackr record extension, which other
 * msgpack implementations cannot read), 64-bit integers decoded as numbers (documents are JSON
 * values; above 2^53 precision is lost, as in JSON), bin decoded as a view of the input.
 */
export const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  // fixmap/map16/map32 by size, as other msgpack encoders write them (msgpackr's default is
  // always map16, 2 bytes longer for small maps).
  variableMapSize: true,
  int64AsType: "number",
  moreTypes: false,
});

const utf8 = new TextEncoder();

/** msgpack bytes of one value (a document, or anything else the protocol carries). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** The value held by msgpack bytes; throws msgpackr's error (with `incomplete`) on bad input. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Bytes needed for the msgpack header of a uint/float64 holding `n`. */
export function uintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n < 0x100000000) return 5;
  return 9;
}

/** Writes non-negative integer `n` at `pos`; returns the position after it. */
export function writeUint(out: Uint8Array, pos: number, n: number): number {
  if (n < 0x80) {
    out[pos] = n;
    return pos + 1;
  }
  if (n < 0x100) {
    out[pos] = 0xcc;
    out[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    out[pos] = 0xcd;
    out[pos + 1] = n >>> 8;
    out[pos + 2] = n & 0xff;
    return pos + 3;
  }
  if (n < 0x100000000) {
    out[pos] = 0xce;
    out[pos + 1] = n >>> 24;
    out[pos + 2] = (n >>> 16) & 0xff;
    out[pos + 3] = (n >>> 8) & 0xff;
    out[pos + 4] = n & 0xff;
    return pos + 5;
  }
  out[pos] = 0xcb;
  new DataView(out.buffer, out.byteOffset + pos + 1, 8).setFloat64(0, n);
  return pos + 9;
}

export function binHeaderSize(len: number): number {
  return len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

export function writeBinHeader(out: Uint8Array, pos: number, len: number): number {
  if (len < 0x100) {
    out[pos] = 0xc4;
    out[pos + 1] = len;
    return pos + 2;
  }
  if (len < 0x10000) {
    out[pos] = 0xc5;
    out[pos + 1] = len >>> 8;
    out[pos + 2] = len & 0xff;
    return pos + 3;
  }
  out[pos] = 0xc6;
  out[pos + 1] = len >>> 24;
  out[pos + 2] = (len >>> 16) & 0xff;
  out[pos + 3] = (len >>> 8) & 0xff;
  out[pos + 4] = len & 0xff;
  return pos + 5;
}

export function arrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

export function writeArrayHeader(out: Uint8Array, pos: number, n: number): number {
  if (n < 16) {
    out[pos] = 0x90 | n;
    return pos + 1;
  }
  if (n < 0x10000) {
    out[pos] = 0xdc;
    out[pos + 1] = n >>> 8;
    out[pos + 2] = n & 0xff;
    return pos + 3;
  }
  out[pos] = 0xdd;
  out[pos + 1] = n >>> 24;
  out[pos + 2] = (n >>> 16) & 0xff;
  out[pos + 3] = (n >>> 8) & 0xff;
  out[pos + 4] = n & 0xff;
  return pos + 5;
}

/** msgpack str bytes (header + UTF-8) of `s`. */
export function encodeStr(s: string): Uint8Array {
  const body = utf8.encode(s);
  const n = body.length;
  const head = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(head + n);
  if (n < 32) out[0] = 0xa0 | n;
  else if (n < 0x100) {
    out[0] = 0xd9;
    out[1] = n;
  } else if (n < 0x10000) {
    out[0] = 0xda;
    out[1] = n >>> 8;
    out[2] = n & 0xff;
  } else {
    out[0] = 0xdb;
    new DataView(out.buffer).setUint32(1, n);
  }
  out.set(body, head);
  return out;
}

/**
 * Checks that `bytes` hold exactly one document the data model accepts: msgpack nil, bool, int,
 * float, str, array and map with str keys (no bin, no extension types, no 0xc1), nested at most
 * `maxDepth` containers deep, at most `maxBytes` long. Walks the bytes without building values
 * (the hub checks message data this way before storing it). Throws a TagwireError with
 * TAGWIRE_ERR_SIZE, _INCOMPLETE, _DEPTH or _MSGPACK.
 */
let scratchRemaining = new Float64Array(66);
let scratchIsMap = new Uint8Array(66);

export function checkDocument(bytes: Uint8Array, maxDepth: number, maxBytes: number): void {
  const end = bytes.length;
  if (end > maxBytes) throw new TagwireError("TAGWIRE_ERR_SIZE", `document of ${end} bytes (limit ${maxBytes})`);
  // remaining[d] = values still to read in the container open at depth d; even/odd tracks map
  // keys (a map of n entries needs 2n values; keys sit at even positions).
  // Scratch stacks reused across calls (the walk is synchronous): allocating two typed arrays
  // per document cost more than the walk itself on the hub's hot path. Every level is written
  // when its container opens, so stale values are never read.
  if (scratchRemaining.length < maxDepth + 2) {
    scratchRemaining = new Float64Array(maxDepth + 2);
    scratchIsMap = new Uint8Array(maxDepth + 2);
  }
  const remaining = scratchRemaining;
  const isMap = scratchIsMap;
  let depth = 0;
  remaining[0] = 1;
  isMap[0] = 0;
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > end) throw new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends in the middle of a value");
  };
  const u16 = () => (bytes[pos]! << 8) | bytes[pos + 1]!;
  const u32 = () => ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
  while (true) {
    while (remaining[depth] === 0) {
      if (depth === 0) {
        if (pos !== end) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "bytes after the document");
        return;
      }
      depth--;
    }
    const keyPosition = isMap[depth] === 1 && remaining[depth]! % 2 === 0;
    remaining[depth]!--;
    need(1);
    const b = bytes[pos++]!;
    let strLen = -1;
    let container = -1;
    let map = false;
    if (b < 0x80 || b >= 0xe0) {
      // positive or negative fixint
    } else if (b >= 0xa0 && b <= 0xbf) strLen = b & 0x1f;
    else if (b >= 0x90 && b <= 0x9f) container = b & 0x0f;
    else if (b >= 0x80 && b <= 0x8f) {
      container = (b & 0x0f) * 2;
      map = true;
    } else {
      switch (b) {
        case 0xc0: case 0xc2: case 0xc3: break;
        case 0xcc: case 0xd0: need(1); pos += 1; break;
        case 0xcd: case 0xd1: need(2); pos += 2; break;
        case 0xce: case 0xd2: case 0xca: need(4); pos += 4; break;
        case 0xcf: case 0xd3: case 0xcb: need(8); pos += 8; break;
        case 0xd9: need(1); strLen = bytes[pos]!; pos += 1; break;
        case 0xda: need(2); strLen = u16(); pos += 2; break;
        case 0xdb: need(4); strLen = u32(); pos += 4; break;
        case 0xdc: need(2); container = u16(); pos += 2; break;
        case 0xdd: need(4); container = u32(); pos += 4; break;
        case 0xde: need(2); container = u16() * 2; map = true; pos += 2; break;
        case 0xdf: need(4); container = u32() * 2; map = true; pos += 4; break;
        default:
          throw new TagwireError("TAGWIRE_ERR_MSGPACK", `msgpack type 0x${b.toString(16)} has no place in a document`);
      }
    }
    if (keyPosition && strLen < 0) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "map keys must be strings");
    if (strLen >= 0) {
      need(strLen);
      pos += strLen;
    } else if (container >= 0) {
      if (depth + 1 > maxDepth) throw new TagwireError("TAGWIRE_ERR_DEPTH", `document nested deeper than ${maxDepth}`);
      // Each value takes at least one byte: a count beyond the bytes left cannot be complete.
      if (container > end - pos) throw new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends inside a container");
      depth++;
      remaining[depth] = container;
      isMap[depth] = map ? 1 : 0;
    }
  }
}
