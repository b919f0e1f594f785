// Rolling statistics in the core, checked against a plain recomputation over the same samples.
import { beforeAll, describe, expect, it } from "vitest";
import { createCore, type Core, type RollingStatsSnapshot } from "../bindings/index.js";
import { expectTagwireError } from "./support/errors.js";
import { mulberry32, testSeed } from "./support/seed.js";

const SEED = testSeed("stats.test");

type Snap = RollingStatsSnapshot;

/**
 * The reference: keeps the samples in a plain array and recomputes everything from scratch.
 * Window rules as documented on RollingStats: newest `limit` samples, samples aged out below
 * clock - windowMs, timestamps clamped to the newest seen, EWMA restarting when emptied by expiry.
 */
class Reference {
  samples: { v: number; t: number }[] = [];
  clock = -Infinity;
  ew = 0;
  fresh = true;
  constructor(
    readonly limit: number,
    readonly windowMs: number | undefined,
    readonly alpha = 0.1,
  ) {}

  add(v: number, t: number): void {
    if (this.windowMs !== undefined) {
      this.clock = Math.max(this.clock, t);
      t = this.clock;
      this.expireTo();
    }
    if (this.samples.length === this.limit) this.samples.shift();
    this.samples.push({ v, t });
    if (this.fresh) {
      this.ew = v;
      this.fresh = false;
    } else {
      this.ew += this.alpha * (v - this.ew);
    }
  }

  expire(now: number): number {
    if (this.windowMs === undefined) return 0;
    this.clock = Math.max(this.clock, now);
    return this.expireTo();
  }

  private expireTo(): number {
    const cutoff = this.clock - this.windowMs!;
    let dropped = 0;
    while (this.samples.length && this.samples[0]!.t < cutoff) {
      this.samples.shift();
      dropped++;
    }
    if (dropped && !this.samples.length) this.fresh = true;
    return dropped;
  }

  snapshot(): Snap {
    const xs = this.samples.map((s) => s.v);
    const n = xs.length;
    if (n === 0) return { count: 0, sum: 0, mean: 0, min: 0, max: 0, stddev: 0, ewma: 0 };
    let sum = 0;
    for (const x of xs) sum += x;
    const mean = sum / n;
    let ss = 0;
    for (const x of xs) ss += (x - mean) ** 2;
    let min = Infinity;
    let max = -Infinity;
    for (const x of xs) {
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    return {
      count: n,
      sum,
      mean,
      min,
      max,
      stddev: n > 1 && min !== max ? Math.sqrt(ss / (n - 1)) : 0,
      ewma: this.ew,
    };
  }

  /** Largest |x| in the window: the scale rounding errors are measured against. */
  scale(): number {
    let m = 0;
    for (const s of this.samples) m = Math.max(m, Math.abs(s.v));
    return m;
  }
}

function expectClose(got: Snap, ref: Reference, where: string): void {
  const want = ref.snapshot();
  const scale = ref.scale();
  const n = Math.max(want.count, 1);
  const ctx = `${where} (seed ${SEED})`;
  expect(got.count, ctx).toBe(want.count);
  expect(got.min, ctx).toBe(want.min);
  expect(got.max, ctx).toBe(want.max);
  // Same operations in the same order: the EWMA must agree to the bit.
  expect(got.ewma, ctx).toBe(want.ewma);
  const sumTol = 1e-11 * scale * n;
  if (Math.abs(got.sum - want.sum) > sumTol) expect.fail(`${ctx}: sum ${got.sum} vs ${want.sum}`);
  if (Math.abs(got.mean - want.mean) > sumTol / n) expect.fail(`${ctx}: mean ${got.mean} vs ${want.mean}`);
  const sdTol = 1e-9 * want.stddev + 1e-12 * scale;
  if (Math.abs(got.stddev - want.stddev) > sdTol) expect.fail(`${ctx}: stddev ${got.stddev} vs ${want.stddev}`);
}

/** Samples of mixed shape: noise around an offset, occasional spikes, runs of equal values. */
function sampler(next: () => number): () => number {
  let offset = 0;
  let run = 0;
  let runValue = 0;
  return () => {
    const r = next();
    if (r < 0.002) offset = (next() - 0.5) * 10 ** Math.floor(next() * 8);
    if (run > 0) {
      run--;
      return runValue;
    }
    if (r < 0.004) {
      run = Math.floor(next() * 80);
      runValue = offset + 0.1;
      return runValue;
    }
    if (r < 0.006) return (next() < 0.5 ? -1 : 1) * 1e12 * next();
    return offset + (next() - 0.5) * 3;
  };
}

const expectArgumentError = (fn: () => unknown) => expectTagwireError("TAGWIRE_ERR_ARGUMENT", fn);

let core: Core;
beforeAll(async () => {
  core = await createCore();
});

describe("RollingStats: count windows", () => {
  for (const size of [1, 2, 3, 7, 60, 64, 65, 1000]) {
    it(`matches a recomputation, window ${size}`, () => {
      const next = mulberry32(SEED ^ size);
      const sample = sampler(next);
      const stats = core.createRollingStats({ window: size });
      const ref = new Reference(size, undefined);
      for (let i = 0; i < 6000; i++) {
        const v = sample();
        stats.add(v);
        ref.add(v, 0);
        expectClose(stats.snapshot(), ref, `window ${size}, sample ${i}`);
      }
      stats.dispose();
    });
  }

  it("getters agree with snapshot()", () => {
    const stats = core.createRollingStats({ window: 5, ewmaAlpha: 0.5 });
    stats.addMany([4, -2, 9, 9, 0.5, 3]);
    const s = stats.snapshot();
    expect([stats.count, stats.sum, stats.mean, stats.min, stats.max, stats.stddev, stats.ewma]).toEqual([
      s.count,
      s.sum,
      s.mean,
      s.min,
      s.max,
      s.stddev,
      s.ewma,
    ]);
    // Window holds -2, 9, 9, 0.5, 3: small enough to check by hand.
    expect(s.count).toBe(5);
    expect(s.sum).toBe(19.5);
    expect(s.mean).toBe(3.9);
    expect(s.min).toBe(-2);
    expect(s.max).toBe(9);
    const mean = 3.9;
    const sd = Math.sqrt([-2, 9, 9, 0.5, 3].reduce((a, x) => a + (x - mean) ** 2, 0) / 4);
    expect(s.stddev).toBeCloseTo(sd, 12);
    let ew = 4;
    for (const x of [-2, 9, 9, 0.5, 3]) ew += 0.5 * (x - ew);
    expect(s.ewma).toBe(ew);
  });

  it("window 1 keeps only the newest sample; stddev is 0 below two samples", () => {
    const stats = core.createRollingStats({ window: 1 });
    stats.add(5);
    expect(stats.snapshot()).toMatchObject({ count: 1, sum: 5, mean: 5, min: 5, max: 5, stddev: 0, ewma: 5 });
    stats.add(-3);
    expect(stats.snapshot()).toMatchObject({ count: 1, sum: -3, mean: -3, min: -3, max: -3, stddev: 0 });
    // The EWMA runs over the stream, not the window.
    expect(stats.ewma).toBeCloseTo(5 + 0.1 * (-3 - 5), 12);
  });

  it("constant data reads back exactly, with stddev 0", () => {
    const stats = core.createRollingStats({ window: 60 });
    for (let i = 0; i < 500; i++) stats.add(5.1);
    expect(stats.snapshot()).toMatchObject({ count: 60, mean: 5.1, min: 5.1, max: 5.1, stddev: 0, ewma: 5.1 });
    expect(stats.sum).toBeCloseTo(5.1 * 60, 10);
  });

  it("an empty window reports count 0 and 0 for everything", () => {
    const zero = { count: 0, sum: 0, mean: 0, min: 0, max: 0, stddev: 0, ewma: 0 };
    const stats = core.createRollingStats({ window: 10 });
    expect(stats.snapshot()).toEqual(zero);
    expect(stats.mean).toBe(0);
    stats.addMany([1, 2, 3]);
    stats.reset();
    expect(stats.snapshot()).toEqual(zero);
    // After reset the EWMA starts again from the first sample.
    stats.add(7);
    expect(stats.snapshot()).toMatchObject({ count: 1, mean: 7, ewma: 7 });
  });

  it("expire() on a count window drops nothing", () => {
    const stats = core.createRollingStats({ window: 3 });
    stats.addMany([1, 2, 3]);
    expect(stats.expire(Date.now() + 1e9)).toBe(0);
    expect(stats.count).toBe(3);
  });
});

describe("RollingStats: time windows", () => {
  it("keeps samples with time >= newest - windowMs (a sample exactly windowMs old stays)", () => {
    const stats = core.createRollingStats({ windowMs: 1000 });
    stats.add(1, 10_000);
    stats.add(2, 10_500);
    stats.add(3, 11_000); // 10_000 is exactly 1000 ms old: stays
    expect(stats.snapshot()).toMatchObject({ count: 3, sum: 6, min: 1, max: 3 });
    stats.add(4, 11_001); // now 10_000 is 1001 ms old
    expect(stats.snapshot()).toMatchObject({ count: 3, sum: 9, min: 2, max: 4 });
  });

  it("expire(nowMs) ages samples out; emptied windows read 0 and restart the EWMA", () => {
    const stats = core.createRollingStats({ windowMs: 1000, ewmaAlpha: 0.5 });
    stats.addMany([10, 20, 30], [0, 400, 800]);
    expect(stats.expire(1400)).toBe(1); // drops t=0 (cutoff 400: t=400 stays)
    expect(stats.snapshot()).toMatchObject({ count: 2, sum: 50, min: 20, max: 30 });
    expect(stats.ewma).toBe(10 + 0.5 * (20 - 10) + 0.5 * (30 - (10 + 0.5 * (20 - 10))));
    expect(stats.expire(1200)).toBe(0); // the clock never goes back
    expect(stats.expire(5000)).toBe(2);
    expect(stats.snapshot()).toEqual({ count: 0, sum: 0, mean: 0, min: 0, max: 0, stddev: 0, ewma: 0 });
    stats.add(100, 5001);
    expect(stats.snapshot()).toMatchObject({ count: 1, mean: 100, ewma: 100 });
  });

  it("a timestamp older than the newest counts as the newest", () => {
    const stats = core.createRollingStats({ windowMs: 100 });
    stats.add(1, 1000);
    stats.add(2, 500); // clamped to 1000, so it is not dropped
    expect(stats.count).toBe(2);
    stats.add(3, 1100); // both at 1000 are exactly 100 old: stay
    expect(stats.count).toBe(3);
    stats.add(4, 1101);
    expect(stats.snapshot()).toMatchObject({ count: 2, min: 3, max: 4 });
  });

  it("defaults the timestamp to Date.now()", () => {
    const stats = core.createRollingStats({ windowMs: 60_000 });
    stats.add(1);
    stats.addMany([2, 3]);
    expect(stats.count).toBe(3);
    expect(stats.expire(Date.now() + 59_000)).toBe(0);
    expect(stats.expire(Date.now() + 61_000)).toBe(3);
  });

  for (const [label, limit] of [
    ["time only", undefined],
    ["time and count", 50],
  ] as const) {
    it(`matches a recomputation with explicit timestamps (${label})`, () => {
      const next = mulberry32(SEED ^ 0x7157);
      const sample = sampler(next);
      const windowMs = 250;
      const stats = core.createRollingStats(limit ? { windowMs, window: limit } : { windowMs });
      const ref = new Reference(limit ?? 2 ** 20, windowMs);
      let t = 1_700_000_000_000;
      for (let i = 0; i < 20_000; i++) {
        const r = next();
        // Mostly small steps, some bursts at one instant, some long gaps, some steps back.
        if (r < 0.7) t += Math.floor(next() * 20);
        else if (r < 0.75) t += Math.floor(next() * 600);
        else if (r < 0.8) t -= Math.floor(next() * 50);
        if (next() < 0.02) {
          const now = t + Math.floor(next() * 400);
          expect(stats.expire(now)).toBe(ref.expire(now));
        } else {
          const v = sample();
          stats.add(v, t);
          ref.add(v, t);
        }
        expectClose(stats.snapshot(), ref, `${label}, step ${i}`);
      }
    });
  }

  it("grows past its first ring and keeps order", () => {
    const stats = core.createRollingStats({ windowMs: 1e9 });
    const ref = new Reference(2 ** 20, 1e9);
    const next = mulberry32(SEED ^ 0x9e0);
    for (let i = 0; i < 50_000; i++) {
      const v = Math.round((next() - 0.5) * 1e6) / 8;
      stats.add(v, i);
      ref.add(v, i);
      if ((i & (i - 1)) === 0) expectClose(stats.snapshot(), ref, `growth, sample ${i}`);
    }
    expectClose(stats.snapshot(), ref, "growth, end");
  });

  it("a time window without `window` holds at most 2^20 samples", () => {
    const stats = core.createRollingStats({ windowMs: 1e12 });
    const n = 2 ** 20 + 10;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = i;
    stats.addMany(values, values);
    expect(stats.count).toBe(2 ** 20);
    expect(stats.min).toBe(10);
    stats.dispose();
  });
});

describe("RollingStats: batches", () => {
  it("addMany equals repeated add, to the bit", () => {
    const next = mulberry32(SEED ^ 0xbadd);
    const sample = sampler(next);
    for (const opts of [{ window: 60 }, { window: 7 }, { windowMs: 300 }, { windowMs: 300, window: 40 }]) {
      const one = core.createRollingStats(opts);
      const many = core.createRollingStats(opts);
      let t = 0;
      for (let batch = 0; batch < 200; batch++) {
        const n = Math.floor(next() * 150);
        const values = Array.from({ length: n }, sample);
        const times = Array.from({ length: n }, () => (t += Math.floor(next() * 10)));
        for (let i = 0; i < n; i++) one.add(values[i]!, times[i]!);
        if (batch % 2) many.addMany(values, times);
        else many.addMany(Float64Array.from(values), Float64Array.from(times));
        expect(many.snapshot(), `${JSON.stringify(opts)} batch ${batch} (seed ${SEED})`).toEqual(one.snapshot());
      }
    }
  });

  it("stddev read now and then equals stddev read after every sample, to the bit", () => {
    // Count windows work M2 out only when it is read, catching up over the samples since the last
    // read (the filling block forwards, the last block's suffixes backwards).
    const next = mulberry32(SEED ^ 0x5b2ead);
    const sample = sampler(next);
    for (const window of [1, 2, 7, 60, 1000]) {
      const every = core.createRollingStats({ window });
      const sometimes = core.createRollingStats({ window });
      let reads = 0;
      for (let i = 0; i < 5000; i++) {
        const x = sample();
        every.add(x);
        const expected = every.snapshot();
        sometimes.add(x);
        if (next() < 0.03 || i % 997 === 0) {
          reads++;
          expect(sometimes.stddev, `window ${window} sample ${i} (seed ${SEED})`).toBe(expected.stddev);
          expect(sometimes.snapshot()).toEqual(expected);
        }
      }
      expect(reads).toBeGreaterThan(50);
      every.dispose();
      sometimes.dispose();
    }
  });

  it("staged add()s reach the core before any read or call, in order", () => {
    const next = mulberry32(SEED ^ 0x57a6e);
    const values = Array.from({ length: 1000 }, () => (next() - 0.5) * 100);
    const times = values.map((_, i) => i * 3);
    for (const opts of [{ window: 50 }, { windowMs: 200 }]) {
      const one = core.createRollingStats(opts);
      const many = core.createRollingStats(opts);
      // 1000 adds with no read in between: the stage fills and empties several times.
      for (let i = 0; i < 1000; i++) one.add(values[i]!, times[i]!);
      many.addMany(values, times);
      expect(one.snapshot()).toEqual(many.snapshot());
      // Staged samples come before a later addMany, expire or reset.
      one.add(1e6, 3000);
      one.addMany([2], [3001]);
      many.addMany([1e6, 2], [3000, 3001]);
      expect(one.snapshot()).toEqual(many.snapshot());
      one.add(5, 3002);
      many.add(5, 3002);
      expect(one.expire(3150)).toBe(many.expire(3150));
      expect(one.snapshot()).toEqual(many.snapshot());
      one.add(7, 3200);
      one.reset();
      expect(one.count).toBe(0);
    }
  });

  it("takes batches larger than the input region", () => {
    const stats = core.createRollingStats({ window: 100 });
    const values = new Float64Array(50_000).map((_, i) => i % 1000);
    stats.addMany(values);
    const ref = new Reference(100, undefined);
    for (const v of values) ref.add(v, 0);
    expectClose(stats.snapshot(), ref, "large batch");
  });

  it("count windows ignore timestamps", () => {
    const a = core.createRollingStats({ window: 4 });
    const b = core.createRollingStats({ window: 4 });
    a.addMany([1, 2, 3, 4, 5], [9, 1, 8, 2, NaN]);
    b.addMany([1, 2, 3, 4, 5]);
    expect(a.snapshot()).toEqual(b.snapshot());
  });
});

describe("RollingStats: numerical drift", () => {
  it("stays within rounding of a fresh recomputation over a million samples", () => {
    const next = mulberry32(SEED ^ 0xd41f);
    const sample = sampler(next);
    const stats = core.createRollingStats({ window: 60 });
    const ref = new Reference(60, undefined);
    const chunk = new Float64Array(997);
    let total = 0;
    while (total < 1_000_000) {
      for (let i = 0; i < chunk.length; i++) {
        chunk[i] = sample();
        ref.add(chunk[i]!, 0);
      }
      stats.addMany(chunk);
      total += chunk.length;
      expectClose(stats.snapshot(), ref, `after ${total} samples`);
    }
  });

  it("recovers full precision after a huge spike leaves", () => {
    const stats = core.createRollingStats({ window: 60 });
    stats.add(1e15);
    const ref = new Reference(60, undefined);
    ref.add(1e15, 0);
    for (let i = 0; i < 60; i++) {
      const v = 1 + (i % 7) * 1e-3;
      stats.add(v);
      ref.add(v, 0);
    }
    const want = ref.snapshot();
    expect(stats.count).toBe(60);
    expect(Math.abs(stats.stddev - want.stddev)).toBeLessThan(1e-12);
    expect(Math.abs(stats.mean - want.mean)).toBeLessThan(1e-14);
    expect(Math.abs(stats.sum - want.sum)).toBeLessThan(1e-12);
  });

  it("keeps memory flat under a long stream", () => {
    const stats = core.createRollingStats({ window: 60 });
    const timed = core.createRollingStats({ windowMs: 100 });
    const values = new Float64Array(10_000).map((_, i) => Math.sin(i));
    const times = new Float64Array(10_000);
    let t = 0;
    const round = () => {
      for (let i = 0; i < times.length; i++) times[i] = t++;
      stats.addMany(values);
      timed.addMany(values, times);
    };
    round();
    const bytes = core.instance.exports.memory.buffer.byteLength;
    for (let i = 0; i < 100; i++) round();
    expect(core.instance.exports.memory.buffer.byteLength).toBe(bytes);
    expect(timed.count).toBe(101);
  });
});

describe("RollingStats: handles and errors", () => {
  it("keeps many windows apart, and reuses freed handles safely", () => {
    const a = core.createRollingStats({ window: 3 });
    const b = core.createRollingStats({ windowMs: 1000 });
    a.addMany([1, 2, 3]);
    b.add(100, 0);
    expect(a.sum).toBe(6);
    expect(b.sum).toBe(100);
    a.dispose();
    a.dispose(); // repeatable
    const c = core.createRollingStats({ window: 2 });
    c.add(-1);
    expect(c.snapshot()).toMatchObject({ count: 1, sum: -1 });
    expect(b.sum).toBe(100);
    for (const call of [() => a.add(1), () => a.mean, () => a.snapshot(), () => a.reset(), () => a.expire(0)]) {
      expect(call).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    }
    expect(a.disposed).toBe(true);
  });

  it("a disposed window's handle is refused by the core even right after a call on it", () => {
    // The core remembers the window of its last lookup; releasing that handle must forget it.
    const ex = core.instance.exports;
    const a = core.createRollingStats({ window: 4 });
    a.add(1);
    expect(a.mean).toBe(1);
    const h = (a as unknown as { handle: number }).handle;
    expect(ex.statsAdd(h, 2, 0)).toBe(0);
    a.dispose();
    expect(ex.statsAdd(h, 3, 0)).not.toBe(0);
    expect(ex.statsPublishM2(h)).not.toBe(0);
    expect(ex.statsResultPtr(h)).toBe(0);
    // The freed handle comes back for the next window, which starts empty.
    const b = core.createRollingStats({ window: 4 });
    expect((b as unknown as { handle: number }).handle).toBe(h);
    b.add(5);
    expect(b.snapshot()).toMatchObject({ count: 1, sum: 5, mean: 5 });
    b.dispose();
  });

  it("rejects invalid options with TAGWIRE_ERR_ARGUMENT", () => {
    const bad: unknown[] = [
      { window: 0 },
      { window: -1 },
      { window: NaN },
      { window: 1.5 },
      { window: Infinity },
      { window: 2 ** 24 + 1 },
      { windowMs: 0 },
      { windowMs: -5 },
      { windowMs: NaN },
      { windowMs: Infinity },
      { window: 10, ewmaAlpha: 0 },
      { window: 10, ewmaAlpha: 1.01 },
      { window: 10, ewmaAlpha: NaN },
      {},
      undefined,
    ];
    for (const options of bad) expectArgumentError(() => core.createRollingStats(options as never));
    expect(core.createRollingStats({ window: 2 ** 24, ewmaAlpha: 1 }).count).toBe(0);
  });

  it("rejects non-finite samples and keeps the window intact", () => {
    const next = mulberry32(SEED ^ 0xe44);
    for (const opts of [{ window: 5 }, { windowMs: 1000 }]) {
      const stats = core.createRollingStats(opts);
      stats.addMany([3, 1, 4, 1, 5, 9], [1, 2, 3, 4, 5, 6]);
      const before = stats.snapshot();
      for (const v of [NaN, Infinity, -Infinity]) expectArgumentError(() => stats.add(v, 7));
      expectArgumentError(() => stats.add("4" as never, 7));
      const batch = [2, 6, 5, 3];
      batch.splice(Math.floor(next() * 5), 0, NaN);
      expectArgumentError(() => stats.addMany(batch, [7, 8, 9, 10, 11]));
      expectArgumentError(() => stats.addMany([1, 2], [7]));
      expect(stats.snapshot()).toEqual(before);
      // Still usable, and the rejected samples left no trace.
      const ref = core.createRollingStats(opts);
      ref.addMany([3, 1, 4, 1, 5, 9, 2], [1, 2, 3, 4, 5, 6, 7]);
      stats.add(2, 7);
      expect(stats.snapshot()).toEqual(ref.snapshot());
    }
  });

  it("checks samples and the window on add() when reads follow every add (direct calls)", () => {
    const stats = core.createRollingStats({ window: 4 });
    // Read after each add: add() switches to one core call per sample.
    for (const v of [1, 2, 3, 4, 5]) {
      stats.add(v);
      expect(stats.max).toBe(v);
    }
    for (const v of [NaN, Infinity, "6" as never]) expectArgumentError(() => stats.add(v));
    expect(stats.snapshot()).toMatchObject({ count: 4, sum: 14, min: 2, max: 5 });
    stats.dispose();
    expect(() => stats.add(6)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    expect(() => stats.max).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
  });

  it("checks samples and the window on add() while adds are staged (no reads in between)", () => {
    const stats = core.createRollingStats({ window: 4 });
    const ref = core.createRollingStats({ window: 4 });
    // Adds with no read between them are staged; a bad one is refused alone, the staged ones before
    // it stay, in order, and later adds go on staging.
    stats.add(1);
    stats.add(2);
    for (const v of [NaN, -Infinity, "3" as never]) expectArgumentError(() => stats.add(v));
    stats.add(3);
    stats.add(4);
    stats.add(5);
    ref.addMany([1, 2, 3, 4, 5]);
    expect(stats.snapshot()).toEqual(ref.snapshot());
    // A full stage (256) is handed over mid-run; the run goes on past it.
    const run = Array.from({ length: 600 }, (_, i) => (i * 7919) % 101);
    for (const v of run) stats.add(v);
    ref.addMany(run);
    expect(stats.snapshot()).toEqual(ref.snapshot());
    stats.add(6);
    stats.dispose();
    expect(() => stats.add(7)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    ref.dispose();
  });

  it("min and max order -0 below +0, as Math.min and Math.max do", () => {
    // Across block boundaries (window 3) and within one block, one add per read and in batches.
    const stats = core.createRollingStats({ window: 3 });
    const batch = core.createRollingStats({ window: 3 });
    const values = [0, -0, 0, 0, -0, -0, 0, 1, -0, 0, -1, 0];
    const seen: number[] = [];
    for (const v of values) {
      stats.add(v);
      batch.addMany([v]);
      seen.push(v);
      const win = seen.slice(-3);
      const where = `after ${seen.length} samples`;
      expect(Object.is(stats.min, Math.min(...win)), where).toBe(true);
      expect(Object.is(stats.max, Math.max(...win)), where).toBe(true);
      expect(batch.snapshot(), where).toEqual(stats.snapshot());
    }
  });

  it("rejects non-finite timestamps in time windows", () => {
    const stats = core.createRollingStats({ windowMs: 1000 });
    stats.add(1, 0);
    const before = stats.snapshot();
    expectArgumentError(() => stats.add(2, NaN));
    expectArgumentError(() => stats.addMany([2, 3], [1, Infinity]));
    expectArgumentError(() => stats.expire(NaN));
    expect(stats.snapshot()).toEqual(before);
    stats.add(2, 10);
    expect(stats.sum).toBe(3);
  });
});
