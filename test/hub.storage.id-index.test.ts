// The message log's id index (hub/storage/id-index.ts) against a Map: a seeded random run of
// adds, lookups and removals across growth, and the backward-shift deletion keeping every other
// key reachable. Segment codec (hub/storage/segment.ts): what is encoded decodes back.
import { expect, test } from "vitest";
import { IdIndex } from "../hub/storage/id-index.js";
import { Draft, SegmentBatch, SegmentView, decodeIds, dropFirst, encodeSegment, hash1At, hash2At } from "../hub/storage/segment.js";
import { seededRandom } from "./support/seed.js";

/** The segments the index names for (channel, id): every candidate, as the message log walks them. */
function candidates(index: IdIndex, channel: number, id: string): number[] {
  const out: number[] = [];
  for (let cell = index.probe(channel, id); cell >= 0; cell = index.next(cell)) out.push(index.segment(cell));
  return out;
}

test("id index: adds, finds and removes as a Map does, through growth", () => {
  const rand = seededRandom("id-index");
  const index = new IdIndex(16);
  const model = new Map<string, { channel: number; id: string; seg: number; h1: number; h2: number }>();
  const keys: string[] = [];
  for (let step = 0; step < 60_000; step++) {
    const r = rand();
    if (r < 0.6 || keys.length === 0) {
      const channel = Math.floor(rand() * 50);
      const id = `id-${Math.floor(rand() * 1e9).toString(36)}`;
      const key = `${channel}/${id}`;
      if (model.has(key)) continue;
      // segment numbers pass 2^32 on a long-lived busy hub
      const seg = Math.floor(rand() * 1e6) * (rand() < 0.3 ? 9_000_001 : 1);
      // not held: the probe ends without a candidate of this segment
      expect(candidates(index, channel, id)).not.toContain(seg);
      let cell = index.probe(channel, id);
      while (cell >= 0) cell = index.next(cell);
      index.addProbed(seg);
      model.set(key, { channel, id, seg, h1: index.lastHash1, h2: index.lastHash2 });
      keys.push(key);
    } else if (r < 0.8) {
      const k = keys[Math.floor(rand() * keys.length)]!;
      const e = model.get(k)!;
      expect(candidates(index, e.channel, e.id)).toContain(e.seg);
    } else {
      const at = Math.floor(rand() * keys.length);
      const k = keys[at]!;
      keys[at] = keys[keys.length - 1]!;
      keys.pop();
      const e = model.get(k)!;
      model.delete(k);
      expect(index.removeHashed(e.h1, e.h2, e.seg)).toBe(true);
      expect(candidates(index, e.channel, e.id)).not.toContain(e.seg);
    }
    if (step % 100 === 0) expect(index.count).toBe(model.size);
  }
  expect(index.count).toBe(model.size);
  // everything still held is still found after all the shifting
  for (const e of model.values()) expect(candidates(index, e.channel, e.id)).toContain(e.seg);
  expect(model.size).toBeGreaterThan(10_000);
  // the same id in another channel is another key
  const [first] = model.values();
  expect(candidates(index, first!.channel + 1000, first!.id)).not.toContain(first!.seg);
});

test("id index: addHashed (loading from disk) finds what addProbed added", () => {
  const a = new IdIndex();
  const b = new IdIndex();
  for (let i = 0; i < 5000; i++) {
    let cell = a.probe(7, `m${i}`);
    while (cell >= 0) cell = a.next(cell);
    a.addProbed(i);
    b.addHashed(a.lastHash1, a.lastHash2, i);
  }
  for (let i = 0; i < 5000; i++) expect(candidates(b, 7, `m${i}`)).toContain(i);
  expect(b.count).toBe(5000);
  b.clear();
  expect(b.count).toBe(0);
  expect(candidates(b, 7, "m1")).toEqual([]);
});

test("segment codec: messages encode and decode back, and dropFirst cuts a prefix without decoding", () => {
  const batch = new SegmentBatch();
  const d = new Draft(42);
  const other = new Draft(43);
  const ids = ["a", "héllo-✓", "x".repeat(128), "", "last"];
  ids.forEach((id, i) => {
    batch.add(d, id, 1000.5 + i, new Uint8Array(Array.from({ length: i * 3 }, (_, k) => k + i)), i * 7 - 3, -i | 0);
    // another channel's message between each: the draft's run skips it
    batch.add(other, `o${i}`, 1, new Uint8Array([9]), 0, 0);
  });
  expect(batch.indexOf(d, "last")).toBe(8);
  expect(batch.indexOf(d, "o1")).toBe(-1);
  const b = encodeSegment(batch, d);
  const hashes = Buffer.from(b.hashes);
  const payload = Buffer.from(b.payload);
  expect(decodeIds(payload, ids.length)).toEqual(ids);
  const view = new SegmentView(hashes, payload, ids.length);
  expect(ids.map((_, i) => view.id(i))).toEqual(ids);
  expect(ids.map((_, i) => view.ts(i))).toEqual(ids.map((_, i) => 1000.5 + i));
  expect(ids.map((_, i) => [...view.data(i)])).toEqual(ids.map((_, i) => Array.from({ length: i * 3 }, (_, k) => k + i)));
  expect(ids.map((_, i) => [hash1At(hashes, i), hash2At(hashes, i)])).toEqual(ids.map((_, i) => [i * 7 - 3, -i | 0]));
  expect(view.findHash(4 * 7 - 3, -4)).toBe(4);
  expect(view.findHash(4 * 7 - 3, -4, 5)).toBe(-1);
  expect(view.findHash(1, 1)).toBe(-1);
  const rest = dropFirst(hashes, payload, ids.length, 2);
  const restView = new SegmentView(Buffer.from(rest.hashes), Buffer.from(rest.payload), 3);
  expect([0, 1, 2].map((i) => restView.id(i))).toEqual(ids.slice(2));
  expect([0, 1, 2].map((i) => restView.ts(i))).toEqual([1002.5, 1003.5, 1004.5]);
  expect([...restView.data(2)]).toEqual(Array.from({ length: 12 }, (_, k) => k + 4));
  expect(hash1At(Buffer.from(rest.hashes), 0)).toBe(2 * 7 - 3);
  expect(d.minTs).toBe(1000.5);
  expect(d.maxTs).toBe(1004.5);
  batch.clear();
  expect(batch.size).toBe(0);
});
