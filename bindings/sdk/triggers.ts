// Change-based logging for tags: pydoover 1.x's `log_on=` descriptors, case for case (read from
// pydoover/tags/__init__.py). A trigger decides, on every setTag of a tag that names it, whether
// the update is promoted to a logged message (as if `log: true` were passed). What each does:
//
// Cross(t..., { deadband }) / Rise / Fall: a per-threshold side ("below" | "above") is kept in the
//   trigger's state; it starts as "below" for every threshold, whatever the value was before
//   (`prev` is not used). With half = deadband / 2, for each threshold t (sorted ascending):
//     side below and value >= t + half  -> side becomes above; a rising crossing
//     side above and value <= t - half  -> side becomes below; a falling crossing
//   Cross fires on either direction, Rise only on rising, Fall only on falling crossings; every
//   threshold's side is updated even when the direction does not fire. Consequences kept as in
//   pydoover: the first value at or above a threshold fires Cross and Rise (it "rises" from the
//   initial below); a first value below fires nothing; with deadband 0 a value exactly on the
//   threshold flips the side on every set. Non-numbers (null, booleans, strings) are ignored
//   and leave the state alone.
// Delta({ amount } | { percent }): compares with the last value this trigger fired on (not the
//   previous value). The first numeric value fires and becomes the baseline. Then it fires when
//   |value - baseline| >= amount, or, with percent, when |value - baseline| / |baseline| * 100 >=
//   percent; against a baseline of 0 any non-zero value fires. Firing moves the baseline.
//   Non-numbers are ignored.
// AnyChange(): fires when the new value differs from the tag's current value (absent counts as
//   null, so the first non-null value fires).
// Enter(v): fires when the value changes to v.   Exit(v): fires when the value changes from v.
//   Both compare with the tag's current value (absent counts as null) and never fire when the
//   value did not change.
//
// All triggers on a tag are evaluated on every set (so their state stays consistent) and their
// results are OR-ed. As in pydoover, a set that does not change the tag's value is dropped
// whole: nothing is written or logged, even when a trigger fired (its state still moved).
// pydoover only allows Cross/Rise/Fall/Delta on numeric tags and AnyChange/Enter/Exit on boolean
// and string tags; tags here are untyped, so every trigger is accepted and the numeric ones
// ignore non-numeric values. Equality is structural (deep) where pydoover uses `==`.
import { TagwireError } from "../core/errors.js";
import { deepEqual } from "./json.js";

/** Per-trigger scratch state, owned by whoever tracks the tag (never by the trigger itself). */
export type TriggerState = Record<string, unknown>;

/** Base class of `logOn` descriptors. Triggers are stateless and may be shared between tags. */
export abstract class LogTrigger {
  /**
   * Whether this update should be logged. `previous` is the tag's current value (undefined when
   * absent), `value` the value being set, `state` this trigger's scratch state for this tag.
   */
  abstract evaluate(previous: unknown, value: unknown, state: TriggerState): boolean;
}

export interface CrossingOptions {
  /** Hysteresis: a crossing counts only once the value is deadband / 2 past the threshold. */
  deadband?: number;
}

type Side = "below" | "above";

function isNumber(value: unknown): value is number {
  return typeof value === "number";
}

abstract class Crossing extends LogTrigger {
  readonly thresholds: readonly number[];
  readonly deadband: number;
  protected abstract readonly onRise: boolean;
  protected abstract readonly onFall: boolean;

  constructor(args: unknown[]) {
    super();
    let options: CrossingOptions = {};
    const list: number[] = [];
    for (const arg of args) {
      if (typeof arg === "number") list.push(arg);
      else if (Array.isArray(arg)) list.push(...arg);
      else if (arg && typeof arg === "object") options = arg as CrossingOptions;
    }
    if (list.length === 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${new.target.name} requires at least one threshold`);
    for (const t of list) {
      if (typeof t !== "number" || !Number.isFinite(t))
        throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${new.target.name}: threshold ${String(t)} is not a finite number`);
    }
    const deadband = options.deadband ?? 0;
    if (!Number.isFinite(deadband) || deadband < 0)
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${new.target.name}: deadband must be a finite number >= 0`);
    this.thresholds = Object.freeze(list.sort((a, b) => a - b));
    this.deadband = deadband;
  }

  evaluate(_previous: unknown, value: unknown, state: TriggerState): boolean {
    if (!isNumber(value)) return false;
    const sides = (state.sides ??= new Map<number, Side>()) as Map<number, Side>;
    const half = this.deadband / 2;
    let fired = false;
    for (const t of this.thresholds) {
      const side = sides.get(t) ?? "below";
      if (side === "below" && value >= t + half) {
        sides.set(t, "above");
        if (this.onRise) fired = true;
      } else if (side === "above" && value <= t - half) {
        sides.set(t, "below");
        if (this.onFall) fired = true;
      }
    }
    return fired;
  }
}

/** Logs when the value crosses any threshold, either way: `new Cross(30, { deadband: 1 })`. */
export class Cross extends Crossing {
  protected readonly onRise = true;
  protected readonly onFall = true;
  constructor(...thresholds: number[]);
  constructor(thresholds: number | number[], options?: CrossingOptions);
  constructor(...args: unknown[]) {
    super(args);
  }
}

/** Logs rising crossings only (high alarms): `new Rise(110)`. */
export class Rise extends Crossing {
  protected readonly onRise = true;
  protected readonly onFall = false;
  constructor(...thresholds: number[]);
  constructor(thresholds: number | number[], options?: CrossingOptions);
  constructor(...args: unknown[]) {
    super(args);
  }
}

/** Logs falling crossings only (low alarms): `new Fall(10)`. */
export class Fall extends Crossing {
  protected readonly onRise = false;
  protected readonly onFall = true;
  constructor(...thresholds: number[]);
  constructor(thresholds: number | number[], options?: CrossingOptions);
  constructor(...args: unknown[]) {
    super(args);
  }
}

export type DeltaOptions = { amount: number; percent?: undefined } | { percent: number; amount?: undefined };

/** Logs moves of at least `amount` units or `percent` % from the last logged value. */
export class Delta extends LogTrigger {
  readonly amount: number | undefined;
  readonly percent: number | undefined;

  constructor(options: DeltaOptions) {
    super();
    const amount = options?.amount,
      percent = options?.percent;
    if ((amount === undefined) === (percent === undefined)) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "Delta requires exactly one of `amount` or `percent`");
    }
    const v = (amount ?? percent)!;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "Delta: amount/percent must be a finite number >= 0");
    this.amount = amount;
    this.percent = percent;
  }

  evaluate(_previous: unknown, value: unknown, state: TriggerState): boolean {
    if (!isNumber(value)) return false;
    if (!("lastLogged" in state)) {
      state.lastLogged = value;
      return true;
    }
    const last = state.lastLogged as number;
    const diff = Math.abs(value - last);
    let fired: boolean;
    if (this.amount !== undefined) fired = diff >= this.amount;
    else if (last === 0) fired = value !== 0;
    else fired = (diff / Math.abs(last)) * 100 >= this.percent!;
    if (fired) state.lastLogged = value;
    return fired;
  }
}

/** Logs every change of value (booleans, strings, states). */
export class AnyChange extends LogTrigger {
  evaluate(previous: unknown, value: unknown): boolean {
    return !deepEqual(previous === undefined ? null : previous, value);
  }
}

abstract class Membership extends LogTrigger {
  readonly value: unknown;
  protected abstract readonly checkNew: boolean;
  constructor(value: unknown) {
    super();
    this.value = value;
  }
  evaluate(previous: unknown, value: unknown): boolean {
    const prev = previous === undefined ? null : previous;
    if (deepEqual(prev, value)) return false;
    return this.checkNew ? deepEqual(value, this.value) : deepEqual(prev, this.value);
  }
}

/** Logs when the value becomes `value`: `new Enter("error")`. */
export class Enter extends Membership {
  protected readonly checkNew = true;
}

/** Logs when the value stops being `value`: `new Exit("ok")`. */
export class Exit extends Membership {
  protected readonly checkNew = false;
}

/**
 * Runs every trigger (each with its own slot in `states`, created on first use) and ORs the
 * results; no short-circuit, so each trigger's state stays consistent.
 */
export function evaluateTriggers(triggers: readonly LogTrigger[], previous: unknown, value: unknown, states: TriggerState[]): boolean {
  let fired = false;
  for (let i = 0; i < triggers.length; i++) {
    const state = (states[i] ??= {});
    if (triggers[i]!.evaluate(previous, value, state)) fired = true;
  }
  return fired;
}
