// Rolling statistics over the newest samples of a stream (assembly/stats.ts does the work).
//
// Two things keep the boundary cheap:
// - While adds come in runs, add() stages samples in a JS Float64Array and hands them to the core
//   in one crossing when anything reads the window or calls into it (or the stage fills); once
//   reads follow single adds, add() calls the core directly (the stage would only add work there)
//   until two adds meet without a read between them. Samples are checked when added, so errors
//   still surface at the add() that caused them, and both ways give the same bits.
// - The core publishes each window's statistics as f64 in linear memory (STATS_RESULT in
//   assembly/layout.json) at the end of every call that changes the window, so the getters and
//   snapshot() read memory, not a call. M2 (for stddev) is the exception: count windows work it
//   out only when asked, so reading stddev costs one call and an add nothing. A getter's common case is one view, valid only while a
//   read needs no work (`ready`: nothing staged, window alive); otherwise it is a zero-length
//   array and the read takes the slow path. Growing memory detaches the old buffer, which leaves
//   a cached view with length 0 too, so the same test catches it.
import type { CoreExports, CoreInstance } from "./instance.js";
import { TagwireError } from "./errors.js";
import {
  STATS_RESULT_COUNT,
  STATS_RESULT_EWMA,
  STATS_RESULT_MAX,
  STATS_RESULT_MEAN,
  STATS_RESULT_MIN,
  STATS_RESULT_M2,
  STATS_RESULT_SIZE,
  STATS_RESULT_SUM,
} from "./layout.generated.js";

/**
 * A count window (`window`: keep the newest N samples), a time window (`windowMs`: keep samples
 * whose time is >= the newest time seen minus windowMs, so a sample exactly windowMs old stays), or
 * both (a time window capped at N samples). A time window without `window` holds at most 2^20
 * samples; past that its oldest samples leave early.
 */
export type RollingStatsOptions = ({ window: number; windowMs?: number } | { window?: number; windowMs: number }) & {
  /**
   * Weight of the newest sample in the exponentially weighted moving average, in (0, 1]; default
   * 0.1. The EWMA runs over every sample since the window was created, reset or last emptied (by
   * expiry), not only those in the window, and starts at the first such sample.
   */
  ewmaAlpha?: number;
};

/** All statistics at once. An empty window reports count 0 and 0 for everything else. */
export interface RollingStatsSnapshot {
  count: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
  /** Sample standard deviation (divides by n - 1); 0 below two samples. */
  stddev: number;
  ewma: number;
}

/** `ready` while a read has work to do first (staged samples, disposed window). */
const NOT_READY = new Float64Array(0);

/** Largest `window` (samples); the core's MAX_LIMIT. */
const MAX_WINDOW = 2 ** 24;
const DEFAULT_ALPHA = 0.1;
/** Samples add() may stage before it hands them to the core. */
const STAGE = 256;

// Indices of the published statistics in a window's result view: STATS_RESULT in
// assembly/layout.json.
const RESULT_F64 = STATS_RESULT_SIZE / 8;
const COUNT = STATS_RESULT_COUNT / 8;
const SUM = STATS_RESULT_SUM / 8;
const MEAN = STATS_RESULT_MEAN / 8;
const MIN = STATS_RESULT_MIN / 8;
const MAX = STATS_RESULT_MAX / 8;
const M2 = STATS_RESULT_M2 / 8;
const EWMA = STATS_RESULT_EWMA / 8;

/**
 * The sample standard deviation from the published count, min, max and M2: the core's formula,
 * moved to the read (the same IEEE operations, so the same bits) so that adds skip a division and
 * a square root most readers never ask for.
 */
function stddevOf(v: Float64Array): number {
  const n = v[COUNT]!;
  return n > 1 && v[MIN] !== v[MAX] ? Math.sqrt(Math.max(v[M2]!, 0) / (n - 1)) : 0;
}

function argument(message: string): TagwireError {
  return new TagwireError("TAGWIRE_ERR_ARGUMENT", message);
}

/**
 * A rolling window in the core (what `core.createRollingStats` returns; the SDK's `RollingStats`
 * extends it with a shared core and `summary()`): count, sum, mean, min, max, sample standard
 * deviation and EWMA,
 * each O(1) amortised per sample. Samples must be finite numbers: NaN or ±Infinity (or a
 * non-finite timestamp) throws TAGWIRE_ERR_ARGUMENT and leaves the window as it was; in
 * addMany() one bad sample rejects the whole batch.
 *
 * Time windows order samples by arrival: a timestamp older than the newest one seen counts as the
 * newest (a clock that steps back loses nothing). Statistics reflect the newest time seen; call
 * expire(nowMs) to age samples out when no new ones arrive.
 */
export class RollingWindow {
  readonly instance: CoreInstance;
  /** The sample count bound, or undefined for a pure time window. */
  readonly window: number | undefined;
  readonly windowMs: number | undefined;
  readonly ewmaAlpha: number;
  private readonly ex: CoreExports;
  /** ex.statsAdd, held directly: a property load on the exports object per sample shows up. */
  private readonly addOne: CoreExports["statsAdd"];
  private readonly timed: boolean;
  // Numbers start as numbers (not undefined, as a bare class field would): a field that held
  // undefined is read through a generic tagged path on every add and read.
  private handle = 0;
  /** Address of the window's published statistics in the core's memory. */
  private readonly address: number = 0;
  /**
   * The published statistics: a 7-f64 view of memory at `address`, so a getter reads a constant
   * index. Rebuilt when growing memory has detached it (length 0).
   */
  private result: Float64Array;
  private view: Float64Array;
  /** `view` while reading needs no work first, else NOT_READY (see the header). */
  private ready: Float64Array = NOT_READY;
  /** Samples added but not yet in the core, and their times (time windows). */
  private pending = 0;
  /**
   * How add() hands samples over, chosen by how the window is used: staged (batched into one
   * crossing at the next read) while several adds come between reads, direct (one call per add,
   * no stage) once reads follow single adds. `unread`: an add went direct since the last read.
   */
  private direct = false;
  private unread = false;
  private readonly stage = new Float64Array(STAGE);
  private readonly stageTimes: Float64Array | undefined;

  constructor(instance: CoreInstance, options: RollingStatsOptions) {
    instance.check();
    const {
      window,
      windowMs,
      ewmaAlpha = DEFAULT_ALPHA,
    } = (options ?? {}) as {
      window?: number;
      windowMs?: number;
      ewmaAlpha?: number;
    };
    if (window === undefined && windowMs === undefined) {
      throw argument("createRollingStats: give `window` (samples), `windowMs`, or both");
    }
    if (window !== undefined && !(Number.isInteger(window) && window >= 1 && window <= MAX_WINDOW)) {
      throw argument(`createRollingStats: window must be an integer from 1 to ${MAX_WINDOW}, got ${window}`);
    }
    if (windowMs !== undefined && !(typeof windowMs === "number" && windowMs > 0 && Number.isFinite(windowMs))) {
      throw argument(`createRollingStats: windowMs must be a finite number > 0, got ${windowMs}`);
    }
    if (!(typeof ewmaAlpha === "number" && ewmaAlpha > 0 && ewmaAlpha <= 1)) {
      throw argument(`createRollingStats: ewmaAlpha must be in (0, 1], got ${ewmaAlpha}`);
    }
    this.instance = instance;
    this.ex = instance.exports;
    this.addOne = instance.exports.statsAdd;
    this.window = window;
    this.windowMs = windowMs;
    this.ewmaAlpha = ewmaAlpha;
    this.timed = windowMs !== undefined;
    if (this.timed) this.stageTimes = new Float64Array(STAGE);
    const h: number = this.ex.statsCreate(window ?? 0, windowMs ?? 0, ewmaAlpha);
    if (h < 0) instance.ok(-h, "createRollingStats");
    this.handle = h;
    this.address = this.ex.statsResultPtr(h);
    this.view = instance.f64;
    this.result = this.ready = new Float64Array(this.view.buffer, this.address, RESULT_F64);
  }

  /** The handle, after checking the window and its core are alive. */
  private live(): number {
    if (this.handle === 0) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", "rolling window: disposed");
    this.instance.check();
    return this.handle;
  }

  private f64(): Float64Array {
    let v = this.view;
    if (v.length === 0) v = this.view = this.instance.f64;
    return v;
  }

  /**
   * The published statistics, after handing staged samples to the core: the slow path of a read
   * (the getters test `ready` first).
   */
  private stats(): Float64Array {
    if (this.pending !== 0) {
      // One staged sample per read: the caller reads after every add, so add() calls the core
      // at once from now on (staging would only add work).
      if (this.pending === 1) this.direct = true;
      this.flush();
    } else if (this.handle === 0 || this.instance.dead !== undefined) this.live();
    let v = this.result;
    if (v.length === 0) v = this.result = new Float64Array(this.f64().buffer, this.address, RESULT_F64);
    this.ready = v;
    return v;
  }

  /** The published statistics: one length test in the common case, else stats(). */
  private published(): Float64Array {
    this.unread = false;
    const v = this.ready;
    return v.length === 0 || this.instance.dead !== undefined ? this.stats() : v;
  }

  /**
   * The published statistics with M2 current: a count window's core works M2 out only when asked
   * (a time window publishes it with every sample).
   */
  private publishedWithM2(): Float64Array {
    const v = this.published();
    if (this.timed) return v;
    const status: number = this.ex.statsPublishM2(this.handle);
    if (status !== 0) this.instance.ok(status, "stddev");
    return v;
  }

  /** Hands the staged samples to the core (values and times were checked by add()). */
  private flush(): void {
    // add() checked the window and core were alive when it staged; dispose/reset drop the stage.
    if (this.instance.dead !== undefined) this.instance.check();
    const n = this.pending;
    this.pending = 0;
    const times = this.stageTimes;
    let status: number;
    if (n === 1) {
      status = this.addOne(this.handle, this.stage[0]!, times ? times[0]! : 0);
    } else {
      const ptr: number = this.instance.reserveIn(n * (times ? 16 : 8));
      const f64 = this.f64();
      f64.set(this.stage.subarray(0, n), ptr / 8);
      if (times) f64.set(times.subarray(0, n), ptr / 8 + n);
      status = this.ex.statsAddMany(this.handle, n, 0, times ? 1 : 0);
    }
    if (status !== 0) this.instance.ok(status, "rolling window: adding staged samples");
  }

  /**
   * Adds one sample; `timestampMs` (time windows) defaults to Date.now(). The sample may wait in
   * a small JS stage until the window is next read or called (when adds come in runs); the result
   * is the same either way, to the bit.
   */
  add(value: number, timestampMs?: number): void {
    // Both common cases on a count window are handled here, so that addSlow (errors, mode changes,
    // time windows) stays cold however the process uses its windows: while it ran on every add of
    // some window, V8 inlined its ~290 bytes of bytecode into every caller of add(), and a window
    // read after every add went from 24 to 33 ns per sample (bench/stats.bench.mjs).
    // - direct: a reader that reads after every add, one crossing per sample. (`direct` is never
    //   set on a disposed window. The core refuses a non-finite sample and leaves the window as it
    //   was; addSlow then throws the error it would have thrown first.)
    // - staged: a loop of adds, batched into one crossing at the next read.
    // (Flags compared with === true/false: a bare `if (this.direct)` compiles to a generic
    // truthiness test of the field.)
    if (this.stageTimes === undefined && typeof value === "number") {
      if (this.direct === true) {
        if (this.unread === false) {
          if (this.instance.dead !== undefined) this.instance.check();
          if (this.addOne(this.handle, value, 0) === 0) {
            this.unread = true;
            return;
          }
        }
      } else if (value - value === 0 && this.handle !== 0 && this.instance.dead === undefined) {
        // x - x is 0 for finite numbers, NaN for NaN and +-Infinity (addSlow throws for those).
        this.stageOne(value);
        return;
      }
    }
    this.addSlow(value, timestampMs);
  }

  /** Stages one checked sample (and its time, for time windows); flushes a full stage. */
  private stageOne(value: number, time = 0): void {
    const at = this.pending;
    const times = this.stageTimes;
    if (times) times[at] = time;
    this.stage[at] = value;
    this.pending = at + 1;
    this.ready = NOT_READY;
    if (at + 1 === STAGE) this.flush();
  }

  private addSlow(value: number, timestampMs: number | undefined): void {
    if (this.handle === 0 || this.instance.dead !== undefined) this.live();
    // x - x is 0 for finite numbers and NaN for NaN and +-Infinity.
    if (typeof value !== "number" || value - value !== 0) {
      throw argument(`add: samples must be finite numbers, got ${String(value)}`);
    }
    const times = this.stageTimes;
    let t = 0;
    if (times) {
      t = timestampMs ?? Date.now();
      if (typeof t !== "number" || t - t !== 0) {
        throw argument(`add: timestamps must be finite numbers, got ${String(t)}`);
      }
    }
    if (this.direct) {
      if (!this.unread) {
        // Read after every add: one crossing now, and the published statistics are current.
        this.unread = true;
        const status = this.addOne(this.handle, value, t);
        if (status !== 0) this.instance.ok(status, "add");
        return;
      }
      // A second add before any read: a loop of adds, which the stage batches.
      this.direct = false;
    }
    this.stageOne(value, t);
  }

  /**
   * Adds samples in order in one crossing. `timestampsMs`, if given, must be as long as `values`
   * (count windows ignore it); without it every sample takes Date.now().
   */
  addMany(values: ArrayLike<number>, timestampsMs?: ArrayLike<number>): void {
    const h = this.live();
    const n = values.length;
    if (timestampsMs !== undefined && timestampsMs.length !== n) {
      throw argument(`addMany: ${n} values but ${timestampsMs.length} timestamps`);
    }
    if (this.pending !== 0) this.flush();
    if (n === 0) return;
    const withTimes = this.timed && timestampsMs !== undefined;
    const ptr: number = this.instance.reserveIn(n * (withTimes ? 16 : 8));
    const f64 = this.f64();
    f64.set(values, ptr / 8);
    if (withTimes) f64.set(timestampsMs!, ptr / 8 + n);
    const now = this.timed && !withTimes ? Date.now() : 0;
    const status: number = this.ex.statsAddMany(h, n, now, withTimes ? 1 : 0);
    if (status !== 0) {
      this.instance.ok(status, "addMany: samples and timestamps must be finite (batch rejected)");
    }
  }

  /**
   * Advances a time window's clock to `nowMs` (default Date.now()) and drops samples older than
   * nowMs - windowMs; returns how many left. A count window has nothing to expire: returns 0.
   */
  expire(nowMs: number = Date.now()): number {
    const h = this.live();
    if (this.pending !== 0) this.flush();
    const r: number = this.ex.statsExpire(h, nowMs);
    if (r < 0) this.instance.ok(-r, "expire: nowMs must be finite");
    return r;
  }

  /** Empties the window and restarts the EWMA. */
  reset(): void {
    const h = this.live();
    this.pending = 0; // emptied anyway
    this.instance.ok(this.ex.statsReset(h), "reset");
  }

  /** Frees the window in the core; later calls throw TAGWIRE_ERR_NOT_FOUND. Safe to repeat. */
  dispose(): void {
    if (this.handle === 0) return;
    const h = this.handle;
    this.handle = 0;
    this.pending = 0;
    this.direct = false;
    this.ready = NOT_READY;
    if (!this.instance.dead) this.instance.ok(this.ex.statsDispose(h), "dispose");
  }

  get disposed(): boolean {
    return this.handle === 0;
  }

  get count(): number {
    return this.published()[COUNT]!;
  }
  get sum(): number {
    return this.published()[SUM]!;
  }
  get mean(): number {
    return this.published()[MEAN]!;
  }
  get min(): number {
    return this.published()[MIN]!;
  }
  get max(): number {
    return this.published()[MAX]!;
  }
  /** Sample standard deviation (n - 1); 0 below two samples. */
  get stddev(): number {
    return stddevOf(this.publishedWithM2());
  }
  get ewma(): number {
    return this.published()[EWMA]!;
  }

  snapshot(): RollingStatsSnapshot {
    const v = this.publishedWithM2();
    return {
      count: v[COUNT]!,
      sum: v[SUM]!,
      mean: v[MEAN]!,
      min: v[MIN]!,
      max: v[MAX]!,
      stddev: stddevOf(v),
      ewma: v[EWMA]!,
    };
  }
}
