// What the bench files share: a seeded generator that prints its seed, per-operation medians
// from tinybench tasks, ratios, the round-robin runner for noisy machines, and the result table.
import { Bench } from "tinybench";
import { mulberry32 } from "../test/support/mulberry32.mjs";

/**
 * mulberry32 (the tests' generator) seeded from TAGWIRE_SEED, else `defaultSeed`. Prints the seed so a run can be
 * replayed. Returns `rand()` in [0, 1) and `pick(xs)`, a uniform element of xs.
 */
export function seededRandom(defaultSeed) {
  const seed = process.env.TAGWIRE_SEED ? Number(process.env.TAGWIRE_SEED) : defaultSeed;
  console.log(`seed ${seed}`);
  const rand = mulberry32(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  return { rand, pick };
}

/** A task's median ns per operation, when each iteration of the task does `batch` operations. */
export const medianNs = (task, batch = 1) => (task.result.latency.p50 * 1e6) / batch;

/** The task whose name starts with `prefix`. */
export const taskNamed = (bench, prefix) => bench.tasks.find((t) => t.name.startsWith(prefix));

/** `a / b` as printed in the tables, e.g. "3.07x". */
export const ratio = (a, b, digits = 2) => `${(a / b).toFixed(digits)}x`;

/** The median of `xs` (the mean of the middle two for an even count). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The machine is shared and noisy: run `rounds` short benches, each timing every task once in
 * turn, and take medians over rounds. `addTasks(bench)` adds the tasks, the anchor first.
 * Returns `rows` for printTable (each task's median ns per operation over rounds) and
 * `speedup(i)`: the median of the per-round ratios anchor / task i, formatted like ratio() (a
 * ratio taken within one round shares that round's noise); `ratioOf(a, b)`: the median of the
 * per-round ratios task a / task b, as a number; `perRound`: each round's ns per operation, in
 * task order.
 */
export async function runRounds({ rounds, batch, time = 400, warmupTime = 100 }, addTasks) {
  const perRound = [];
  let names = [];
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time, warmupTime, throws: true });
    addTasks(bench);
    await bench.run();
    names = bench.tasks.map((t) => t.name);
    perRound.push(bench.tasks.map((t) => medianNs(t, batch)));
  }
  const ratioOf = (a, b) => median(perRound.map((r) => r[a] / r[b]));
  return {
    rows: names.map((task, i) => ({ task, value: median(perRound.map((r) => r[i])) })),
    speedup: (i) => ratio(ratioOf(0, i), 1),
    ratioOf,
    perRound,
  };
}

/**
 * Prints one row per task: its name, its median in `unit` (e.g. "ns/merge") with `digits`
 * decimals, then one column per entry of `columns`, each `(value, index) => cell`.
 */
export function printTable(rows, unit, digits, columns = {}) {
  console.table(
    rows.map(({ task, value }, i) => {
      const row = { task, [`median ${unit}`]: value.toFixed(digits) };
      for (const [name, cell] of Object.entries(columns)) row[name] = cell(value, i);
      return row;
    }),
  );
}

/** The hub benches' message (fan-out, hub-cpu): about 200 bytes of msgpack, numbered by `seq`. */
export function fanoutPayload(seq) {
  return {
    seq,
    agent: "bench-pub",
    sensor: "sensors/temperature/indoor",
    values: [21.5, 21.6, 21.4, 21.7],
    unit: "celsius",
    status: "ok",
    note: "fan-out benchmark payload, padded to about two hundred bytes...........",
  };
}
