// The hand-written msgpack reader (bindings/protocol/msgpack-read.ts) against msgpackr, with
// seeded random documents, from Node Buffers (native UTF-8 slicing) and plain Uint8Arrays (the
// browser's path), in place inside a larger buffer, and through its short-string cache when
// many different strings share its slots.
import { describe, expect, it } from "vitest";
import { MessageAt, readBatch, readValue } from "../bindings/protocol/msgpack-read.js";
import { packr } from "../bindings/protocol/msgpack.js";
import { encodeMessageEvent, eventPrefix, joinFrames } from "../bindings/protocol/frames.js";
import { seededRandom } from "./support/seed.js";

function randomString(r: () => number): string {
  const alphabet = ["a", "b", "Z", "0", "-", "/", "é", "€", "𝄞", " "];
  const n = [0, 1, 3, 8, 31, 32, 33, 70, 300][Math.floor(r() * 9)]!;
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[r() < 0.8 ? Math.floor(r() * 6) : Math.floor(r() * alphabet.length)]!;
  return s;
}

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 8));
  switch (k) {
    case 0:
      return [null, true, false][Math.floor(r() * 3)];
    case 1:
      return [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][Math.floor(r() * 11)]! * (r() < 0.3 ? -1 : 1);
    case 2:
      return (r() - 0.5) * 10 ** Math.floor(r() * 12);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return -Math.floor(r() * 40);
    case 6:
      return Array.from({ length: Math.floor(r() * 20) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 20); i > 0; i--) o[randomString(r) || "k"] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe("msgpack reader", () => {
  it("reads what msgpackr reads, from a Buffer, a Uint8Array and in place (seeded)", () => {
    const r = seededRandom("msgpack-read");
    for (let i = 0; i < 2000; i++) {
      const value = randomValue(r);
      const bytes = packr.pack(value);
      const expected = packr.unpack(bytes);
      expect(readValue(bytes), `value #${i}`).toEqual(expected);
      expect(readValue(Uint8Array.from(bytes)), `value #${i} (Uint8Array)`).toEqual(expected);
      const padded = Buffer.concat([Buffer.from([0xc1, 0xc1]), bytes, Buffer.from([0xc1])]);
      expect(readValue(padded, 2, 2 + bytes.length), `value #${i} in place`).toEqual(expected);
    }
  });

  it("tells a cached short string from another one sharing its slot", () => {
    // 20,000 distinct strings of 1-32 bytes: many share a slot (1024 of them), some differ in
    // bytes the slot hash does not look at.
    const seen: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const s = `k${i.toString(36).padStart(4, "0")}`.repeat(1 + (i % 6)).slice(0, 1 + (i % 32));
      seen.push(s);
      expect(readValue(packr.pack(s))).toBe(s);
    }
    for (const s of seen.slice(0, 500)) expect(readValue(packr.pack({ [s]: s }))).toEqual({ [s]: s });
  });

  it("keeps a __proto__ key as data, reads 64-bit integers as numbers or BigInt, and float32", () => {
    const proto = readValue(Uint8Array.of(0x81, 0xa9, ...Buffer.from("__proto__"), 0x01)) as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    const u64 = Uint8Array.of(0xcf, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01); // 2^53 + 1
    expect(readValue(u64)).toBe(2 ** 53);
    expect(readValue(u64, 0, u64.length, true)).toBe(2n ** 53n + 1n);
    const i64 = Uint8Array.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe); // -2
    expect(readValue(i64)).toBe(-2);
    expect(readValue(i64, 0, i64.length, true)).toBe(-2);
    expect(readValue(Uint8Array.of(0xca, 0x3f, 0xc0, 0x00, 0x00))).toBe(1.5);
  });

  it("refuses cut, trailing and unsupported bytes", () => {
    const doc = packr.pack({ a: [1, 2, "three"] });
    for (let cut = 0; cut < doc.length; cut++) {
      expect(() => readValue(doc.subarray(0, cut)), `cut at ${cut}`).toThrow(expect.objectContaining({ incomplete: true }));
    }
    const two = Buffer.concat([doc, doc]);
    expect(() => readValue(two)).toThrow(/bytes after the msgpack value/);
    expect(readValue(two, doc.length, two.length)).toEqual({ a: [1, 2, "three"] });
    expect(() => readValue(Uint8Array.of(0xc1))).toThrow(/not supported/);
    expect(() => readValue(Uint8Array.of(0xd4, 0x01, 0x02))).toThrow(/not supported/); // fixext 1
    expect(() => readValue(Uint8Array.of(0xa2, 0xff, 0xfe))).toThrow(); // not UTF-8 (Uint8Array: refused)
  });

  it("reads a batch as readValue does, message events that keep the grammar as MessageAt (seeded)", () => {
    const r = seededRandom("msgpack-read-batch");
    const name = () => randomString(r) || "n";
    const doc = () => packr.pack(randomValue(r, 2));
    // A message event by the hub's encoder, or by msgpackr with other headers, or one that breaks
    // the grammar somewhere (the plain array is then what the frame checks get).
    const frame = (): Uint8Array => {
      const ts = [0, 5, 0x7f, 0x80, 0xffff, 0x10000, 2 ** 32 - 1, 1_796_000_000_123, 2 ** 53 - 1][Math.floor(r() * 9)]!;
      switch (Math.floor(r() * 10)) {
        case 0:
        case 1:
        case 2:
          return encodeMessageEvent(eventPrefix(20, name(), name()), name(), ts, doc());
        case 3:
          return packr.pack([20, name(), name(), name(), ts, doc()]);
        case 4:
          return packr.pack([20, name(), name(), name(), [-1, 1.5, 2 ** 53, "5", null][Math.floor(r() * 5)], doc()]);
        case 5:
          return packr.pack([20, name(), name(), name(), ts, [new Uint8Array(0), "d", 7, null][Math.floor(r() * 4)]]);
        case 6:
          return packr.pack([20, [1, null, ["a"]][Math.floor(r() * 3)], name(), name(), ts, doc()]);
        case 7:
          return packr.pack(r() < 0.5 ? [20, name(), name(), name(), ts, doc(), 0] : [20, name(), name(), name(), ts]);
        case 8:
          return packr.pack([16, Math.floor(r() * 1000), randomValue(r, 2)]);
        default:
          return packr.pack(randomValue(r, 3));
      }
    };
    let inPlace = 0;
    for (let i = 0; i < 500; i++) {
      const frames = Array.from({ length: 1 + Math.floor(r() * (i % 10 === 0 ? 40 : 5)) }, frame);
      const batch = Buffer.from(joinFrames(frames));
      const plain = readValue(batch) as unknown[];
      const read = readBatch(batch) as unknown[];
      const readU8 = readBatch(Uint8Array.from(batch)) as unknown[];
      expect(read.length).toBe(plain.length);
      for (let k = 0; k < read.length; k++) {
        const got = read[k];
        if (got instanceof MessageAt) {
          inPlace++;
          const f = plain[k] as unknown[];
          expect([20, got.agentId, got.channel, got.id, got.ts, batch.subarray(got.start, got.end)], `batch #${i} frame ${k}`).toEqual(f);
          expect(f[5]).toBeInstanceOf(Uint8Array);
          expect((f[5] as Uint8Array).length).toBeGreaterThan(0);
          expect(Number.isSafeInteger(f[4]) && (f[4] as number) >= 0).toBe(true);
        } else {
          expect(got, `batch #${i} frame ${k}`).toEqual(plain[k]);
          const f = plain[k];
          // What stays a plain array is not a message event by the grammar.
          if (Array.isArray(f) && f[0] === 20 && f.length === 6)
            expect(
              typeof f[1] === "string" &&
                typeof f[2] === "string" &&
                typeof f[3] === "string" &&
                Number.isSafeInteger(f[4]) &&
                (f[4] as number) >= 0 &&
                f[5] instanceof Uint8Array &&
                f[5].length > 0,
            ).toBe(false);
        }
        expect(readU8[k] instanceof MessageAt).toBe(got instanceof MessageAt);
      }
    }
    expect(inPlace).toBeGreaterThan(500);
    // Not an array: as readValue.
    expect(readBatch(packr.pack({ a: 1 }))).toEqual({ a: 1 });
  });

  it("refuses a cut batch at every byte, and bytes after it", () => {
    const ev = encodeMessageEvent(eventPrefix(20, "dev", "log"), "id-1", 1_796_000_000_123, packr.pack({ a: "b" }));
    const batch = Buffer.from(joinFrames([ev, ev, packr.pack([16, 1, null])]));
    expect((readBatch(batch) as unknown[]).length).toBe(3);
    for (let cut = 0; cut < batch.length; cut++) {
      expect(() => readBatch(batch.subarray(0, cut)), `cut at ${cut}`).toThrow(expect.objectContaining({ incomplete: true }));
    }
    expect(() => readBatch(Buffer.concat([batch, Buffer.from([0])]))).toThrow(/bytes after the msgpack value/);
  });
});
