// msgpack headers and strings written by hand into a caller's buffer: the one set of writer
// primitives shared by the frame codec's fast encoders (frames.ts), the protocol's msgpack module
// and the browser codec (bindings/browser/msgpack.ts). Pure functions over (out, pos): no Node
// API and no msgpackr, so browser bundles take them as they are. Each `write*` returns the
// position after what it wrote; each `*Size` says how many bytes that will be, so callers size a
// frame once and write it without bounds checks or copies.
//
// Encodings (msgpack spec, big-endian lengths):
//   uint    00..7f | cc u8 | cd u16 | ce u32 | cb f64 (integers >= 2^32, exact below 2^53)
//   str     a0+n (n < 32) | d9 n8 | da n16 | db n32, then UTF-8 bytes
//   bin     c4 n8 | c5 n16 | c6 n32, then the bytes
//   array   90+n (n < 16) | dc n16 | dd n32
//   map     80+n (n < 16) | de n16 | df n32 (n entries)

const utf8 = new TextEncoder();

/** Writes u16 `n` big-endian at `pos`. */
function put16(out: Uint8Array, pos: number, n: number): void {
  out[pos] = n >>> 8;
  out[pos + 1] = n & 0xff;
}

/** Writes u32 `n` big-endian at `pos`. */
function put32(out: Uint8Array, pos: number, n: number): void {
  out[pos] = n >>> 24;
  out[pos + 1] = (n >>> 16) & 0xff;
  out[pos + 2] = (n >>> 8) & 0xff;
  out[pos + 3] = n & 0xff;
}

/** Bytes needed for the msgpack header of a uint/float64 holding `n`. */
export function uintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n < 0x100000000) return 5;
  return 9;
}

/** Writes non-negative integer `n` at `pos`. */
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
    put16(out, pos + 1, n);
    return pos + 3;
  }
  if (n < 0x100000000) {
    out[pos] = 0xce;
    put32(out, pos + 1, n);
    return pos + 5;
  }
  out[pos] = 0xcb;
  writeF64(out, pos + 1, n);
  return pos + 9;
}

// Timestamps (ms since the epoch) pass 2^32, so every event and message ack writes a float64:
// through one shared scratch instead of a DataView per call (an allocation per message).
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes float64 `n` big-endian at `pos`. */
function writeF64(out: Uint8Array, pos: number, n: number): void {
  f64[0] = n;
  if (littleEndian) for (let i = 0; i < 8; i++) out[pos + i] = f64Bytes[7 - i]!;
  else for (let i = 0; i < 8; i++) out[pos + i] = f64Bytes[i]!;
}

/** A header with a fixed form below `fixLimit` (0: none), then 8- (t8 0: none), 16- and 32-bit lengths. */
function writeSized(out: Uint8Array, pos: number, n: number, fix: number, fixLimit: number, t8: number, t16: number, t32: number): number {
  if (n < fixLimit) {
    out[pos] = fix | n;
    return pos + 1;
  }
  if (t8 !== 0 && n < 0x100) {
    out[pos] = t8;
    out[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    out[pos] = t16;
    put16(out, pos + 1, n);
    return pos + 3;
  }
  out[pos] = t32;
  put32(out, pos + 1, n);
  return pos + 5;
}

export function strHeaderSize(n: number): number {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Header of a str of `n` UTF-8 bytes. */
export function writeStrHeader(out: Uint8Array, pos: number, n: number): number {
  return writeSized(out, pos, n, 0xa0, 32, 0xd9, 0xda, 0xdb);
}

export function binHeaderSize(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

export function writeBinHeader(out: Uint8Array, pos: number, n: number): number {
  return writeSized(out, pos, n, 0, 0, 0xc4, 0xc5, 0xc6);
}

export function arrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

export function writeArrayHeader(out: Uint8Array, pos: number, n: number): number {
  return writeSized(out, pos, n, 0x90, 16, 0, 0xdc, 0xdd);
}

export function mapHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

/** Header of a map of `n` entries. */
export function writeMapHeader(out: Uint8Array, pos: number, n: number): number {
  return writeSized(out, pos, n, 0x80, 16, 0, 0xde, 0xdf);
}

/** UTF-8 length of `s`; equal to `s.length` exactly when `s` is ASCII (every other code unit takes 2+ bytes). */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return utf8.encode(s).length;
  return s.length;
}

/** Writes str `s` (`n` = its UTF-8 length, from utf8Length) with its header at `pos`. */
export function writeStr(out: Uint8Array, pos: number, s: string, n: number): number {
  pos = writeStrHeader(out, pos, n);
  // ASCII (the usual names and ids) byte by byte: cheaper than encodeInto's setup for short strings.
  if (n === s.length) for (let i = 0; i < n; i++) out[pos + i] = s.charCodeAt(i);
  else utf8.encodeInto(s, out.subarray(pos, pos + n));
  return pos + n;
}

/** msgpack str bytes (header + UTF-8) of `s`. */
export function encodeStr(s: string): Uint8Array {
  const n = utf8Length(s);
  const out = new Uint8Array(strHeaderSize(n) + n);
  writeStr(out, 0, s, n);
  return out;
}
