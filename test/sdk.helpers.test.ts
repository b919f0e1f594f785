// Publishing helpers backed by the core: publishThrottled (none lost), publishOnChange (deadband),
// RollingStats for apps.
import { describe, expect, it, vi } from "vitest";
import { RollingStats } from "../bindings/index.js";
import { localBusPerTest } from "./support/bus.js";

const bus = localBusPerTest();

describe("publishThrottled", () => {
  it("sends the first at once, holds the rest of the interval and sends the latest at its end", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const seen = bus.aggregates("dev", "t");
    const t0 = Date.now();
    expect(await dev.publishThrottled("t", { v: 0 }, { minIntervalMs: 100 })).toMatchObject({ version: 1 });
    for (let i = 1; i <= 5; i++) {
      await vi.advanceTimersByTimeAsync(10);
      expect(await dev.publishThrottled("t", { v: i, [`k${i}`]: true }, { minIntervalMs: 100 })).toBeNull();
    }
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(49);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - t0).toBe(100);
    // The latest value, and every key a held write carried: nothing lost.
    expect(await dev.getAggregate("t")).toEqual({ v: 5, k1: true, k2: true, k3: true, k4: true, k5: true });
    // The trailing send started a new interval.
    expect(await dev.publishThrottled("t", { v: 6 }, { minIntervalMs: 100 })).toBeNull();
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.map((e) => e.at - t0)).toEqual([0, 100, 200]);
    // Quiet for longer than the interval: the next goes at once.
    await vi.advanceTimersByTimeAsync(500);
    expect(await dev.publishThrottled("t", { v: 7 }, { minIntervalMs: 100 })).not.toBeNull();
  });

  it("a fast stream: exactly one per interval, the last value always arrives", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const seen = bus.aggregates("dev", "fast");
    const t0 = Date.now();
    const n = 60;
    for (let i = 0; i < n; i++) {
      await dev.publishThrottled("fast", { seq: i }, { minIntervalMs: 40 });
      await vi.advanceTimersByTimeAsync(4);
    }
    // The stream ran 240 ms: sends at 0, 40, ..., 240 (the last one holding seq 59).
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.map((e) => e.at - t0)).toEqual([0, 40, 80, 120, 160, 200, 240]);
    expect(seen.map((e) => (e.aggregate as { seq: number }).seq)).toEqual([0, 9, 19, 29, 39, 49, 59]);
    expect(await dev.getAggregate("fast")).toEqual({ seq: n - 1 });
  });

  it("with real timers: never two sends closer than the interval, nothing lost", async () => {
    const dev = bus.agent("dev");
    const sent: number[] = [];
    const seen = bus.aggregates("dev", "real");
    // Bursts of five back to back, then a short sleep: on a loaded machine a 3 ms sleep after
    // every write can last past the interval, and then nothing would be held.
    for (let i = 0; i < 30; i++) {
      await dev.publishThrottled("real", { [`k${i}`]: i }, { minIntervalMs: 30 });
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 3));
    }
    await new Promise((r) => setTimeout(r, 100));
    for (const e of seen) sent.push(e.at);
    const agg = (await dev.getAggregate("real")) as Record<string, number>;
    expect(Object.keys(agg)).toHaveLength(30);
    expect(seen.length).toBeLessThan(30);
    // Event times are taken in the handler, a little after each send's own clock reading.
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(25);
  });

  it("channels are independent; flush() sends held writes now", async () => {
    vi.useFakeTimers();
    const dev = bus.agent("dev");
    const a = bus.aggregates("dev", "a"),
      b = bus.aggregates("dev", "b");
    await dev.publishThrottled("a", { n: 1 }, { minIntervalMs: 1000 });
    await dev.publishThrottled("b", { n: 1 }, { minIntervalMs: 1000 });
    await dev.publishThrottled("a", { n: 2 }, { minIntervalMs: 1000 });
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    await dev.flush();
    expect(a.map((e) => e.diff)).toEqual([{ n: 1 }, { n: 2 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(a).toHaveLength(2);
  });
});

describe("publishOnChange", () => {
  it("publishes only moves of at least threshold from the last published value", async () => {
    const dev = bus.agent("dev");
    const sent: number[] = [];
    for (const v of [10, 10.5, 10.99, 11, 10.2, 9.9, 9.9, 100]) {
      if (await dev.publishOnChange("s", "temp", v, { threshold: 1 })) sent.push(v);
    }
    expect(sent).toEqual([10, 11, 9.9, 100]);
    expect(await dev.getAggregate("s")).toEqual({ temp: 100 });
  });

  it("percent bands, per key and channel, with log", async () => {
    const dev = bus.agent("dev");
    const sent: string[] = [];
    const feed = [
      ["p", 100],
      ["q", 100],
      ["p", 105],
      ["p", 110],
      ["q", 91],
      ["q", 90],
    ] as const;
    for (const [key, v] of feed) if (await dev.publishOnChange("s", key, v, { percent: 10, log: true })) sent.push(`${key}=${v}`);
    expect(sent).toEqual(["p=100", "q=100", "p=110", "q=90"]);
    expect(await dev.publishOnChange("other", "p", 111, { percent: 10 })).not.toBeNull();
    expect((await dev.getMessages("s")).map((m) => m.data)).toEqual([{ p: 100 }, { q: 100 }, { p: 110 }, { q: 90 }]);
  });

  it("rejects non-finite values and bad keys, and keeps its state", async () => {
    const dev = bus.agent("dev");
    await dev.publishOnChange("s", "v", 1, { threshold: 1 });
    await expect(dev.publishOnChange("s", "v", NaN, { threshold: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_ARGUMENT" });
    await expect(dev.publishOnChange("s", "bad key", 5, { threshold: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
    expect(await dev.publishOnChange("s", "v", 1.5, { threshold: 1 })).toBeNull();
    expect(await dev.publishOnChange("s", "v", 2, { threshold: 1 })).not.toBeNull();
  });
});

describe("RollingStats", () => {
  it("count windows and summaries", async () => {
    const stats = await RollingStats.create({ window: 3 });
    for (const v of [5, 1, 9, 4]) stats.add(v);
    expect(stats.summary()).toEqual({ count: 3, mean: (1 + 9 + 4) / 3, min: 1, max: 9, stddev: expect.closeTo(Math.sqrt(49 / 3), 10) });
    stats.reset();
    expect(stats.summary()).toEqual({ count: 0, mean: 0, min: 0, max: 0, stddev: 0 });
    expect(() => stats.add(NaN)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    stats.dispose();
  });

  it("time windows", async () => {
    await RollingStats.load();
    const stats = new RollingStats({ windowMs: 1000 });
    stats.add(10, 0);
    stats.add(20, 500);
    stats.add(30, 1200);
    expect(stats.summary()).toMatchObject({ count: 2, mean: 25, min: 20, max: 30 });
    stats.expire(2600);
    expect(stats.count).toBe(0);
    stats.dispose();
  });
});
