// Fresh byte arrays (bindings/core/bytes.ts): copies own their bytes whichever way they are made.
import { describe, expect, it } from "vitest";
import { allocBytes, copyBytes } from "../bindings/core/bytes.js";
import { createCore } from "../bindings/index.js";
import { pack, unpack } from "msgpackr";

describe("copyBytes", () => {
  it("copies every range around the 64-byte switch, and the copy changes with nothing else", () => {
    const src = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    for (const [start, end] of [
      [0, 0],
      [5, 69],
      [5, 70],
      [0, 64],
      [0, 65],
      [10, 300],
      [0, 300],
    ] as const) {
      const copy = copyBytes(src, start, end);
      expect([...copy]).toEqual([...src.subarray(start, end)]);
      src.fill(0xee, start, end);
      expect(copy.every((b, i) => b === (((start + i) * 7) & 0xff))).toBe(true);
      for (let i = start; i < end; i++) src[i] = (i * 7) & 0xff;
      // pooled copies share an ArrayBuffer: writing one must not touch another
      const other = copyBytes(src, start, end);
      other.fill(1);
      expect([...copy]).toEqual([...src.subarray(start, end)]);
    }
  });

  it("allocBytes gives the length asked for", () => {
    for (const n of [0, 1, 64, 65, 5000]) expect(allocBytes(n).length).toBe(n);
  });
});

describe("store.apply's effective diff", () => {
  it("is a copy that outlives the next apply, small or large", async () => {
    const core = await createCore();
    const store = core.createChannelStore();
    const c = store.open("a/b");
    const big = { text: "x".repeat(200), n: 1 };
    const r1 = store.apply(c, pack(big));
    const r2 = store.apply(c, pack({ n: 2 }));
    const r3 = store.apply(c, pack({ text: "y".repeat(150) }));
    expect(r1.diff.length).toBeGreaterThan(64);
    expect(r3.diff.length).toBeGreaterThan(64);
    store.apply(c, pack({ text: "z".repeat(300), n: 3 }));
    expect(unpack(r1.diff)).toEqual(big);
    expect(unpack(r2.diff)).toEqual({ n: 2 });
    expect(unpack(r3.diff)).toEqual({ text: "y".repeat(150) });
  });
});
