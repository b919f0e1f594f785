// msgpack for the values a telemetry write is made of (plain objects, short ASCII strings,
// numbers, booleans, null), written straight into the core's input region: the bytes msgpackr
// writes for them with the core's options (useRecords false, variableMapSize: smallest headers,
// smallest integer form, else float 64), without msgpackr's per-call set-up, which costs more than
// packing an app loop's few tags. Anything else is left to msgpackr, whole. A LocalBus write
// uses it (ChannelStore.applyValueViewWith); kept out of the core so that clients that never
// write in process (a browser's WebSocket client) do not carry it. test/store.test.ts compares
// its bytes with msgpackr's. It writes its own headers rather than calling the protocol's writers
// (msgpack-bytes.ts): with those, the 5-of-50 app loop measured 7-10% slower (A/B, 2026-12-05).

/** The region packed into last, and a DataView of it (for multi-byte numbers). */
let lastRegion: Uint8Array | undefined;
let lastView: DataView | undefined;
/** Nesting packSimple follows before it leaves a value to msgpackr. */
const SIMPLE_DEPTH = 8;
/** Longest string (UTF-16 units, all ASCII) packSimple writes itself. */
const SIMPLE_STRING = 255;

/**
 * Packs `value` at the start of `region` and returns its length, or -1 when it is not made only
 * of plain objects, ASCII strings of up to SIMPLE_STRING units, numbers, booleans and null (or
 * does not fit): the caller then has msgpackr pack it.
 */
export function packSimple(value: unknown, region: Uint8Array): number {
  if (region !== lastRegion) {
    lastRegion = region;
    lastView = new DataView(region.buffer, region.byteOffset, region.length);
  }
  return packAt(value, region, lastView!, 0, 0);
}

/** packSimple's work: `value` written at `at`; returns the end, or -1. */
function packAt(value: unknown, out: Uint8Array, view: DataView, at: number, depth: number): number {
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
    at = packAt(obj[key], out, view, at, depth + 1);
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
