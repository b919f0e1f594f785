// Per-key throttles: a rate limiter (minimum interval between passes) and a change filter
// (deadband around the last value that passed).
//
// A single check is a few nanoseconds of work, less than JavaScript spends calling in here, so
// the point of this module is the batch: `*CheckMany` takes many key ids in one crossing. Keys are
// dense integer ids (the binding interns strings to ids), and per-key state is one f64 in a table
// indexed by id, grown by doubling up to MAX_KEYS:
//
//   rate limiter   table[id] = time of the last pass (ms); -Infinity = never passed, so the first
//                  check passes without a branch (now - -Infinity = Infinity)
//   change filter  table[id] = last value that passed; NaN = none yet (values must be finite)
//
// Batch layouts in the input region (f64 first, so it stays 8-aligned):
//   rateCheckMany    [id u32] x count
//   changeCheckMany  [value f64] x count, then [id u32] x count
// Both write one byte per key to the output region (1 = passed, and recorded; 0 = held back) and
// return how many passed, or a negated status. A batch is checked whole before anything is
// recorded, so a bad id or value changes nothing.
import { OK, ERR_ARGUMENT, ERR_NOT_FOUND } from "./errors";
import { HandleTable } from "./handles";
import { ioInReserve, outReset, outEnsure, outAdvance } from "./io";

/** Key ids are below 2^24 (a full table is 128 MiB). */
// @ts-ignore: decorator
@inline const MAX_KEYS: u32 = 1 << 24;
// @ts-ignore: decorator
@inline const FIRST_CAP: u32 = 64;
// @ts-ignore: decorator
@inline const EXPONENT: u64 = 0x7ff0000000000000;
/** (bits & EXPONENT) + EXPONENT_ONE carries into the sign bit exactly when the exponent is all ones. */
// @ts-ignore: decorator
@inline const EXPONENT_ONE: u64 = 0x0010000000000000;
// @ts-ignore: decorator
@inline const RATE: u32 = 1;
// @ts-ignore: decorator
@inline const CHANGE: u32 = 2;

// @ts-ignore: decorator
@unmanaged
class Throttle {
  kind: u32 = 0;
  cap: u32 = 0;
  table: usize = 0;
  /** Rate limiter: minimum interval between passes of one key. */
  minIntervalMs: f64 = 0;
  /** Change filter: absolute band; Infinity when not configured (never passes on its own). */
  threshold: f64 = Infinity;
  /** Change filter: relative band as a fraction of |last|; -1 when not configured. */
  fraction: f64 = -1;
}

// ---- handles ----

const handles = new HandleTable();

function lookup(h: i32, kind: u32): Throttle | null {
  const t = changetype<Throttle | null>(handles.get(h));
  return t && t.kind == kind ? t : null;
}

function dispose(h: i32, kind: u32): i32 {
  const t = lookup(h, kind);
  if (!t) return ERR_NOT_FOUND;
  heap.free(t.table);
  heap.free(changetype<usize>(t));
  handles.release(h);
  return OK;
}

// ---- the per-key table ----

function empty(t: Throttle): f64 {
  return t.kind == RATE ? -Infinity : NaN;
}

function fill(t: Throttle, from: u32, to: u32): void {
  const e = empty(t);
  for (let i = from; i < to; i++) store<f64>(t.table + (<usize>i << 3), e);
}

function create(t: Throttle): i32 {
  t.table = heap.alloc(<usize>FIRST_CAP << 3);
  t.cap = FIRST_CAP;
  fill(t, 0, FIRST_CAP);
  return handles.claim(changetype<usize>(t));
}

/** Makes `id` (< MAX_KEYS) addressable. */
// @ts-ignore: decorator
@inline function ensure(t: Throttle, id: u32): void {
  if (id >= t.cap) growTo(t, id);
}

function growTo(t: Throttle, id: u32): void {
  let cap = t.cap;
  while (cap <= id) cap <<= 1;
  t.table = heap.realloc(t.table, <usize>cap << 3);
  fill(t, t.cap, cap);
  t.cap = cap;
}

/** Forgets one key (id >= 0) or every key (id < 0). */
function resetKeys(t: Throttle, id: i32): i32 {
  if (id < 0) {
    fill(t, 0, t.cap);
  } else if (<u32>id < t.cap) {
    store<f64>(t.table + (<usize>id << 3), empty(t));
  } else if (<u32>id >= MAX_KEYS) {
    return ERR_ARGUMENT;
  }
  return OK;
}

// ---- rate limiter ----

// Branch-free: whether a key passes depends on the data, so a branch here mispredicts often; the
// store always happens and writes back the old time when the key is held back.
// @ts-ignore: decorator
@inline function ratePass(table: usize, id: u32, nowMs: f64, minIntervalMs: f64): bool {
  const at = table + (<usize>id << 3);
  const last = load<f64>(at);
  const ok = nowMs - last >= minIntervalMs;
  store<f64>(at, select<f64>(nowMs, last, ok));
  return ok;
}

/** Returns a handle (>= 1) or a negated status. */
export function rateCreate(minIntervalMs: f64): i32 {
  if (!(minIntervalMs >= 0 && isFinite<f64>(minIntervalMs))) return -ERR_ARGUMENT;
  const t = new Throttle();
  t.kind = RATE;
  t.minIntervalMs = minIntervalMs;
  return create(t);
}

/** 1 when key `id` may pass at `nowMs` (and records the pass), 0 when held back, or a negated status. */
export function rateCheck(h: i32, id: u32, nowMs: f64): i32 {
  const t = lookup(h, RATE);
  if (!t) return -ERR_NOT_FOUND;
  if (id >= MAX_KEYS || !isFinite<f64>(nowMs)) return -ERR_ARGUMENT;
  ensure(t, id);
  return ratePass(t.table, id, nowMs, t.minIntervalMs) ? 1 : 0;
}

/** Checks `count` ids from the input region, in order, all at `nowMs` (layout in the header). */
export function rateCheckMany(h: i32, count: i32, nowMs: f64): i32 {
  const t = lookup(h, RATE);
  if (!t) return -ERR_NOT_FOUND;
  if (count < 0 || count > 0x1fffffff || !isFinite<f64>(nowMs)) return -ERR_ARGUMENT;
  const ids = ioInReserve(count << 2);
  // The or of all ids has the same highest bit as the largest, which is all that MAX_KEYS and
  // the power-of-two table need, and costs no compare per id.
  let top: u32 = 0;
  for (let i = 0; i < count; i++) top |= load<u32>(ids + (<usize>i << 2));
  if (top >= MAX_KEYS) return -ERR_ARGUMENT;
  ensure(t, top);
  outReset();
  const out = outEnsure(count);
  const table = t.table;
  const minIntervalMs = t.minIntervalMs;
  let passed = 0;
  for (let i = 0; i < count; i++) {
    const ok = ratePass(table, load<u32>(ids + (<usize>i << 2)), nowMs, minIntervalMs);
    store<u8>(out + <usize>i, <u8>ok);
    passed += <i32>ok;
  }
  outAdvance(count);
  return passed;
}

/** Milliseconds until key `id` may pass again (0 = now), or a negated status. */
export function rateRemainingMs(h: i32, id: u32, nowMs: f64): f64 {
  const t = lookup(h, RATE);
  if (!t) return -<f64>ERR_NOT_FOUND;
  if (id >= MAX_KEYS || !isFinite<f64>(nowMs)) return -<f64>ERR_ARGUMENT;
  if (id >= t.cap) return 0;
  return max<f64>(0, load<f64>(t.table + (<usize>id << 3)) + t.minIntervalMs - nowMs);
}

/** Forgets key `id`, or every key when `id` < 0. */
export function rateReset(h: i32, id: i32): i32 {
  const t = lookup(h, RATE);
  return t ? resetKeys(t, id) : ERR_NOT_FOUND;
}

export function rateDispose(h: i32): i32 {
  return dispose(h, RATE);
}

// ---- change filter ----

// The first value of a key passes. A later value passes when it differs from the last passed one
// and the difference reaches either band: |v - last| >= threshold or >= fraction * |last|. Written
// as "not below every band" so that a NaN `last` (nothing passed yet), whose comparisons are all
// false, passes without a test of its own. Without a percent band, `withPercent` is false and the
// inlined copy drops it; without a threshold, threshold is Infinity. Branch-free like ratePass.
// @ts-ignore: decorator
@inline function changePass(table: usize, id: u32, value: f64, threshold: f64, fraction: f64, withPercent: bool): bool {
  const at = table + (<usize>id << 3);
  const last = load<f64>(at);
  const diff = abs<f64>(value - last);
  let below = diff < threshold;
  if (withPercent) below &= diff < fraction * abs<f64>(last);
  const ok = !below & (diff != 0);
  store<f64>(at, select<f64>(value, last, ok));
  return ok;
}

/**
 * Returns a handle (>= 1) or a negated status. A band is used when its `has*` flag is set; with
 * neither, every change passes (an absolute band of 0).
 */
export function changeCreate(hasThreshold: i32, threshold: f64, hasPercent: i32, percent: f64): i32 {
  if (hasThreshold && !(threshold >= 0 && isFinite<f64>(threshold))) return -ERR_ARGUMENT;
  if (hasPercent && !(percent >= 0 && isFinite<f64>(percent))) return -ERR_ARGUMENT;
  const t = new Throttle();
  t.kind = CHANGE;
  t.threshold = hasThreshold ? threshold : hasPercent ? Infinity : 0;
  t.fraction = hasPercent ? percent / 100 : -1;
  return create(t);
}

/** 1 when `value` passes for key `id` (and becomes its last value), 0 when held back, or a negated status. */
export function changeCheck(h: i32, id: u32, value: f64): i32 {
  const t = lookup(h, CHANGE);
  if (!t) return -ERR_NOT_FOUND;
  if (id >= MAX_KEYS || !isFinite<f64>(value)) return -ERR_ARGUMENT;
  ensure(t, id);
  const pass = t.fraction >= 0
    ? changePass(t.table, id, value, t.threshold, t.fraction, true)
    : changePass(t.table, id, value, t.threshold, 0, false);
  return pass ? 1 : 0;
}

/** Checks `count` (value, id) pairs from the input region, in order (layout in the header). */
export function changeCheckMany(h: i32, count: i32): i32 {
  const t = lookup(h, CHANGE);
  if (!t) return -ERR_NOT_FOUND;
  if (count < 0 || count > 0x0fffffff) return -ERR_ARGUMENT;
  const values = ioInReserve(count * 12);
  const ids = values + (<usize>count << 3);
  // One pass checks the batch with integer ors only: a value is not finite when its exponent bits
  // are all ones (see EXPONENT_ONE), and ids are or-ed as in rateCheckMany.
  let top: u32 = 0;
  let bad: u64 = 0;
  for (let i = 0; i < count; i++) {
    bad |= (load<u64>(values + (<usize>i << 3)) & EXPONENT) + EXPONENT_ONE;
    top |= load<u32>(ids + (<usize>i << 2));
  }
  if ((bad >> 63) != 0 || top >= MAX_KEYS) return -ERR_ARGUMENT;
  ensure(t, top);
  outReset();
  const out = outEnsure(count);
  const table = t.table;
  const threshold = t.threshold;
  const fraction = t.fraction;
  let passed = 0;
  if (fraction >= 0) {
    for (let i = 0; i < count; i++) {
      const ok = changePass(table, load<u32>(ids + (<usize>i << 2)), load<f64>(values + (<usize>i << 3)), threshold, fraction, true);
      store<u8>(out + <usize>i, <u8>ok);
      passed += <i32>ok;
    }
  } else {
    for (let i = 0; i < count; i++) {
      const ok = changePass(table, load<u32>(ids + (<usize>i << 2)), load<f64>(values + (<usize>i << 3)), threshold, 0, false);
      store<u8>(out + <usize>i, <u8>ok);
      passed += <i32>ok;
    }
  }
  outAdvance(count);
  return passed;
}

/** The last value that passed for key `id`; NaN when none has (or for a bad handle or id). */
export function changeLast(h: i32, id: u32): f64 {
  const t = lookup(h, CHANGE);
  if (!t || id >= t.cap) return NaN;
  return load<f64>(t.table + (<usize>id << 3));
}

/** Forgets key `id`, or every key when `id` < 0 (its next value passes again). */
export function changeReset(h: i32, id: i32): i32 {
  const t = lookup(h, CHANGE);
  return t ? resetKeys(t, id) : ERR_NOT_FOUND;
}

export function changeDispose(h: i32): i32 {
  return dispose(h, CHANGE);
}
