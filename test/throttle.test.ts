// Per-key throttles in the core: rate limiter and change filter.
import { beforeAll, describe, expect, it } from "vitest";
import { createCore, type Core } from "../bindings/index.js";
import { expectTagwireError } from "./support/errors.js";
import { mulberry32, testSeed } from "./support/seed.js";

const SEED = testSeed("throttle.test");

const expectArgumentError = (fn: () => unknown) => expectTagwireError("TAGWIRE_ERR_ARGUMENT", fn);

let core: Core;
beforeAll(async () => {
  core = await createCore();
});

describe("RateLimiter", () => {
  it("passes the first check, holds back inside the interval, passes at exactly minIntervalMs", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 1000 });
    expect(rl.check("a", 5000)).toBe(true);
    expect(rl.check("a", 5000)).toBe(false);
    expect(rl.check("a", 5999.999)).toBe(false);
    expect(rl.check("a", 6000)).toBe(true);
    expect(rl.check("a", 6001)).toBe(false);
  });

  it("records only passes: a held-back check does not restart the interval", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 1000 });
    expect(rl.check("k", 0)).toBe(true);
    expect(rl.check("k", 500)).toBe(false);
    expect(rl.check("k", 999)).toBe(false);
    expect(rl.check("k", 1000)).toBe(true);
  });

  it("keeps keys independent (strings and numeric ids)", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 100 });
    expect(rl.check("x", 0)).toBe(true);
    expect(rl.check("y", 1)).toBe(true);
    expect(rl.check("x", 50)).toBe(false);
    expect(rl.check("y", 50)).toBe(false);
    expect(rl.check("x", 100)).toBe(true);
    expect(rl.check("y", 100)).toBe(false);
    expect(rl.check("y", 101)).toBe(true);
    // A string key and its id are the same key.
    const id = rl.keyId("x");
    expect(rl.keyId("x")).toBe(id);
    expect(rl.check(id, 150)).toBe(false);
    expect(rl.check(2 ** 24 - 1, 150)).toBe(true);
    expect(rl.check(2 ** 24 - 1, 200)).toBe(false);
  });

  it("reports remainingMs", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 1000 });
    expect(rl.remainingMs("never", 0)).toBe(0);
    expect(rl.remainingMs(12345, 0)).toBe(0);
    rl.check("a", 1000);
    expect(rl.remainingMs("a", 1000)).toBe(1000);
    expect(rl.remainingMs("a", 1500)).toBe(500);
    expect(rl.remainingMs("a", 2000)).toBe(0);
    expect(rl.remainingMs("a", 9000)).toBe(0);
    expect(rl.check("a", 1999)).toBe(false);
  });

  it("holds a key back when time goes backwards", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 10 });
    expect(rl.check("a", 1000)).toBe(true);
    expect(rl.check("a", 900)).toBe(false);
    expect(rl.remainingMs("a", 900)).toBe(110);
  });

  it("minIntervalMs 0 passes every check; the default time is Date.now()", () => {
    const zero = core.createRateLimiter({ minIntervalMs: 0 });
    for (let i = 0; i < 5; i++) expect(zero.check("a", 42)).toBe(true);
    const hour = core.createRateLimiter({ minIntervalMs: 3_600_000 });
    expect(hour.check("a")).toBe(true);
    expect(hour.check("a")).toBe(false);
    expect(hour.check("a", Date.now() + 3_600_001)).toBe(true);
  });

  it("reset(key) forgets one key, reset() all of them", () => {
    const rl = core.createRateLimiter({ minIntervalMs: 1000 });
    rl.check("a", 0);
    rl.check("b", 0);
    rl.reset("a");
    rl.reset("never-seen");
    expect(rl.check("a", 1)).toBe(true);
    expect(rl.check("b", 1)).toBe(false);
    rl.reset();
    expect(rl.check("a", 2)).toBe(true);
    expect(rl.check("b", 2)).toBe(true);
    expect(rl.keyId("b")).toBe(1); // interned ids survive reset
  });

  it("checkMany equals check, in order, repeated ids included", () => {
    const next = mulberry32(SEED ^ 0x4a7e);
    const batched = core.createRateLimiter({ minIntervalMs: 50 });
    const single = core.createRateLimiter({ minIntervalMs: 50 });
    let now = 0;
    for (let round = 0; round < 300; round++) {
      now += Math.floor(next() * 40);
      const n = Math.floor(next() * 200);
      const ids = new Uint32Array(n).map(() => Math.floor(next() * (round < 150 ? 30 : 3000)));
      const out = new Uint8Array(n + 3).fill(7);
      const passed = batched.checkMany(ids, now, out);
      let want = 0;
      for (let i = 0; i < n; i++) {
        const ok = single.check(ids[i]!, now);
        want += ok ? 1 : 0;
        expect(out[i], `round ${round} item ${i} (seed ${SEED})`).toBe(ok ? 1 : 0);
      }
      expect(passed).toBe(want);
      expect(Array.from(out.subarray(n))).toEqual([7, 7, 7]);
    }
  });

  it("keeps limiters apart", () => {
    const a = core.createRateLimiter({ minIntervalMs: 1000 });
    const b = core.createRateLimiter({ minIntervalMs: 1000 });
    expect(a.check("k", 0)).toBe(true);
    expect(b.check("k", 0)).toBe(true);
    a.dispose();
    const c = core.createRateLimiter({ minIntervalMs: 1000 });
    expect(c.check("k", 0)).toBe(true);
    expect(b.check("k", 10)).toBe(false);
    expectTagwireError("TAGWIRE_ERR_NOT_FOUND", () => a.check("k", 5000));
    a.dispose(); // repeatable
  });

  it("rejects bad options, keys and times, and records nothing", () => {
    for (const options of [{ minIntervalMs: -1 }, { minIntervalMs: NaN }, { minIntervalMs: Infinity }, {}, undefined]) {
      expectArgumentError(() => core.createRateLimiter(options as never));
    }
    const rl = core.createRateLimiter({ minIntervalMs: 100 });
    rl.check("a", 0);
    for (const key of [-1, 1.5, 2 ** 24, NaN, {}, null]) expectArgumentError(() => rl.check(key as never, 0));
    expectArgumentError(() => rl.check("b", NaN));
    expectArgumentError(() => rl.remainingMs("a", NaN));
    const out = new Uint8Array(3);
    expectArgumentError(() => rl.checkMany(Uint32Array.of(1, 2, 2 ** 24), 0, out));
    expectArgumentError(() => rl.checkMany(Uint32Array.of(1, 2), Infinity, out));
    expectArgumentError(() => rl.checkMany(Uint32Array.of(1, 2), 0, new Uint8Array(1)));
    expectArgumentError(() => rl.checkMany([1, 2] as never, 0, out));
    // Nothing from the rejected calls was recorded: ids 1 ("b") and 2 pass, "a" keeps its pass at 0.
    expect(rl.keyId("b")).toBe(1);
    expect(rl.checkMany(Uint32Array.of(1, 2, rl.keyId("a")), 50, out)).toBe(2);
    expect(Array.from(out)).toEqual([1, 1, 0]);
    expect(rl.remainingMs("a", 50)).toBe(50);
  });
});

describe("ChangeFilter", () => {
  it("absolute deadband: first value passes, then |v - last passed| >= threshold", () => {
    const f = core.createChangeFilter({ threshold: 1 });
    expect(f.check("t", 10)).toBe(true);
    expect(f.check("t", 10.5)).toBe(false);
    expect(f.check("t", 9.25)).toBe(false);
    expect(f.check("t", 11)).toBe(true); // exactly the threshold
    expect(f.last("t")).toBe(11);
    // Held values do not move the reference: 11 -> 11.75 held, 12 passes against 11.
    expect(f.check("t", 11.75)).toBe(false);
    expect(f.check("t", 12)).toBe(true);
    expect(f.check("t", 11)).toBe(true);
  });

  it("first value passes for every key, including 0 and negatives", () => {
    const f = core.createChangeFilter({ threshold: 100 });
    expect(f.check("zero", 0)).toBe(true);
    expect(f.check("neg", -5)).toBe(true);
    expect(f.check("neg", -104)).toBe(false);
    expect(f.check("neg", -105)).toBe(true);
    expect(f.check("neg", -5)).toBe(true);
    expect(f.last("zero")).toBe(0);
    expect(f.last("unknown")).toBeUndefined();
    expect(f.last(99)).toBeUndefined();
  });

  it("percent deadband, relative to |last passed|, negatives included", () => {
    const f = core.createChangeFilter({ percent: 10 });
    expect(f.check("p", 100)).toBe(true);
    expect(f.check("p", 109)).toBe(false);
    expect(f.check("p", 91)).toBe(false);
    expect(f.check("p", 110)).toBe(true); // exactly 10% of 100
    expect(f.check("p", 99)).toBe(true); // 11 >= 11
    expect(f.check("n", -200)).toBe(true);
    expect(f.check("n", -190)).toBe(false);
    expect(f.check("n", -220)).toBe(true); // 20 >= 10% of 200
    expect(f.check("n", -200)).toBe(false); // 20 < 22
    expect(f.check("n", 0)).toBe(true);
  });

  it("a zero-width band passes every change but not repeats", () => {
    const pct = core.createChangeFilter({ percent: 50 });
    expect(pct.check("z", 0)).toBe(true);
    expect(pct.check("z", 0)).toBe(false);
    expect(pct.check("z", 1e-300)).toBe(true);
    for (const f of [core.createChangeFilter({ threshold: 0 }), core.createChangeFilter({})]) {
      expect(f.check("a", 3)).toBe(true);
      expect(f.check("a", 3)).toBe(false);
      expect(f.check("a", 3.0000001)).toBe(true);
      expect(f.check("a", -3.0000001)).toBe(true);
    }
  });

  it("with threshold and percent, either band suffices", () => {
    const f = core.createChangeFilter({ threshold: 5, percent: 10 });
    expect(f.check("a", 100)).toBe(true);
    expect(f.check("a", 104)).toBe(false); // 4 < 5 and 4 < 10
    expect(f.check("a", 105)).toBe(true); // absolute band
    expect(f.check("b", 10)).toBe(true);
    expect(f.check("b", 10.5)).toBe(false);
    expect(f.check("b", 11)).toBe(true); // percent band (1), not the absolute one (5)
  });

  it("reset(key) makes the next value pass; reset() does so for all", () => {
    const f = core.createChangeFilter({ threshold: 10 });
    f.check("a", 1);
    f.check("b", 1);
    f.reset("a");
    f.reset("never-seen");
    expect(f.last("a")).toBeUndefined();
    expect(f.check("a", 1)).toBe(true);
    expect(f.check("b", 2)).toBe(false);
    f.reset();
    expect(f.check("b", 2)).toBe(true);
    expect(f.check(f.keyId("a"), 2)).toBe(true);
  });

  for (const options of [{ threshold: 0.5 }, { percent: 5 }, { threshold: 0.5, percent: 5 }, {}]) {
    it(`checkMany equals check (${JSON.stringify(options)})`, () => {
      const next = mulberry32(SEED ^ 0xc4a9);
      const batched = core.createChangeFilter(options);
      const single = core.createChangeFilter(options);
      const level = new Float64Array(500).map(() => (next() - 0.5) * 40);
      for (let round = 0; round < 200; round++) {
        const n = Math.floor(next() * 300);
        const ids = new Uint32Array(n).map(() => Math.floor(next() * (round < 100 ? 20 : 500)));
        const values = new Float64Array(n).map((_, i) => {
          const r = next();
          // Some exact repeats, some small moves, some jumps.
          if (r < 0.2) return level[ids[i]!]!;
          return (level[ids[i]!]! += (next() - 0.5) * (r < 0.9 ? 1.5 : 30));
        });
        const out = new Uint8Array(n);
        const passed = batched.checkMany(ids, values, out);
        let want = 0;
        for (let i = 0; i < n; i++) {
          const ok = single.check(ids[i]!, values[i]!);
          want += ok ? 1 : 0;
          expect(out[i], `round ${round} item ${i} (seed ${SEED})`).toBe(ok ? 1 : 0);
        }
        expect(passed).toBe(want);
      }
      for (let id = 0; id < 500; id++) expect(batched.last(id)).toBe(single.last(id));
    });
  }

  it("rejects bad options, keys and values, and records nothing", () => {
    const bad = [{ threshold: -1 }, { threshold: NaN }, { threshold: Infinity }, { percent: -0.5 }, { percent: NaN }];
    for (const options of bad) expectArgumentError(() => core.createChangeFilter(options));
    const f = core.createChangeFilter({ threshold: 1 });
    f.check("a", 5);
    for (const v of [NaN, Infinity, -Infinity]) expectArgumentError(() => f.check("a", v));
    expectArgumentError(() => f.check("a", "7" as never));
    expectArgumentError(() => f.check(-3, 1));
    const ids = Uint32Array.of(f.keyId("a"), 7, 8);
    const out = new Uint8Array(3);
    expectArgumentError(() => f.checkMany(ids, Float64Array.of(10, 1, NaN), out));
    expectArgumentError(() => f.checkMany(Uint32Array.of(0, 2 ** 24, 1), Float64Array.of(10, 1, 2), out));
    expectArgumentError(() => f.checkMany(ids, Float64Array.of(1, 2), out));
    expectArgumentError(() => f.checkMany(ids, [1, 2, 3] as never, out));
    expect(f.last("a")).toBe(5);
    expect(f.last(7)).toBeUndefined();
    // Still usable: the rejected batch left no trace.
    expect(f.checkMany(ids, Float64Array.of(5.5, 1, 2), out)).toBe(2);
    expect(Array.from(out)).toEqual([0, 1, 1]);
    f.dispose();
    expectTagwireError("TAGWIRE_ERR_NOT_FOUND", () => f.check("a", 1));
    expectTagwireError("TAGWIRE_ERR_NOT_FOUND", () => f.last("a"));
  });

  it("keeps memory flat under overwrite-heavy traffic", () => {
    const f = core.createChangeFilter({ threshold: 0.1 });
    const rl = core.createRateLimiter({ minIntervalMs: 5 });
    const ids = new Uint32Array(5000).map((_, i) => i % 50);
    const values = new Float64Array(5000);
    const out = new Uint8Array(5000);
    const round = (r: number) => {
      for (let i = 0; i < values.length; i++) values[i] = Math.sin(i + r);
      f.checkMany(ids, values, out);
      rl.checkMany(ids, r, out);
    };
    round(0);
    const bytes = core.instance.exports.memory.buffer.byteLength;
    for (let r = 1; r < 500; r++) round(r);
    expect(core.instance.exports.memory.buffer.byteLength).toBe(bytes);
  });
});
