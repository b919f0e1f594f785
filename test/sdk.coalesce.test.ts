// maxAgeMs coalescing (Doover's max_age): writes merged and sent no later than the deadline.
// Fake timers drive the deadlines; a seeded random test checks that coalesced writes end in the
// same aggregate as the same writes sent one by one.
import { describe, expect, it, vi } from "vitest";
import { applyDiff } from "../bindings/sdk/json.js";
import { localBusPerTest } from "./support/bus.js";
import { testSeed } from "./support/seed.js";

const bus = localBusPerTest();

describe("maxAgeMs coalescing", () => {
  it("merges writes and sends them together at the deadline of the first", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    await dev.publish("c", { keep: 1, gone: 1, nested: { a: 1, b: 1 } });
    const seen = bus.aggregates("dev", "c");
    expect(await dev.publish("c", { v: 1, gone: null }, { maxAgeMs: 1000 })).toBeNull();
    await vi.advanceTimersByTimeAsync(400);
    expect(await dev.publish("c", { v: 2, nested: { b: null, c: 3 } }, { maxAgeMs: 1000 })).toBeNull();
    await vi.advanceTimersByTimeAsync(400);
    await dev.publish("c", { w: true }, { maxAgeMs: 5000 });
    // Nothing sent yet: not visible to reads, no events.
    expect(await dev.getAggregate("c")).toEqual({ keep: 1, gone: 1, nested: { a: 1, b: 1 } });
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(199);
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toHaveLength(1);
    // One write with the composed diff; the null that cleared `gone` survived the merge.
    expect(seen[0]!.diff).toEqual({ v: 2, gone: null, nested: { b: null, c: 3 }, w: true });
    expect(await dev.getAggregate("c")).toEqual({ keep: 1, v: 2, nested: { a: 1, c: 3 }, w: true });
  });

  it("a later write with a nearer deadline brings the send forward", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const seen = bus.aggregates("dev", "c");
    await dev.publish("c", { a: 1 }, { maxAgeMs: 10_000 });
    await vi.advanceTimersByTimeAsync(100);
    await dev.publish("c", { b: 1 }, { maxAgeMs: 50 });
    await vi.advanceTimersByTimeAsync(49);
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.map((e) => e.diff)).toEqual([{ a: 1, b: 1 }]);
  });

  it("0, negative or no maxAgeMs sends at once, after what is pending, in order", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const seen = bus.aggregates("dev", "c");
    expect(await dev.publish("c", { a: 1 }, { maxAgeMs: 0 })).toMatchObject({ version: 1 });
    expect(await dev.publish("c", { a: 2 }, { maxAgeMs: -5 })).toMatchObject({ version: 2 });
    await dev.publish("c", { a: 3, b: 1 }, { maxAgeMs: 1000 });
    const r = await dev.publish("c", { a: 4 });
    expect(r).toMatchObject({ diff: { a: 4 } });
    expect(seen.map((e) => e.diff)).toEqual([{ a: 1 }, { a: 2 }, { a: 3, b: 1 }, { a: 4 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen).toHaveLength(4);
  });

  it("a logged write is never merged: pending first, then the logged one with its own message", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const seen = bus.aggregates("dev", "c");
    await dev.publish("c", { a: 1 }, { maxAgeMs: 1000 });
    await dev.publish("c", { a: 2 }, { maxAgeMs: 1000 });
    const r = await dev.publish("c", { b: 1 }, { maxAgeMs: 1000, log: true });
    expect(r?.message?.data).toEqual({ b: 1 });
    expect(seen.map((e) => e.diff)).toEqual([{ a: 2 }, { b: 1 }]);
    expect((await dev.getMessages("c")).map((m) => m.data)).toEqual([{ b: 1 }]);
  });

  it("flush() and close() send what is pending; channels are independent", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const c1 = bus.aggregates("dev", "c1"),
      c2 = bus.aggregates("dev", "c2");
    await dev.publish("c1", { x: 1 }, { maxAgeMs: 1000 });
    await dev.publish("c2", { y: 1 }, { maxAgeMs: 1000 });
    await dev.flush();
    expect(c1).toHaveLength(1);
    expect(c2).toHaveLength(1);
    await dev.publish("c1", { x: 2 }, { maxAgeMs: 1000 });
    await dev.close();
    expect(c1.map((e) => e.diff)).toEqual([{ x: 1 }, { x: 2 }]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(c1).toHaveLength(2);
  });

  it("replace and replaceKeys compose exactly", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    await dev.publish("c", { a: { x: 1, y: 2 }, b: { p: 1 }, c: 1 });
    await dev.publish("c", { a: { z: 3 } }, { maxAgeMs: 100, replaceKeys: ["a"] });
    await dev.publish("c", { a: { w: 4, z: null }, b: { q: 2 } }, { maxAgeMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    expect(await dev.getAggregate("c")).toEqual({ a: { w: 4 }, b: { p: 1, q: 2 }, c: 1 });
    await dev.publish("c", { only: 1, gone: 1 }, { maxAgeMs: 100, replace: true });
    await dev.publish("c", { gone: null, more: { m: 1 } }, { maxAgeMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    expect(await dev.getAggregate("c")).toEqual({ only: 1, more: { m: 1 } });
  });

  it("seeded random writes: coalesced ends where one-by-one ends", async () => {
    const seed = testSeed("sdk.coalesce random");
    let s = seed >>> 0 || 1;
    const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const keys = ["a", "b", "c", "d"];
    const value = (depth: number): unknown => {
      const r = rand();
      if (r < 0.25) return null;
      if (r < 0.5 || depth > 2) return Math.floor(rand() * 5);
      if (r < 0.6) return [Math.floor(rand() * 3)];
      const o: Record<string, unknown> = {};
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) o[keys[Math.floor(rand() * keys.length)]!] = value(depth + 1);
      return o;
    };
    vi.useFakeTimers();
    const direct = bus.agent("direct"),
      merged = bus.agent("merged");
    for (let round = 0; round < 40; round++) {
      const diffs = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => value(0) as object).map((d) =>
        d !== null && typeof d === "object" && !Array.isArray(d) ? d : { k: d },
      );
      let model: unknown = await direct.getAggregate("c");
      for (const d of diffs) {
        await direct.publish("c", d);
        model = applyDiff(model as never, d as never);
        await merged.publish("c", d, { maxAgeMs: 50 });
      }
      await vi.advanceTimersByTimeAsync(60);
      const a = await direct.getAggregate("c"),
        b = await merged.getAggregate("c");
      expect(b, `seed ${seed} round ${round}`).toEqual(a);
      expect(a).toEqual(model);
    }
  });
});
