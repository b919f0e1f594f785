// Rolling statistics over a window of samples: count, sum, mean, min, max, sample standard
// deviation and an EWMA, each O(1) amortised per sample.
//
// A window is bounded by a sample count (`limit`), by an age (`windowMs`: a sample stays while
// its time >= clock - windowMs), or by both. A window with an age bound is a "time window" (with
// or without a count cap); one with only a count bound is a "count window". The two keep
// different state, below.
//
// Count windows (time: none) split the stream into blocks of `limit` samples (van Herk /
// Gil-Werman). When a block completes, one backward pass over it stores, for every offset j, the
// min, max and sum of its suffix [j, limit) (and, on request, the suffix's mean and M2). The
// block being filled keeps the same statistics of its prefix as running values. The window is the suffix of the previous
// block from offset `blockPos` plus the current block's prefix, so its statistics are one
// combination of two parts: min/max of the two, the sum of the two sums, and M2 by Chan et al.'s
// pairwise formula (M2a + M2b + d^2 * na * nb / n, d the difference of the two means).
// Why this shape: nothing ever leaves a running sum. A sample leaving the window is simply not in
// the suffix that is read, so there is no cancellation when a large value leaves, no drift to
// bound and no re-summation; each part is a fresh pass over at most `limit` samples, as accurate
// as a recomputation from scratch (plain sums; M2 by the one-sample update
// M2' = M2 + (x - mean)^2 * (k - 1) / k, see suffixSpread). Means and M2 are worked out only when
// M2 is asked for (statsPublishM2): the prefix steps forwards from where the last request stopped,
// the suffix records backwards from where theirs stopped (the last block's samples at offsets >=
// blockPos are still in the buffer), each sample once per block however often M2 is read, in the
// same order as an eager pass, so the same bits. Per sample an add is a store, a min, a max, a sum
// and the EWMA, plus the backward min/max/sum pass amortised over the block; count, sum, mean, min
// and max are combined once per call.
//
// Time windows (a block is a fixed number of samples, which a time window does not have) keep
// their samples in a ring in arrival order. Each sample's time is clamped to the newest time seen
// (`clock`), so the ring is also sorted by time and expiry only ever drops from the head.
// Sequence numbers are u32 counters that may wrap: the ring has power-of-two capacity and indexes
// by `seq & mask`, which stays right across the wrap because the capacity divides 2^32. Min and
// max come from two monotonic deques of sequence numbers: the min deque holds samples whose values strictly increase from front to back (its front is the
// minimum); a sample enters once and leaves once, and a front leaves exactly when its seq is
// evicted. Their sum and variance are running values over y = x - k, where the shift k sits near
// the window's mean (see Window.k): a Neumaier-compensated sum and Welford's M2 with its
// add/remove identities. M2 loses accuracy two ways: cancellation when a large value leaves (a
// 1e12 spike leaving a window of values near 1), and the rounding of the running mean. `err` adds
// up, since the last exact pass, the magnitude of each term applied to M2 plus each term's
// sensitivity to the mean's rounding, so M2 is off by at most about 2^-52 * err. When that bound
// passes 2^-20 of M2 (plus a floor at the data's own scale: n * mean^2 * 2^-52, what a fresh
// two-pass sum cannot beat either), the window is re-summed exactly in two passes, which also
// re-centres k. Ordinary data rarely triggers it; a spike triggers it once as it leaves. A re-sum
// is O(count) and needs err to grow by 2^20 * M2 first, so it stays amortised O(1) in practice.
//
// Layout of a window (an unmanaged struct on the heap; it never moves while the handle lives):
//   0..55   the published statistics as 7 f64 (STATS_RESULT in layout.json: count, sum, mean,
//           min, max, M2, ewma; the binding derives stddev from M2 on read). The core rewrites
//           them at the end of every call that changes the window (M2 of a count window only in
//           statsPublishM2); the binding reads them straight from memory, so reading a statistic
//           but stddev costs no crossing.
//   56..    running state (below). Time windows: vals/times are f64 rings and minq/maxq u32
//           rings, `cap` long. Count windows: vals holds the block being filled (`cap` >= its
//           length, `limit` once the first block completes); suf holds `limit` suffix records
//           (SUF_* below), allocated when the first block completes.
import { OK, ERR_ARGUMENT, ERR_NOT_FOUND } from "./errors";
import { HandleTable } from "./handles";
import {
  STATS_RESULT_COUNT,
  STATS_RESULT_EWMA,
  STATS_RESULT_MAX,
  STATS_RESULT_MEAN,
  STATS_RESULT_MIN,
  STATS_RESULT_M2,
  STATS_RESULT_SUM,
} from "./layout.generated";
import { ioInReserve } from "./io";

/** Largest count window (and cap of a time window): 2^24 samples. */
// @ts-ignore: decorator
@inline const MAX_LIMIT: u32 = 1 << 24;
/** Sample cap of a time window created without a count bound. */
// @ts-ignore: decorator
@inline const DEFAULT_TIME_LIMIT: u32 = 1 << 20;
// @ts-ignore: decorator
@inline const FIRST_CAP: u32 = 16;
/** Re-sum exactly when the M2 error bound passes 2^-20 of M2 (see the header). */
// @ts-ignore: decorator
@inline const DRIFT_RATIO: f64 = 1048576.0;
// @ts-ignore: decorator
@inline const EPS: f64 = 2.220446049250313e-16;

// A count window's suffix record j: the statistics of samples [j, limit) of the last complete
// block, as f64 side by side so a read touches one or two cache lines.
// @ts-ignore: decorator
@inline const SUF_MIN: usize = 0;
// @ts-ignore: decorator
@inline const SUF_MAX: usize = 8;
// @ts-ignore: decorator
@inline const SUF_SUM: usize = 16;
// @ts-ignore: decorator
@inline const SUF_MEAN: usize = 24;
// @ts-ignore: decorator
@inline const SUF_M2: usize = 32;
// @ts-ignore: decorator
@inline const SUF_SIZE: usize = 40;

// @ts-ignore: decorator
@unmanaged
class Window {
  // Published; the binding reads these 7 f64 at the window's address (STATS_RESULT in
  // layout.json). Keep first and in that order: the start-up check below enforces it.
  count: f64 = 0;
  sum: f64 = 0;
  mean: f64 = 0;
  min: f64 = 0;
  max: f64 = 0;
  /**
   * M2 as of the last statsPublishM2 (time windows: of the last call; the binding derives stddev
   * from it and asks for it on read).
   */
  m2out: f64 = 0;
  /**
   * Also the running EWMA itself (no separate copy to publish): it reads 0 only while the window
   * is empty, and then `fresh` is set, so the next sample restarts it.
   */
  ewma: f64 = 0;

  alpha: f64 = 0;
  /** `limit` as f64, and 1 / limit. */
  fLimit: f64 = 0;
  invLimit: f64 = 0;

  // Count windows: the block being filled, [0, blockPos) of vals.
  blockMin: f64 = Infinity;
  blockMax: f64 = -Infinity;
  blockSum: f64 = 0;
  /**
   * The sum, mean and M2 of the block's first spreadPos samples (countSpread brings them up to
   * blockPos when M2 is asked for; adds leave them behind).
   */
  spreadSum: f64 = 0;
  blockMean: f64 = 0;
  blockM2: f64 = 0;

  // Time windows only.
  /**
   * The shift of the running sums: y = x - k. Set to the first sample entering an empty window
   * and to the exact mean at every re-sum, so the mean of y stays small and its rounding harmless.
   * s + c is the Neumaier sum of y (c the compensation); the sum of x is n * k + s + c.
   */
  k: f64 = 0;
  s: f64 = 0;
  c: f64 = 0;
  m2: f64 = 0;
  /** Sum of |terms| applied to m2 since the last exact pass. */
  err: f64 = 0;
  windowMs: f64 = 0;
  /** Newest time seen (samples and expire calls); -Infinity before the first. */
  clock: f64 = -Infinity;

  vals: usize = 0;
  /** Time windows only (0 otherwise): times and the two deques. */
  times: usize = 0;
  minq: usize = 0;
  maxq: usize = 0;
  /** Count windows only: `limit` suffix records (SUF_*) of the last complete block. */
  suf: usize = 0;

  cap: u32 = 0;
  mask: u32 = 0;
  limit: u32 = 0;
  /** Time windows: samples are the seqs [head, tail). */
  head: u32 = 0;
  tail: u32 = 0;
  /** Deque positions [minH, minT) and [maxH, maxT) in minq / maxq. */
  minH: u32 = 0;
  minT: u32 = 0;
  maxH: u32 = 0;
  maxT: u32 = 0;
  /** Count windows: samples in the block being filled; 1 in hasBlock once a block completed since the reset. */
  blockPos: u32 = 0;
  hasBlock: u32 = 0;
  spreadPos: u32 = 0;
  /** The suffix records from this offset on hold their mean and M2 (see suffixSpread). */
  sufSpread: u32 = 0;
  /** 1 when the next sample starts the EWMA afresh (new, reset, or emptied by expiry). */
  fresh: u32 = 1;
}

// The published fields sit where layout.json says (checked once at start-up: a mismatch aborts
// the instance before any window exists).
assert(
  offsetof<Window>("count") == STATS_RESULT_COUNT &&
    offsetof<Window>("sum") == STATS_RESULT_SUM &&
    offsetof<Window>("mean") == STATS_RESULT_MEAN &&
    offsetof<Window>("min") == STATS_RESULT_MIN &&
    offsetof<Window>("max") == STATS_RESULT_MAX &&
    offsetof<Window>("m2out") == STATS_RESULT_M2 &&
    offsetof<Window>("ewma") == STATS_RESULT_EWMA,
  "Window fields do not match STATS_RESULT",
);

// ---- handles ----

const handles = new HandleTable();

// The window of the last lookup: calls come in runs on one window (a reader that reads after
// every sample makes one call per sample), and comparing one handle is cheaper than the table's
// range check, load and free-slot test. Handle 0 is never live, so the empty memo (0, 0) answers
// null for it. Cleared when its handle is released.
let memoHandle: i32 = 0;
let memoWindow: usize = 0;

// @ts-ignore: decorator
@inline function lookup(h: i32): Window | null {
  if (h == memoHandle) return changetype<Window | null>(memoWindow);
  const w = handles.get(h);
  if (w) {
    memoHandle = h;
    memoWindow = w;
  }
  return changetype<Window | null>(w);
}

// ---- the EWMA (both kinds) ----

/** Folds x into the EWMA; a fresh one starts at x. */
// @ts-ignore: decorator
@inline function ewmaStep(w: Window, x: f64): void {
  if (w.fresh) {
    w.ewma = x;
    w.fresh = 0;
  } else {
    w.ewma += w.alpha * (x - w.ewma);
  }
}

// ---- count windows ----

// The block buffer (vals) of a count window holds, for each position i, the sample and the
// constant 1 / (i + 1): every step of the sums needs 1 / k for a count k, and a load is cheaper
// than a division (the same bits: the constant is that division, done once).
// @ts-ignore: decorator
@inline const BLOCK_STRIDE_SHIFT: usize = 4;
// @ts-ignore: decorator
@inline const BLOCK_RECIP: usize = 8;

/** Sets the block buffer's capacity to `cap` positions, keeping its samples. */
function blockResize(w: Window, cap: u32): void {
  const old = w.cap;
  const bytes = <usize>cap << BLOCK_STRIDE_SHIFT;
  const vals = w.vals ? heap.realloc(w.vals, bytes) : heap.alloc(bytes);
  for (let i = old; i < cap; i++) store<f64>(vals + (<usize>i << BLOCK_STRIDE_SHIFT) + BLOCK_RECIP, 1 / <f64>(i + 1));
  w.vals = vals;
  w.cap = cap;
}

/** Room for the sample at `pos` (the first block of a big window grows on demand). */
// @ts-ignore: decorator
@inline function blockRoom(w: Window, pos: u32): void {
  if (pos == w.cap) blockResize(w, min<u32>(pos << 1, w.limit));
}

/**
 * The block in vals is full (`limit` samples): stores the min, max and sum of each of its
 * suffixes, backwards. Their means and M2 wait for a read (suffixSpread).
 */
function completeBlock(w: Window): void {
  const n = w.limit;
  if (!w.suf) w.suf = heap.alloc(<usize>n * SUF_SIZE);
  const vals = w.vals;
  let lo = Infinity;
  let hi = -Infinity;
  let sum: f64 = 0;
  let rec = w.suf + <usize>n * SUF_SIZE;
  for (let j = <i32>n - 1; j >= 0; j--) {
    rec -= SUF_SIZE;
    const x = load<f64>(vals + (<usize>j << BLOCK_STRIDE_SHIFT));
    lo = min<f64>(lo, x);
    hi = max<f64>(hi, x);
    sum += x;
    store<f64>(rec + SUF_MIN, lo);
    store<f64>(rec + SUF_MAX, hi);
    store<f64>(rec + SUF_SUM, sum);
  }
  w.hasBlock = 1;
  w.sufSpread = n;
}

/**
 * Extends the suffix records' mean and M2 (held for offsets [sufSpread, limit)) down to offset
 * `to`. Each step is the update of a suffix by one sample x in front of it, with k samples after
 * the update:
 *   M2' = M2 + (x - mean)^2 * (k - 1) / k,  mean' = sum' / k
 * (mean of the suffix before the update, sum' from the record). The mean is taken from the sum
 * rather than carried as in Welford's form, so M2 is the only value carried from step to step;
 * the reciprocals depend on k alone. The block's prefix (countSpread) does the same forwards.
 * Why the samples are still there: the window reads the suffix from blockPos, and the block being
 * filled has overwritten only [0, blockPos) of vals, so [to, limit) is the last block's.
 */
function suffixSpread(w: Window, to: u32): void {
  const n = w.limit;
  const vals = w.vals;
  let j = w.sufSpread;
  let rec = w.suf + <usize>j * SUF_SIZE;
  let mean: f64 = 0;
  let m2: f64 = 0;
  if (j < n) {
    mean = load<f64>(rec + SUF_MEAN);
    m2 = load<f64>(rec + SUF_M2);
  }
  while (j > to) {
    j--;
    rec -= SUF_SIZE;
    const k = n - j;
    const x = load<f64>(vals + (<usize>j << BLOCK_STRIDE_SHIFT));
    const r = load<f64>(vals + (<usize>(k - 1) << BLOCK_STRIDE_SHIFT) + BLOCK_RECIP);
    const d = x - mean;
    m2 += d * (d * (<f64>(k - 1) * r));
    mean = load<f64>(rec + SUF_SUM) * r;
    store<f64>(rec + SUF_MEAN, mean);
    store<f64>(rec + SUF_M2, m2);
  }
  w.sufSpread = j;
}

/**
 * Count windows: adds the `count` finite samples at `src` in order. The running values live in
 * locals for the run (through the struct every step would be a load and a store on the chain
 * from one sample to the next). One call per sample or one per batch gives the same bits. The
 * block's M2 is not touched: countSpread catches it up when it is asked for.
 */
// @ts-ignore: decorator
@inline function countRun(w: Window, src: usize, count: i32): void {
  const limit = w.limit;
  const alpha = w.alpha;
  let vals = w.vals;
  let pos = w.blockPos;
  let lo = w.blockMin;
  let hi = w.blockMax;
  let sum = w.blockSum;
  let ew = w.ewma;
  let fresh = w.fresh;
  for (let i = 0; i < count; i++) {
    const x = load<f64>(src + (<usize>i << 3));
    if (pos == w.cap) {
      blockRoom(w, pos);
      vals = w.vals;
    }
    store<f64>(vals + (<usize>pos << BLOCK_STRIDE_SHIFT), x);
    pos++;
    lo = min<f64>(lo, x);
    hi = max<f64>(hi, x);
    sum += x;
    if (fresh) {
      ew = x;
      fresh = 0;
    } else {
      ew += alpha * (x - ew);
    }
    if (pos == limit) {
      completeBlock(w);
      blockRestart(w);
      pos = 0;
      lo = Infinity;
      hi = -Infinity;
      sum = 0;
    }
  }
  w.blockPos = pos;
  w.blockMin = lo;
  w.blockMax = hi;
  w.blockSum = sum;
  w.ewma = ew;
  w.fresh = fresh;
}

/** The block just completed (or the window was reset): the next one starts empty. */
function blockRestart(w: Window): void {
  w.blockPos = 0;
  w.blockMin = Infinity;
  w.blockMax = -Infinity;
  w.blockSum = 0;
  w.spreadPos = 0;
  w.spreadSum = 0;
  w.blockMean = 0;
  w.blockM2 = 0;
}

/**
 * Count windows: writes the published statistics but M2 (countSpread). The window is the suffix
 * of the last complete block from blockPos plus the block being filled (see the header).
 */
function countPublish(w: Window): void {
  const nb = w.blockPos;
  if (!w.hasBlock && nb == 0) {
    zeroPublished(w);
    return;
  }
  if (w.hasBlock) w.count = w.fLimit;
  publishParts(w, nb, w.blockMin, w.blockMax, w.blockSum);
}

/**
 * countPublish with the block's running values at hand (statsAdd has them in registers).
 *
 * Everything is worked out in locals and each published field stored once: storing min and max
 * and reading them back for the mean's clamp cost more than the arithmetic. The samples are
 * finite, so when `lo <= sufLo` is false, min(sufLo, lo) is sufLo: the result is f64.min's in
 * every case, -0 and +0 included (V8 compiles f64.min to a longer sequence for NaN and -0, now
 * on the side taken only while the block's minimum is the smaller).
 */
// @ts-ignore: decorator
@inline function publishParts(w: Window, nb: u32, lo: f64, hi: f64, sum: f64): void {
  let fn = <f64>nb;
  if (w.hasBlock) {
    const rec = w.suf + <usize>nb * SUF_SIZE;
    const sufLo = load<f64>(rec + SUF_MIN);
    const sufHi = load<f64>(rec + SUF_MAX);
    if (!(lo <= sufLo)) lo = sufLo;
    else lo = min<f64>(sufLo, lo);
    if (!(hi >= sufHi)) hi = sufHi;
    else hi = max<f64>(sufHi, hi);
    sum = load<f64>(rec + SUF_SUM) + sum;
    fn = w.fLimit;
  } else {
    // With a complete block the count is `limit` until a reset: written once (countPublish,
    // and countAddPublish when the first block completes).
    w.count = fn;
  }
  w.min = lo;
  w.max = hi;
  w.sum = sum;
  // Rounding may put the mean an ulp outside the range; constant data should read back exactly.
  // (Compares rather than f64.min/max, as above; the same result for finite values.)
  let m = sum / fn;
  if (m < lo) m = lo;
  if (m > hi) m = hi;
  w.mean = m;
}

/**
 * statsAdd on a count window: one sample, then the published statistics. countRun's step for
 * one sample, written out straight (no loop) because this is the whole cost of a reader that
 * reads after every sample; the operations are the same, in the same order, so the bits are too
 * (the batch test checks it).
 */
// @ts-ignore: decorator
@inline function countAddPublish(w: Window, x: f64): void {
  const pos0 = w.blockPos;
  blockRoom(w, pos0);
  store<f64>(w.vals + (<usize>pos0 << BLOCK_STRIDE_SHIFT), x);
  const pos = pos0 + 1;
  const lo = min<f64>(w.blockMin, x);
  const hi = max<f64>(w.blockMax, x);
  const sum = w.blockSum + x;
  ewmaStep(w, x);
  if (pos == w.limit) {
    completeBlock(w);
    blockRestart(w);
    w.count = w.fLimit;
    publishParts(w, 0, Infinity, -Infinity, 0);
    return;
  }
  w.blockPos = pos;
  w.blockMin = lo;
  w.blockMax = hi;
  w.blockSum = sum;
  publishParts(w, pos, lo, hi, sum);
}

/**
 * Count windows: brings the block's running mean and M2 up to blockPos and writes the window's
 * M2 (m2out). The prefix steps are the forward form of completeBlock's, sample by sample from
 * where the last call stopped; the prefix sum is carried again beside them (spreadSum: the same
 * additions in the same order as blockSum, so the same bits), since each step's mean is its sum
 * times 1 / k. Every sample is stepped once per block however often M2 is read, so a reader of
 * the spread pays O(1) amortised per sample and an add pays nothing for it.
 */
function countSpread(w: Window): void {
  const end = w.blockPos;
  const vals = w.vals;
  let pos = w.spreadPos;
  let sum = w.spreadSum;
  let mean = w.blockMean;
  let m2 = w.blockM2;
  while (pos < end) {
    const at = vals + (<usize>pos << BLOCK_STRIDE_SHIFT);
    const x = load<f64>(at);
    const r = load<f64>(at + BLOCK_RECIP);
    const d = x - mean;
    m2 += d * (d * (<f64>pos * r));
    pos++;
    sum += x;
    mean = sum * r;
  }
  w.spreadPos = pos;
  w.spreadSum = sum;
  w.blockMean = mean;
  w.blockM2 = m2;
  if (w.hasBlock) {
    if (w.sufSpread > end) suffixSpread(w, end);
    // Chan et al.: M2 of the union of two parts of na and nb samples, d the difference of their
    // means, is M2a + M2b + d^2 * na * nb / n. With nb = 0 the cross term is d * (d * 0) = 0.
    const fn = <f64>end;
    const rec = w.suf + <usize>end * SUF_SIZE;
    const d = mean - load<f64>(rec + SUF_MEAN);
    m2 = load<f64>(rec + SUF_M2) + m2 + d * (d * ((w.fLimit - fn) * fn * w.invLimit));
  }
  w.m2out = m2;
}

// ---- time windows: rings ----

// @ts-ignore: decorator
@inline function valAt(w: Window, seq: u32): f64 {
  return load<f64>(w.vals + (<usize>(seq & w.mask) << 3));
}

// @ts-ignore: decorator
@inline function qAt(q: usize, mask: u32, pos: u32): u32 {
  return load<u32>(q + (<usize>(pos & mask) << 2));
}

function allocRings(w: Window, cap: u32): void {
  w.vals = heap.alloc(<usize>cap << 3);
  w.times = heap.alloc(<usize>cap << 3);
  w.minq = heap.alloc(<usize>cap << 2);
  w.maxq = heap.alloc(<usize>cap << 2);
  w.cap = cap;
  w.mask = cap - 1;
}

function freeAll(w: Window): void {
  heap.free(w.vals);
  if (w.times) {
    heap.free(w.times);
    heap.free(w.minq);
    heap.free(w.maxq);
  }
  if (w.suf) heap.free(w.suf);
}

/** Doubles the rings, moving every live entry to where `seq & newMask` puts it. */
function grow(w: Window): void {
  const oldMask = w.mask;
  const oldVals = w.vals;
  const oldTimes = w.times;
  const oldMin = w.minq;
  const oldMax = w.maxq;
  allocRings(w, w.cap << 1);
  const mask = w.mask;
  for (let s = w.head; s != w.tail; s++) {
    store<f64>(w.vals + (<usize>(s & mask) << 3), load<f64>(oldVals + (<usize>(s & oldMask) << 3)));
    store<f64>(w.times + (<usize>(s & mask) << 3), load<f64>(oldTimes + (<usize>(s & oldMask) << 3)));
  }
  for (let p = w.minH; p != w.minT; p++) store<u32>(w.minq + (<usize>(p & mask) << 2), qAt(oldMin, oldMask, p));
  for (let p = w.maxH; p != w.maxT; p++) store<u32>(w.maxq + (<usize>(p & mask) << 2), qAt(oldMax, oldMask, p));
  heap.free(oldVals);
  heap.free(oldTimes);
  heap.free(oldMin);
  heap.free(oldMax);
}

// ---- time windows: min and max ----

/** The deque fronts leave with the sample `seq`. */
// @ts-ignore: decorator
@inline function dequesDrop(w: Window, seq: u32): void {
  if (qAt(w.minq, w.mask, w.minH) == seq) w.minH++;
  if (qAt(w.maxq, w.mask, w.maxH) == seq) w.maxH++;
}

/** Sample `seq` with value x joins both deques (its value is not stored yet). */
function dequesPush(w: Window, seq: u32, x: f64): void {
  const mask = w.mask;
  const vals = w.vals;
  const minq = w.minq;
  let p = w.minT;
  while (p != w.minH && load<f64>(vals + (<usize>(qAt(minq, mask, p - 1) & mask) << 3)) >= x) p--;
  store<u32>(minq + (<usize>(p & mask) << 2), seq);
  w.minT = p + 1;
  const maxq = w.maxq;
  p = w.maxT;
  while (p != w.maxH && load<f64>(vals + (<usize>(qAt(maxq, mask, p - 1) & mask) << 3)) <= x) p--;
  store<u32>(maxq + (<usize>(p & mask) << 2), seq);
  w.maxT = p + 1;
}

// ---- time windows: the running sums ----

/** The rounding error of s + x (Neumaier): computed both ways and selected, so no branch. */
// @ts-ignore: decorator
@inline function neumaierErr(s: f64, x: f64, t: f64): f64 {
  return select<f64>((s - t) + x, (x - t) + s, abs<f64>(s) >= abs<f64>(x));
}

// @ts-ignore: decorator
@inline function neumaierAdd(w: Window, x: f64): void {
  const s = w.s;
  const t = s + x;
  w.c += neumaierErr(s, x, t);
  w.s = t;
}

/** Exact two-pass re-summation of the live samples; re-centres k and clears the error bound. */
function resum(w: Window): void {
  const n = <f64>(w.tail - w.head);
  w.s = 0;
  w.c = 0;
  for (let q = w.head; q != w.tail; q++) neumaierAdd(w, valAt(w, q));
  const k = (w.s + w.c) / n;
  w.k = k;
  w.s = 0;
  w.c = 0;
  let yy: f64 = 0;
  for (let q = w.head; q != w.tail; q++) {
    const y = valAt(w, q) - k;
    neumaierAdd(w, y);
    yy += y * y;
  }
  const sy = w.s + w.c;
  w.m2 = yy - sy * sy / n;
  w.err = 0;
}

/**
 * Re-sums when the M2 error bound is no longer small (see the header). Runs after every sample,
 * not once per call, so a batch gives bit-for-bit the results of one call per sample.
 */
// @ts-ignore: decorator
@inline function settle(w: Window, meanY: f64): void {
  const n = <f64>(w.tail - w.head);
  const mean = w.k + meanY;
  if (w.err > DRIFT_RATIO * (w.m2 + n * mean * mean * EPS)) resum(w);
}

// ---- time windows: samples in and out ----

/** Drops the oldest sample (the window is not empty). */
function removeOldest(w: Window): void {
  const seq = w.head;
  const x = valAt(w, seq);
  dequesDrop(w, seq);
  w.head = seq + 1;
  const n = w.tail - w.head;
  if (n == 0) {
    w.s = 0;
    w.c = 0;
    w.m2 = 0;
    w.err = 0;
    return;
  }
  const y = x - w.k;
  const before = (w.s + w.c) / <f64>(n + 1);
  neumaierAdd(w, -y);
  const after = (w.s + w.c) / <f64>n;
  const term = (y - before) * (y - after);
  w.m2 -= term;
  w.err += abs<f64>(term) + (abs<f64>(y - before) + abs<f64>(y - after)) * abs<f64>(before);
}

/** Drops samples older than clock - windowMs; returns how many. */
function expireTo(w: Window): i32 {
  const cutoff = w.clock - w.windowMs;
  const times = w.times;
  const mask = w.mask;
  let dropped = 0;
  while (w.head != w.tail && load<f64>(times + (<usize>(w.head & mask) << 3)) < cutoff) {
    removeOldest(w);
    dropped++;
  }
  if (dropped && w.head == w.tail) w.fresh = 1;
  return dropped;
}

/** Stores sample x (time t) at the tail; the caller made room and evicted what had to go. */
function pushBack(w: Window, x: f64, t: f64): void {
  const seq = w.tail;
  dequesPush(w, seq, x);
  store<f64>(w.times + (<usize>(seq & w.mask) << 3), t);
  store<f64>(w.vals + (<usize>(seq & w.mask) << 3), x);
  w.tail = seq + 1;
}

/** Adds one finite sample with a finite time. */
function timedAdd(w: Window, x: f64, t: f64): void {
  if (t > w.clock) w.clock = t;
  t = w.clock;
  expireTo(w);
  const n = w.tail - w.head;
  if (n == w.limit) {
    // Full: replace the oldest. One Welford step with the count unchanged:
    // M2' = M2 + (y - old) * (y - mean' + old - mean).
    const seq = w.head;
    const old = valAt(w, seq) - w.k;
    dequesDrop(w, seq);
    w.head = seq + 1;
    pushBack(w, x, t);
    const y = x - w.k;
    const before = (w.s + w.c) / <f64>n;
    // Two compensated steps: `y - old` would round away y next to a large old value.
    neumaierAdd(w, -old);
    neumaierAdd(w, y);
    const after = (w.s + w.c) / <f64>n;
    const term = (y - old) * (y - after + old - before);
    w.m2 += term;
    w.err += abs<f64>(y - old) * (abs<f64>(y - after) + abs<f64>(old - before) + 2 * abs<f64>(after));
    settle(w, after);
  } else {
    if (n == w.cap) grow(w);
    pushBack(w, x, t);
    if (n == 0) w.k = x;
    const y = x - w.k;
    const before = n ? (w.s + w.c) / <f64>n : 0;
    neumaierAdd(w, y);
    const after = (w.s + w.c) / <f64>(n + 1);
    const term = (y - before) * (y - after);
    w.m2 += term;
    w.err += abs<f64>(term) + (abs<f64>(y - before) + abs<f64>(y - after)) * abs<f64>(after);
    settle(w, after);
  }
  ewmaStep(w, x);
}

/** Time windows: writes the published statistics. */
function timedPublish(w: Window): void {
  const n = w.tail - w.head;
  if (n == 0) {
    zeroPublished(w);
    return;
  }
  const lo = valAt(w, qAt(w.minq, w.mask, w.minH));
  const hi = valAt(w, qAt(w.maxq, w.mask, w.maxH));
  const fn = <f64>n;
  const sy = w.s + w.c;
  w.count = fn;
  w.sum = fn * w.k + sy;
  // Rounding may put the mean an ulp outside the range; constant data should read back exactly.
  w.mean = min<f64>(max<f64>(w.k + sy / fn, lo), hi);
  w.min = lo;
  w.max = hi;
  w.m2out = w.m2;
}

// ---- both kinds ----

function zeroPublished(w: Window): void {
  w.count = 0;
  w.sum = 0;
  w.mean = 0;
  w.min = 0;
  w.max = 0;
  w.m2out = 0;
  w.ewma = 0;
}

/** Ends every call that changed the window: writes the published statistics. */
function publish(w: Window): void {
  if (w.times) timedPublish(w);
  else countPublish(w);
}

// ---- ABI ----


/**
 * Creates a window; returns its handle (>= 1) or a negated status. `limit` is the sample count
 * bound (0 = none, only with a time bound), `windowMs` the age bound (0 = none), `alpha` the EWMA
 * weight of the newest sample, in (0, 1].
 */
export function statsCreate(limit: f64, windowMs: f64, alpha: f64): i32 {
  if (!(limit >= 0 && limit <= <f64>MAX_LIMIT && limit == Math.floor(limit))) return -ERR_ARGUMENT;
  if (!(windowMs >= 0 && isFinite<f64>(windowMs))) return -ERR_ARGUMENT;
  if (limit == 0 && windowMs == 0) return -ERR_ARGUMENT;
  if (!(alpha > 0 && alpha <= 1)) return -ERR_ARGUMENT;
  const w = new Window();
  w.limit = limit > 0 ? <u32>limit : DEFAULT_TIME_LIMIT;
  w.fLimit = <f64>w.limit;
  w.invLimit = 1 / w.fLimit;
  w.windowMs = windowMs;
  w.alpha = alpha;
  // A small window gets its final buffers now; a bigger one grows on demand.
  if (windowMs > 0) allocRings(w, w.limit <= 64 ? <u32>1 << (32 - clz<u32>(w.limit - 1)) : FIRST_CAP);
  else blockResize(w, min<u32>(w.limit, 64));
  return handles.claim(changetype<usize>(w));
}

/** Adds one sample. `timeMs` is used by time windows only. */
export function statsAdd(h: i32, value: f64, timeMs: f64): i32 {
  const w = lookup(h);
  if (!w) return ERR_NOT_FOUND;
  if (!isFinite<f64>(value)) return ERR_ARGUMENT;
  if (w.times) {
    if (!isFinite<f64>(timeMs)) return ERR_ARGUMENT;
    timedAdd(w, value, timeMs);
    timedPublish(w);
  } else {
    // The path of a reader that reads after every sample: one step and one combination.
    countAddPublish(w, value);
  }
  return OK;
}

/**
 * Adds `count` samples in order from the input region: `count` f64 values, then (when
 * `withTimes`, time windows only) `count` f64 times; otherwise every sample takes `timeMs`.
 * Checks the whole batch first, so a bad value leaves the window untouched.
 */
export function statsAddMany(h: i32, count: i32, timeMs: f64, withTimes: i32): i32 {
  const w = lookup(h);
  if (!w) return ERR_NOT_FOUND;
  if (count < 0 || count > 0x7ffffff) return ERR_ARGUMENT;
  const timed = w.times != 0 && withTimes != 0;
  const vals = ioInReserve(count << (timed ? 4 : 3));
  const times = vals + (<usize>count << 3);
  if (!allFinite(vals, count)) return ERR_ARGUMENT;
  if (timed) {
    if (!allFinite(times, count)) return ERR_ARGUMENT;
  } else if (w.times && !isFinite<f64>(timeMs)) {
    return ERR_ARGUMENT;
  }
  if (w.times) {
    for (let i = 0; i < count; i++) {
      timedAdd(w, load<f64>(vals + (<usize>i << 3)), timed ? load<f64>(times + (<usize>i << 3)) : timeMs);
    }
  } else {
    countRun(w, vals, count);
  }
  publish(w);
  return OK;
}

/**
 * Whether `count` f64 at `ptr` are all finite. A value is not when its exponent bits are all ones;
 * adding one to the exponent field then carries into the sign bit. Integer ors only, no branch.
 */
function allFinite(ptr: usize, count: i32): bool {
  let bad: u64 = 0;
  for (let i = 0; i < count; i++) {
    bad |= (load<u64>(ptr + (<usize>i << 3)) & 0x7ff0000000000000) + 0x0010000000000000;
  }
  return (bad >> 63) == 0;
}

/**
 * Advances a time window's clock to `nowMs` and drops what aged out; returns how many, or a
 * negated status. A count window has nothing to expire.
 */
export function statsExpire(h: i32, nowMs: f64): i32 {
  const w = lookup(h);
  if (!w) return -ERR_NOT_FOUND;
  if (!isFinite<f64>(nowMs)) return -ERR_ARGUMENT;
  if (!w.times) return 0;
  if (nowMs > w.clock) w.clock = nowMs;
  const dropped = expireTo(w);
  const n = w.tail - w.head;
  if (n) settle(w, (w.s + w.c) / <f64>n);
  timedPublish(w);
  return dropped;
}

/** Empties the window and restarts its EWMA; keeps its options and memory. */
export function statsReset(h: i32): i32 {
  const w = lookup(h);
  if (!w) return ERR_NOT_FOUND;
  w.head = w.tail = 0;
  w.minH = w.minT = w.maxH = w.maxT = 0;
  w.hasBlock = 0;
  blockRestart(w);
  w.k = w.s = w.c = w.m2 = w.err = w.ewma = 0;
  w.clock = -Infinity;
  w.fresh = 1;
  publish(w);
  return OK;
}

export function statsDispose(h: i32): i32 {
  const w = lookup(h);
  if (!w) return ERR_NOT_FOUND;
  freeAll(w);
  heap.free(changetype<usize>(w));
  handles.release(h);
  if (h == memoHandle) {
    memoHandle = 0;
    memoWindow = 0;
  }
  return OK;
}

/**
 * Writes the window's M2 into its published statistics (STATS_RESULT's M2): count windows work
 * it out only when asked (countSpread), so an add pays nothing for it.
 */
export function statsPublishM2(h: i32): i32 {
  const w = lookup(h);
  if (!w) return ERR_NOT_FOUND;
  if (!w.times) countSpread(w);
  return OK;
}

/** Address of the window's 7 published f64 (see the header), or 0 for a bad handle. */
export function statsResultPtr(h: i32): usize {
  const w = lookup(h);
  return w ? changetype<usize>(w) : 0;
}
