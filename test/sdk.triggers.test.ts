// log_on triggers, case for case with pydoover 1.x (pydoover/tags/__init__.py).
import { describe, expect, it } from "vitest";
import { AnyChange, Cross, Delta, Enter, Exit, Fall, Rise, TagwireError, evaluateTriggers, type LogTrigger } from "../bindings/index.js";

/** Feeds values through one trigger (previous = the value before); returns which fired. */
function run(trigger: LogTrigger, values: unknown[], first: unknown = undefined): boolean[] {
  const state = {};
  let prev = first;
  return values.map((v) => {
    const fired = trigger.evaluate(prev, v, state);
    prev = v;
    return fired;
  });
}

describe("Cross / Rise / Fall", () => {
  it("Cross fires on each crossing of a threshold, both ways", () => {
    expect(run(new Cross(30), [25, 35, 36, 29, 28, 31])).toEqual([false, true, false, true, false, true]);
  });

  it("starts below every threshold: a first value above fires, a first value below does not", () => {
    expect(run(new Cross(30), [35])).toEqual([true]);
    expect(run(new Rise(30), [35])).toEqual([true]);
    expect(run(new Cross(30), [20])).toEqual([false]);
    // prev is not used: a tag already at 35 before the trigger existed still fires once.
    expect(run(new Cross(30), [35, 35], 35)).toEqual([true, false]);
  });

  it("deadband: crossings count only deadband / 2 past the threshold", () => {
    const values = [30.5, 31, 30, 29.5, 29, 30.9, 31.2];
    expect(run(new Cross(30, { deadband: 2 }), values)).toEqual([false, true, false, false, true, false, true]);
  });

  it("without deadband a value exactly on the threshold flips the side on every set", () => {
    expect(run(new Cross(30), [30, 30, 30])).toEqual([true, true, true]);
    expect(run(new Rise(30), [30, 30, 30])).toEqual([true, false, true]);
  });

  it("several thresholds, in any order, each tracked on its own", () => {
    const t = new Cross(110, 90);
    expect(t.thresholds).toEqual([90, 110]);
    expect(run(t, [100, 120, 80, 95, 100])).toEqual([true, true, true, true, false]);
    expect(run(new Cross([90, 110], { deadband: 4 }), [91, 92, 111, 112, 89])).toEqual([false, true, false, true, true]);
  });

  it("Rise fires only rising, Fall only falling, both still track the side", () => {
    expect(run(new Rise(110), [120, 100, 120, 125])).toEqual([true, false, true, false]);
    // Fall: the first 5 is below already (nothing), 15 rises silently, 5 falls.
    expect(run(new Fall(10), [5, 15, 5, 4])).toEqual([false, false, true, false]);
    expect(run(new Fall(10, { deadband: 2 }), [15, 10, 9.5, 9])).toEqual([false, false, false, true]);
  });

  it("ignores non-numbers and keeps its state", () => {
    const t = new Cross(30);
    const state = {};
    expect(t.evaluate(undefined, null, state)).toBe(false);
    expect(t.evaluate(undefined, true, state)).toBe(false);
    expect(t.evaluate(undefined, "35", state)).toBe(false);
    expect(t.evaluate(undefined, 35, state)).toBe(true);
    expect(t.evaluate(35, false, state)).toBe(false);
    expect(t.evaluate(35, 20, state)).toBe(true);
    expect(t.evaluate(20, NaN, state)).toBe(false);
  });

  it("rejects bad arguments with typed errors", () => {
    expect(() => new Cross()).toThrowError(TagwireError);
    expect(() => new Cross([] as number[])).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    expect(() => new Rise(NaN)).toThrowError(TagwireError);
    expect(() => new Fall(1, { deadband: -1 })).toThrowError(TagwireError);
  });
});

describe("Delta", () => {
  it("amount: the first value fires and is the baseline; later moves compare with the last fired", () => {
    expect(run(new Delta({ amount: 5 }), [10, 13, 15, 12, 11, 10])).toEqual([true, false, true, false, false, true]);
    // Slow drift does not fire until it adds up against the baseline (not the previous value).
    expect(run(new Delta({ amount: 5 }), [0, 2, 4, 5])).toEqual([true, false, false, true]);
  });

  it("percent: of |last logged|", () => {
    expect(run(new Delta({ percent: 10 }), [100, 105, 110, 99.5, 99])).toEqual([true, false, true, false, true]);
    expect(run(new Delta({ percent: 10 }), [-100, -109, -111])).toEqual([true, false, true]);
  });

  it("percent against a baseline of 0: any non-zero value fires", () => {
    expect(run(new Delta({ percent: 50 }), [0, 0, 0.001, 0.0012, 0.002])).toEqual([true, false, true, false, true]);
  });

  it("non-numbers neither fire nor seed the baseline", () => {
    expect(run(new Delta({ amount: 1 }), [null, true, "x", 10, 10.5, 11])).toEqual([false, false, false, true, false, true]);
  });

  it("needs exactly one of amount or percent", () => {
    expect(() => new Delta({} as never)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    expect(() => new Delta({ amount: 1, percent: 2 } as never)).toThrowError(TagwireError);
    expect(() => new Delta({ amount: -1 })).toThrowError(TagwireError);
  });
});

describe("AnyChange / Enter / Exit", () => {
  it("AnyChange fires on every transition; absent counts as null", () => {
    expect(run(new AnyChange(), [true, true, false, false, true])).toEqual([true, false, true, false, true]);
    expect(run(new AnyChange(), [null, "a"])).toEqual([false, true]);
    // Structural equality for objects and arrays.
    expect(run(new AnyChange(), [{ a: [1] }, { a: [1] }, { a: [2] }])).toEqual([true, false, true]);
  });

  it("Enter fires on changing to the value, Exit on changing from it", () => {
    const states = ["ok", "error", "error", "ok", "idle", "error"];
    expect(run(new Enter("error"), states)).toEqual([false, true, false, false, false, true]);
    expect(run(new Exit("error"), states)).toEqual([false, false, false, true, false, false]);
    expect(run(new Exit("ok"), states)).toEqual([false, true, false, false, true, false]);
    // The first value: entering from "absent" (null) fires; exiting null is Exit(null).
    expect(run(new Enter("ok"), ["ok"])).toEqual([true]);
    expect(run(new Exit(null), ["ok"])).toEqual([true]);
    expect(run(new Enter(true), [true, false, true])).toEqual([true, false, true]);
  });
});

describe("evaluateTriggers", () => {
  it("runs every trigger (no short circuit) and ORs the results", () => {
    const triggers = [new Delta({ amount: 100 }), new Cross(30)];
    const states: Record<string, unknown>[] = [];
    // 35: Delta fires (first) and Cross fires (rise); both states move.
    expect(evaluateTriggers(triggers, undefined, 35, states)).toBe(true);
    expect(states[0]).toEqual({ lastLogged: 35 });
    // 20: Delta no, Cross falls.
    expect(evaluateTriggers(triggers, 35, 20, states)).toBe(true);
    expect(evaluateTriggers(triggers, 20, 25, states)).toBe(false);
    expect(evaluateTriggers(triggers, 25, 200, states)).toBe(true);
    expect(states[0]).toEqual({ lastLogged: 200 });
  });
});
