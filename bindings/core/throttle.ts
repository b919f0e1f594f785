// Per-key throttles in the core (assembly/throttle.ts): a rate limiter and a change filter.
//
// One check is cheaper in plain JavaScript than a call into wasm, so the throughput path is the
// batch: intern keys to ids once with keyId(), then checkMany() a Uint32Array of ids in one
// crossing. check() with a single key is there for convenience.
//
// Keys: a string is interned to a dense id (0, 1, 2, ... per throttle, in first-seen order); a
// number is used as the id itself, an integer from 0 to 2^24 - 1 (for callers that already have
// dense ids, e.g. tag indexes). Both share one id space, so mix them only if your ids cannot
// collide with interned ones. The core keeps one f64 per id up to the largest id seen.
import type { CoreExports, CoreInstance } from "./instance.js";
import { TagwireError } from "./errors.js";

/** Key ids are below 2^24; the core's MAX_KEYS. */
const MAX_KEYS = 2 ** 24;

export interface RateLimiterOptions {
  /** Minimum time between two passes of one key, >= 0. A check exactly minIntervalMs after the last pass passes. */
  minIntervalMs: number;
}

/**
 * A value passes when it is the key's first, or when it differs from the last value that passed
 * by at least `threshold` (absolute) or by at least `percent`% of |last| (relative). With both,
 * either band suffices (the narrower one decides). A value equal to the last never passes, so a
 * band of width 0 (threshold 0, or percent around a last value of 0) passes every change but not
 * repeats. With neither option every change passes. Differences are binary floating point:
 * |0.3 - 0.2| is 0.09999999999999998, which does not reach a threshold of 0.1.
 */
export interface ChangeFilterOptions {
  threshold?: number;
  percent?: number;
}

function argument(message: string): TagwireError {
  return new TagwireError("TAGWIRE_ERR_ARGUMENT", message);
}

/** Common parts: the handle, key interning and batch plumbing. */
abstract class KeyedThrottle {
  readonly instance: CoreInstance;
  protected readonly ex: CoreExports;
  protected handle = 0;
  private readonly ids = new Map<string, number>();
  private readonly what: string;
  // Views of linear memory, re-fetched only when memory grew (which leaves them with length 0).
  private u8v: Uint8Array;
  private u32v: Uint32Array;
  private f64v: Float64Array;

  protected constructor(instance: CoreInstance, what: string) {
    instance.check();
    this.instance = instance;
    this.ex = instance.exports;
    this.what = what;
    this.u8v = instance.u8;
    this.u32v = instance.u32;
    this.f64v = instance.f64;
  }

  protected views(): void {
    if (this.u8v.length === 0) {
      this.u8v = this.instance.u8;
      this.u32v = this.instance.u32;
      this.f64v = this.instance.f64;
    }
  }

  /** The id of a string key, interning it on first use. */
  keyId(key: string): number {
    if (typeof key !== "string") throw argument(`${this.what}.keyId: key must be a string`);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      if (id >= MAX_KEYS) throw argument(`${this.what}: more than ${MAX_KEYS} keys`);
      this.ids.set(key, id);
    }
    return id;
  }

  /** The id of a key; strings are interned. */
  protected idOf(key: string | number): number {
    if (typeof key === "string") return this.keyId(key);
    if (typeof key === "number" && Number.isInteger(key) && key >= 0 && key < MAX_KEYS) return key;
    throw argument(`${this.what}: a key is a string or an integer id from 0 to ${MAX_KEYS - 1}, got ${String(key)}`);
  }

  /** The id of a key that must already exist, or -1 (a string never seen has no state). */
  protected knownId(key: string | number): number {
    if (typeof key === "string") return this.ids.get(key) ?? -1;
    return this.idOf(key);
  }

  protected live(): number {
    if (this.handle === 0) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `${this.what}: disposed`);
    this.instance.check();
    return this.handle;
  }

  protected fail(status: number, what: string): never {
    this.instance.ok(status, `${this.what}.${what}`);
    throw new Error("unreachable");
  }

  protected checkBatch(keyIds: Uint32Array, out: Uint8Array): void {
    if (!(keyIds instanceof Uint32Array)) throw argument(`${this.what}.checkMany: keyIds must be a Uint32Array`);
    if (!(out instanceof Uint8Array) || out.length < keyIds.length) {
      throw argument(`${this.what}.checkMany: out must be a Uint8Array at least as long as keyIds`);
    }
  }

  /** Copies the core's one-byte-per-key reply into `out`. */
  protected readReply(out: Uint8Array, n: number): void {
    const ptr: number = this.ex.ioOutPtr();
    this.views();
    out.set(this.u8v.subarray(ptr, ptr + n));
  }

  protected writeIds(keyIds: Uint32Array, index: number): void {
    this.views();
    this.u32v.set(keyIds, index);
  }

  protected writeValues(values: Float64Array, index: number): void {
    this.views();
    this.f64v.set(values, index);
  }

  protected abstract disposeHandle(h: number): number;

  /** Frees the throttle in the core; later calls throw TAGWIRE_ERR_NOT_FOUND. Safe to repeat. */
  dispose(): void {
    if (this.handle === 0) return;
    const h = this.handle;
    this.handle = 0;
    if (!this.instance.dead) this.instance.ok(this.disposeHandle(h), `${this.what}.dispose`);
  }

  get disposed(): boolean {
    return this.handle === 0;
  }
}

/** Per-key minimum interval: a key passes at most once per minIntervalMs. */
export class RateLimiter extends KeyedThrottle {
  readonly minIntervalMs: number;

  constructor(instance: CoreInstance, options: RateLimiterOptions) {
    super(instance, "RateLimiter");
    const minIntervalMs = options?.minIntervalMs;
    if (!(typeof minIntervalMs === "number" && minIntervalMs >= 0 && Number.isFinite(minIntervalMs))) {
      throw argument(`createRateLimiter: minIntervalMs must be a finite number >= 0, got ${minIntervalMs}`);
    }
    this.minIntervalMs = minIntervalMs;
    const h: number = this.ex.rateCreate(minIntervalMs);
    if (h < 0) this.fail(-h, "create");
    this.handle = h;
  }

  /**
   * True when `key` may pass at `nowMs` (its last pass was at least minIntervalMs ago, or there
   * was none); the pass is then recorded. A time before the last pass holds the key back.
   */
  check(key: string | number, nowMs: number = Date.now()): boolean {
    const r: number = this.ex.rateCheck(this.live(), this.idOf(key), nowMs);
    if (r < 0) this.fail(-r, "check: nowMs must be finite");
    return r === 1;
  }

  /**
   * Checks many key ids at `nowMs` in one crossing, in order (a repeated id sees the earlier pass).
   * Writes 1 (passed, recorded) or 0 per id into `out`; returns how many passed.
   */
  checkMany(keyIds: Uint32Array, nowMs: number, out: Uint8Array): number {
    const h = this.live();
    this.checkBatch(keyIds, out);
    const n = keyIds.length;
    if (n === 0) return 0;
    const ptr: number = this.instance.reserveIn(n * 4);
    this.writeIds(keyIds, ptr / 4);
    const r: number = this.ex.rateCheckMany(h, n, nowMs);
    if (r < 0) this.fail(-r, `checkMany: ids must be below ${MAX_KEYS} and nowMs finite (nothing recorded)`);
    this.readReply(out, n);
    return r;
  }

  /** Milliseconds until `key` may pass again at `nowMs`; 0 if it may pass now. */
  remainingMs(key: string | number, nowMs: number = Date.now()): number {
    const h = this.live();
    const id = this.knownId(key);
    if (id < 0) return 0;
    const r: number = this.ex.rateRemainingMs(h, id, nowMs);
    if (r < 0) this.fail(-r, "remainingMs: nowMs must be finite");
    return r;
  }

  /** Forgets one key's last pass, or every key's. Interned ids stay valid. */
  reset(key?: string | number): void {
    const h = this.live();
    const id = key === undefined ? -1 : this.knownId(key);
    if (id < 0 && key !== undefined) return;
    const status: number = this.ex.rateReset(h, id);
    if (status !== 0) this.fail(status, "reset");
  }

  protected disposeHandle(h: number): number {
    return this.ex.rateDispose(h);
  }
}

/** Per-key deadband: passes a value only when it moved far enough from the last one that passed. */
export class ChangeFilter extends KeyedThrottle {
  readonly threshold: number | undefined;
  readonly percent: number | undefined;

  constructor(instance: CoreInstance, options: ChangeFilterOptions = {}) {
    super(instance, "ChangeFilter");
    const { threshold, percent } = options ?? {};
    for (const [name, v] of [
      ["threshold", threshold],
      ["percent", percent],
    ] as const) {
      if (v !== undefined && !(typeof v === "number" && v >= 0 && Number.isFinite(v))) {
        throw argument(`createChangeFilter: ${name} must be a finite number >= 0, got ${v}`);
      }
    }
    this.threshold = threshold;
    this.percent = percent;
    const h: number = this.ex.changeCreate(threshold === undefined ? 0 : 1, threshold ?? 0, percent === undefined ? 0 : 1, percent ?? 0);
    if (h < 0) this.fail(-h, "create");
    this.handle = h;
  }

  /** True when `value` passes for `key` (it then becomes the key's last value). */
  check(key: string | number, value: number): boolean {
    if (typeof value !== "number") throw argument(`ChangeFilter.check: value must be a number, got ${typeof value}`);
    const r: number = this.ex.changeCheck(this.live(), this.idOf(key), value);
    if (r < 0) this.fail(-r, "check: value must be finite");
    return r === 1;
  }

  /**
   * Checks many (id, value) pairs in one crossing, in order (a repeated id sees the earlier pass).
   * Writes 1 (passed, recorded) or 0 per pair into `out`; returns how many passed.
   */
  checkMany(keyIds: Uint32Array, values: Float64Array, out: Uint8Array): number {
    const h = this.live();
    this.checkBatch(keyIds, out);
    if (!(values instanceof Float64Array) || values.length !== keyIds.length) {
      throw argument("ChangeFilter.checkMany: values must be a Float64Array as long as keyIds");
    }
    const n = keyIds.length;
    if (n === 0) return 0;
    const ptr: number = this.instance.reserveIn(n * 12);
    this.writeValues(values, ptr / 8);
    this.writeIds(keyIds, ptr / 4 + n * 2);
    const r: number = this.ex.changeCheckMany(h, n);
    if (r < 0) this.fail(-r, `checkMany: ids must be below ${MAX_KEYS} and values finite (nothing recorded)`);
    this.readReply(out, n);
    return r;
  }

  /** The last value that passed for `key`, or undefined if none has (since creation or reset). */
  last(key: string | number): number | undefined {
    const h = this.live();
    const id = this.knownId(key);
    if (id < 0) return undefined;
    const v: number = this.ex.changeLast(h, id);
    return Number.isNaN(v) ? undefined : v;
  }

  /** Forgets one key's last value (its next value passes), or every key's. Interned ids stay valid. */
  reset(key?: string | number): void {
    const h = this.live();
    const id = key === undefined ? -1 : this.knownId(key);
    if (id < 0 && key !== undefined) return;
    const status: number = this.ex.changeReset(h, id);
    if (status !== 0) this.fail(status, "reset");
  }

  protected disposeHandle(h: number): number {
    return this.ex.changeDispose(h);
  }
}
