// A small msgpack codec with the part of msgpackr's `Packr` API the protocol uses (`pack`,
// `unpack`), for browser bundles: scripts/build-browser.mjs aliases "msgpackr" to this module, so
// a page carries ~1.5 KB of codec instead of msgpackr's ~12 KB (gzipped). Node and bundler users
// keep msgpackr (it is faster on large documents); the bytes are the same either way.
//
// It speaks the protocol's data model (docs/PROTOCOL.md, "Payloads") with the settings of
// bindings/protocol/msgpack.ts: maps with str keys as plain objects, map headers sized by entry
// count, integers as numbers (64-bit ones lose precision above 2^53, as in JSON), bin decoded as
// a view of the input. Encoding (msgpack spec):
//   nil c0 | false c2 | true c3
//   int     00..7f | e0..ff | cc u8 | cd u16 | ce u32 | d0 i8 | d1 i16 | d2 i32
//   float   cb f64 (every non-integer, and integers outside the 32-bit ranges)
//   str     a0+n | d9 n8 | da n16 | db n32, then UTF-8
//   bin     c4 n8 | c5 n16 | c6 n32        (Uint8Array)
//   array   90+n | dc n16 | dd n32
//   map     80+n | de n16 | df n32          (undefined-valued properties are left out, as JSON does)
// Decoding also reads float32 (ca) and 64-bit integers (cf, d3; as BigInt beyond 2^53 with
// `int64AsType: "auto"`, which core/doc.ts asks for). BigInt encodes as cf/d3. Extension types,
// 0xc1 and objects that are not plain (Date, Map) are refused. Errors are plain Errors; one for
// input cut short carries `incomplete: true`, as msgpackr's does, which frames.ts turns into
// TAGWIRE_ERR_INCOMPLETE. Headers are written by the primitives the frame codec uses
// (protocol/msgpack-bytes.ts, which imports nothing); values are read by the one hand-written
// reader (protocol/msgpack-read.ts), which the Node client's receive path uses too.

import { writeArrayHeader, writeBinHeader, writeMapHeader, writeStrHeader, writeUint } from "../protocol/msgpack-bytes.js";
import { readValue } from "../protocol/msgpack-read.js";

const encoder = new TextEncoder();

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A value that is a single byte (nil, booleans, fixints). */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  value(v: unknown): void {
    if (v === null || v === undefined) return this.byte(0xc0);
    switch (typeof v) {
      case "boolean":
        return this.byte(v ? 0xc3 : 0xc2);
      case "number":
        return this.number(v);
      case "bigint":
        this.ensure(9);
        this.buf[this.pos++] = v < 0n ? 0xd3 : 0xcf;
        if (v < 0n) this.view.setBigInt64(this.pos, v);
        else this.view.setBigUint64(this.pos, v);
        this.pos += 8;
        return;
      case "string": {
        // UTF-8 takes at most 3 bytes per UTF-16 unit; write after the widest header, then
        // move the bytes down if a shorter header fits.
        const max = v.length * 3;
        this.ensure(max + 5);
        const start = this.pos;
        const written = encoder.encodeInto(v, this.buf.subarray(start + 5)).written!;
        this.pos = writeStrHeader(this.buf, start, written);
        this.buf.copyWithin(this.pos, start + 5, start + 5 + written);
        this.pos += written;
        return;
      }
      case "object": {
        if (v instanceof Uint8Array) {
          this.ensure(5 + v.length);
          this.pos = writeBinHeader(this.buf, this.pos, v.length);
          this.buf.set(v, this.pos);
          this.pos += v.length;
          return;
        }
        if (Array.isArray(v)) {
          this.ensure(5);
          this.pos = writeArrayHeader(this.buf, this.pos, v.length);
          for (let i = 0; i < v.length; i++) this.value(v[i]);
          return;
        }
        // Only plain objects are maps; a Date, Map or class instance has no place in a document.
        const proto = Object.getPrototypeOf(v);
        if (proto === Object.prototype || proto === null) return this.map(v as Record<string, unknown>);
      }
    }
    throw new Error(`msgpack cannot encode a ${typeof v}`);
  }

  number(n: number): void {
    if (Number.isInteger(n)) {
      if (n >= 0) {
        if (n < 0x80) return this.byte(n);
        if (n <= 0xffffffff) {
          this.ensure(5);
          this.pos = writeUint(this.buf, this.pos, n);
          return;
        }
      } else if (n >= -32) {
        return this.byte(n & 0xff);
      } else if (n >= -0x80000000) {
        this.ensure(5);
        const tag = n >= -0x80 ? 0xd0 : n >= -0x8000 ? 0xd1 : 0xd2;
        this.buf[this.pos++] = tag;
        if (tag === 0xd0) this.view.setInt8(this.pos, n);
        else if (tag === 0xd1) this.view.setInt16(this.pos, n);
        else this.view.setInt32(this.pos, n);
        this.pos += tag === 0xd0 ? 1 : tag === 0xd1 ? 2 : 4;
        return;
      }
    }
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, n);
    this.pos += 8;
  }

  map(o: Record<string, unknown>): void {
    const keys = Object.keys(o).filter((k) => o[k] !== undefined);
    this.ensure(5);
    this.pos = writeMapHeader(this.buf, this.pos, keys.length);
    for (const k of keys) {
      this.value(k);
      this.value(o[k]);
    }
  }
}

/** Drop-in for the subset of msgpackr's Packr/Unpackr that the bindings use (pack, unpack). */
export class Packr {
  private readonly bigAuto: boolean;

  constructor(options?: { int64AsType?: string }) {
    this.bigAuto = options?.int64AsType === "auto";
  }

  pack(value: unknown): Uint8Array {
    const w = new Writer();
    w.value(value);
    return w.buf.slice(0, w.pos);
  }

  unpack(bytes: Uint8Array): unknown {
    return readValue(bytes, 0, bytes.length, this.bigAuto);
  }
}

export { Packr as Unpackr };
