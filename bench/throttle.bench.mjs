// Throttles: tagwire's batched, id-based checks vs plain JavaScript.
// Run `npm run build` first, then `node bench/throttle.bench.mjs`. Each task iteration checks
// BATCH (key, time) or (key, value) pairs from a pre-generated stream; figures are median ns per
// check.
//
// Rate limiter (200 keys, minIntervalMs 100, the clock moves 25 ms per batch; ~5% of checks pass):
//   JS anchors: a Map keyed by the key string (what an app writes), a Map keyed by integer id,
//   and a Float64Array indexed by id (the best JS layout).
// Change filter (50 keys, random walks, threshold 0.5; ~9% of values pass):
//   JS anchors: a Map keyed by the key string, and typed arrays indexed by id.
// tagwire: checkMany() over a Uint32Array of ids (one crossing per batch), plus check() one at a
// time for scale (a crossing per check).
import { Bench } from "tinybench";
import { createCore } from "../dist/bindings/index.js";
import { medianNs, printTable, ratio, seededRandom } from "./common.mjs";

const BATCH = 1000;
const STREAM = 1 << 16;
const RATE_KEYS = 200;
const MIN_INTERVAL_MS = 100;
const CHANGE_KEYS = 50;
const THRESHOLD = 0.5;

const { rand } = seededRandom(12345);

// Streams: key ids, their names, and per-batch times (rate) or values (change).
const rateNames = Array.from({ length: RATE_KEYS }, (_, i) => `device-${i}/temperature`);
const rateIds = new Uint32Array(STREAM).map(() => Math.floor(rand() * RATE_KEYS));
const rateKeys = Array.from(rateIds, (id) => rateNames[id]);
const changeNames = Array.from({ length: CHANGE_KEYS }, (_, i) => `tag_${i}`);
const changeIds = new Uint32Array(STREAM).map(() => Math.floor(rand() * CHANGE_KEYS));
const changeKeys = Array.from(changeIds, (id) => changeNames[id]);
const level = new Float64Array(CHANGE_KEYS);
const changeValues = new Float64Array(STREAM).map((_, i) => (level[changeIds[i]] += (rand() - 0.5) * 0.6));

const core = await createCore();

// ---- rate limiter implementations ----
function jsRateMap() {
  const last = new Map();
  return (key, now) => {
    const t = last.get(key);
    if (t === undefined || now - t >= MIN_INTERVAL_MS) {
      last.set(key, now);
      return true;
    }
    return false;
  };
}
function jsRateTyped() {
  const last = new Float64Array(RATE_KEYS).fill(-Infinity);
  return (id, now) => {
    if (now - last[id] >= MIN_INTERVAL_MS) {
      last[id] = now;
      return true;
    }
    return false;
  };
}

// ---- change filter implementations ----
function jsChangeMap() {
  const last = new Map();
  return (key, v) => {
    const l = last.get(key);
    if (l === undefined || (v !== l && Math.abs(v - l) >= THRESHOLD)) {
      last.set(key, v);
      return true;
    }
    return false;
  };
}
function jsChangeTyped() {
  const last = new Float64Array(CHANGE_KEYS).fill(NaN);
  return (id, v) => {
    const l = last[id];
    const d = Math.abs(v - l);
    // biome-ignore lint/suspicious/noSelfCompare: the JS anchor's NaN test (no key seen yet), kept as measured
    if (l !== l || (d > 0 && d >= THRESHOLD)) {
      last[id] = v;
      return true;
    }
    return false;
  };
}

// Same answers over a whole stream pass before timing anything.
{
  const a = jsRateMap();
  const b = jsRateTyped();
  const rl = core.createRateLimiter({ minIntervalMs: MIN_INTERVAL_MS });
  const out = new Uint8Array(BATCH);
  let passed = 0;
  for (let from = 0, now = 0; from < STREAM; from += BATCH, now += 25) {
    const n = Math.min(BATCH, STREAM - from);
    rl.checkMany(rateIds.subarray(from, from + n), now, out);
    for (let i = 0; i < n; i++) {
      const want = a(rateKeys[from + i], now);
      if (want !== b(rateIds[from + i], now) || want !== (out[i] === 1)) throw new Error(`rate mismatch at ${from + i}`);
      passed += want ? 1 : 0;
    }
  }
  console.log(`rate limiter: ${((100 * passed) / STREAM).toFixed(0)}% of checks pass`);
  const c = jsChangeMap();
  const d = jsChangeTyped();
  const cf = core.createChangeFilter({ threshold: THRESHOLD });
  passed = 0;
  for (let from = 0; from < STREAM; from += BATCH) {
    const n = Math.min(BATCH, STREAM - from);
    cf.checkMany(changeIds.subarray(from, from + n), changeValues.subarray(from, from + n), out);
    for (let i = 0; i < n; i++) {
      const want = c(changeKeys[from + i], changeValues[from + i]);
      if (want !== d(changeIds[from + i], changeValues[from + i]) || want !== (out[i] === 1)) {
        throw new Error(`change mismatch at ${from + i}`);
      }
      passed += want ? 1 : 0;
    }
  }
  console.log(`change filter: ${((100 * passed) / STREAM).toFixed(0)}% of values pass`);
}

let sink = 0;
const out = new Uint8Array(BATCH);
/** Each task walks the stream in BATCH steps with its own clock. */
function cursor() {
  let at = 0;
  let now = 0;
  return () => {
    if (at + BATCH > STREAM) at = 0;
    const from = at;
    at += BATCH;
    now += 25;
    return [from, now];
  };
}

function rateTasks(bench) {
  const mapCheck = jsRateMap();
  const mapIdCheck = jsRateMap();
  const typedCheck = jsRateTyped();
  const batched = core.createRateLimiter({ minIntervalMs: MIN_INTERVAL_MS });
  const single = core.createRateLimiter({ minIntervalMs: MIN_INTERVAL_MS });
  const singleStr = core.createRateLimiter({ minIntervalMs: MIN_INTERVAL_MS });
  const c = Array.from({ length: 7 }, cursor);
  return bench
    .add("rate: JS Map by key string", () => {
      const [from, now] = c[0]();
      for (let i = from; i < from + BATCH; i++) sink += mapCheck(rateKeys[i], now) ? 1 : 0;
    })
    .add("rate: JS Map by id", () => {
      const [from, now] = c[1]();
      for (let i = from; i < from + BATCH; i++) sink += mapIdCheck(rateIds[i], now) ? 1 : 0;
    })
    .add("rate: JS Float64Array by id", () => {
      const [from, now] = c[2]();
      for (let i = from; i < from + BATCH; i++) sink += typedCheck(rateIds[i], now) ? 1 : 0;
    })
    .add("rate: tagwire checkMany(ids)", () => {
      const [from, now] = c[3]();
      sink += batched.checkMany(rateIds.subarray(from, from + BATCH), now, out);
    })
    .add("rate: tagwire check(id) one by one", () => {
      const [from, now] = c[4]();
      for (let i = from; i < from + BATCH; i++) sink += single.check(rateIds[i], now) ? 1 : 0;
    })
    .add("rate: tagwire check(string) one by one", () => {
      const [from, now] = c[5]();
      for (let i = from; i < from + BATCH; i++) sink += singleStr.check(rateKeys[i], now) ? 1 : 0;
    });
}

function changeTasks(bench) {
  const mapCheck = jsChangeMap();
  const typedCheck = jsChangeTyped();
  const batched = core.createChangeFilter({ threshold: THRESHOLD });
  const single = core.createChangeFilter({ threshold: THRESHOLD });
  const c = Array.from({ length: 4 }, cursor);
  return bench
    .add("change: JS Map by key string", () => {
      const [from] = c[0]();
      for (let i = from; i < from + BATCH; i++) sink += mapCheck(changeKeys[i], changeValues[i]) ? 1 : 0;
    })
    .add("change: JS typed arrays by id", () => {
      const [from] = c[1]();
      for (let i = from; i < from + BATCH; i++) sink += typedCheck(changeIds[i], changeValues[i]) ? 1 : 0;
    })
    .add("change: tagwire checkMany(ids, values)", () => {
      const [from] = c[2]();
      sink += batched.checkMany(changeIds.subarray(from, from + BATCH), changeValues.subarray(from, from + BATCH), out);
    })
    .add("change: tagwire check(id) one by one", () => {
      const [from] = c[3]();
      for (let i = from; i < from + BATCH; i++) sink += single.check(changeIds[i], changeValues[i]) ? 1 : 0;
    });
}

const rate = rateTasks(new Bench({ time: 2000, warmupTime: 400, throws: true }));
const change = changeTasks(new Bench({ time: 2000, warmupTime: 400, throws: true }));
await rate.run();
await change.run();

const perOp = (task) => medianNs(task, BATCH);
function report(bench, anchors) {
  const columns = {};
  for (const name of anchors) {
    const base = perOp(bench.tasks.find((t) => t.name === name));
    columns[`${name.split(": ")[1]} / this`] = (ns) => ratio(base, ns);
  }
  printTable(
    bench.tasks.map((t) => ({ task: t.name, value: perOp(t) })),
    "ns/check",
    2,
    columns,
  );
}
report(rate, ["rate: JS Map by key string", "rate: JS Float64Array by id"]);
report(change, ["change: JS Map by key string", "change: JS typed arrays by id"]);
console.log(`(sink ${sink % 10})`);
