// An application loop: set 50 tags, commit. tagwire's Application over a LocalBus (one write to
// `tag_values` per loop: msgpack out, merge in the core, new version back; the app, the
// channel's only listener, gets no event of its own write, see Session.tryCommitNow) against the
// same loop done with plain JS objects (a pending dict with read-your-writes, merged into a state
// object on commit with an effective diff, no events). The same app with another listener on its
// channel, which gets an event per commit, is printed as well.
// Run `npm run build` first, then `node bench/app-loop.bench.mjs`. Figures are median µs per loop
// (tinybench's per-loop median within a round, then the median over rounds).
//
// Cases: every one of the 50 tags changes each loop (the worst case for a commit), and 5 of 50
// change (the usual telemetry case: most sets are dropped as unchanged before the commit).
//
// The measured form is the one the docs recommend for a main loop, `this.setTagSync(key, value)`
// (synchronous, no promise per tag). `await this.setTag(...)`, the promise-returning form kept
// for compatibility, is printed as well: its cost over the sync form is the 50 awaits per loop.
import { Bench } from "tinybench";
import { Application, LocalBus } from "../dist/bindings/index.js";
import { medianNs, printTable, ratio } from "./common.mjs";

const TAGS = 50;
const KEYS = Array.from({ length: TAGS }, (_, i) => `tag_${i}`);
// V8 state matters here: once any code in the process has frozen and spread an object with these
// 50 keys (the earlier tag layer did so on every loop), both loops run in another shape state
// (plain JS 50 change ~8.1 -> ~6.4 µs, 5 of 50 ~1.3 -> ~1.95 µs, tagwire 50 change ~13.7 ->
// ~12.2 µs). TAGWIRE_SHAPE_WARM=1 puts the process in that state first, to measure both.
if (process.env.TAGWIRE_SHAPE_WARM) {
  const o = {};
  for (const k of KEYS) o[k] = 0.5; // a double, as the loops store
  Object.freeze(o);
  globalThis.__appLoopShape = { ...o };
  console.log("shape state: warmed (TAGWIRE_SHAPE_WARM)");
}

/** The plain-JS equivalent of an app's tag layer. */
class PlainApp {
  constructor(appKey) {
    this.appKey = appKey;
    this.state = { [appKey]: {} };
    this.pending = {};
    this.version = 0;
    this.lastDiff = null;
  }
  getTag(key) {
    return key in this.pending ? this.pending[key] : this.state[this.appKey][key];
  }
  setTag(key, value) {
    if (this.getTag(key) === value) return;
    this.pending[key] = value;
  }
  commit() {
    const cur = this.state[this.appKey];
    const diff = {};
    let changed = false;
    for (const k in this.pending) {
      const v = this.pending[k];
      if (cur[k] !== v) {
        cur[k] = v;
        diff[k] = v;
        changed = true;
      }
    }
    this.pending = {};
    if (changed) {
      this.version++;
      this.lastDiff = { [this.appKey]: diff };
    }
  }
}

let loop = 0;
/** Values for loop n: all 50 change, or only the first `changing` of them. */
const valueAt = (i, n, changing) => (i < changing ? n * 0.5 + i : i);

function plainLoop(app, changing) {
  const n = ++loop;
  for (let i = 0; i < TAGS; i++) app.setTag(KEYS[i], valueAt(i, n, changing));
  app.commit();
}

function tagwireApp(bus, agentId, changing, awaited) {
  class Loop extends Application {
    async mainLoop() {
      const n = ++loop;
      for (let i = 0; i < TAGS; i++) this.setTagSync(KEYS[i], valueAt(i, n, changing));
    }
  }
  class AwaitLoop extends Application {
    async mainLoop() {
      const n = ++loop;
      for (let i = 0; i < TAGS; i++) await this.setTag(KEYS[i], valueAt(i, n, changing));
    }
  }
  return new (awaited ? AwaitLoop : Loop)({ agent: bus.agent(agentId), appKey: "app" });
}

// The machine is shared, and other processes' load comes and goes in phases of seconds that
// slow any loop here by up to ~1.8x (the plain loop alone, in a process running no tagwire code,
// swings between ~1.25 and ~2.5 µs for 5 of 50 from one 0.1 s round to the next). A run of
// seconds per task therefore compared tagwire in one phase with the anchor in another. So the
// tasks run in short rounds, each round one tinybench of every task in turn with the anchor
// measured just before AND just after each tagwire task; a round's ratio divides tagwire's figure
// by the FASTER of those two (noise that slows the anchor alone cannot make tagwire look better,
// noise that slows tagwire alone can only hurt it). The printed ratio is the median of the
// per-round ratios, with their quartiles.
//
// The anchor also runs alone first, before any tagwire code has run (the plain loop's speed once
// depended on the heap and shape state other code left, see TAGWIRE_SHAPE_WARM): printed as a
// cross-phase check.
const ROUNDS = Number(process.env.TAGWIRE_APP_LOOP_ROUNDS ?? 30);
const roundBench = () => new Bench({ time: 40, warmupTime: 10, throws: true });
const us = (t) => medianNs(t) / 1000;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quartiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor((s.length - 1) / 4)].toFixed(2)}–${s[Math.ceil((3 * (s.length - 1)) / 4)].toFixed(2)}`;
};

/** Runs `count` rounds of `tasks` ([name, fn]); returns each task's per-round medians (µs). */
async function rounds(count, tasks) {
  const perTask = tasks.map(() => []);
  for (let r = 0; r < count; r++) {
    const bench = roundBench();
    for (const [name, fn] of tasks) bench.add(name, fn);
    await bench.run();
    for (const [i, t] of bench.tasks.entries()) perTask[i].push(us(t));
  }
  return perTask;
}

const soloAll = new PlainApp("app");
const soloFew = new PlainApp("app");
const [aloneAll, aloneFew] = await rounds(Math.ceil(ROUNDS / 2), [
  ["plain JS alone: 50 tags change, commit", () => plainLoop(soloAll, TAGS)],
  ["plain JS alone: 5 of 50 change, commit", () => plainLoop(soloFew, 5)],
]);

const bus = await LocalBus.create();
const all = tagwireApp(bus, "dev-all", TAGS, false);
const few = tagwireApp(bus, "dev-few", 5, false);
const allAwait = tagwireApp(bus, "dev-all-await", TAGS, true);
const fewAwait = tagwireApp(bus, "dev-few-await", 5, true);
// The headline app is its channel's only listener, so its commit makes no event at all. A real
// deployment may have another (a bridge, a UI) reading each change: this one shows that cost.
const fewWatched = tagwireApp(bus, "dev-few-watched", 5, false);
let watchedKeys = 0;
bus.agent("viewer").subscribe(
  "tag_values",
  (e) => {
    if (e.type === "aggregate") watchedKeys += Object.keys(/** @type {{ app: object }} */ (e.diff).app).length;
  },
  { agentId: "dev-few-watched" },
);
for (const app of [all, few, allAwait, fewAwait, fewWatched]) await app.step();
const plainAll = new PlainApp("app");
const plainFew = new PlainApp("app");
const anchorAll = () => plainLoop(plainAll, TAGS);
const anchorFew = () => plainLoop(plainFew, 5);

const [pAll, tAll, pAll2, aAll, pAll3, pFew, tFew, pFew2, aFew, pFew3, wFew, pFew4] = await rounds(ROUNDS, [
  ["plain JS: 50 tags change, commit", anchorAll],
  ["tagwire: 50 tags change, step()", () => all.step()],
  ["plain JS: 50 tags change, commit (after)", anchorAll],
  ["tagwire, await setTag: 50 tags change, step()", () => allAwait.step()],
  ["plain JS: 50 tags change, commit (after await)", anchorAll],
  ["plain JS: 5 of 50 change, commit", anchorFew],
  ["tagwire: 5 of 50 change, step()", () => few.step()],
  ["plain JS: 5 of 50 change, commit (after)", anchorFew],
  ["tagwire, await setTag: 5 of 50 change, step()", () => fewAwait.step()],
  ["plain JS: 5 of 50 change, commit (after await)", anchorFew],
  ["tagwire, another listener reading each diff: 5 of 50 change, step()", () => fewWatched.step()],
  ["plain JS: 5 of 50 change, commit (after the watched app)", anchorFew],
]);

/** Per-round ratios of `task` to the faster of the anchor rounds just before and after it. */
const perRound = (task, before, after) => task.map((t, i) => t / Math.min(before[i], after[i]));
const anchorAllRounds = pAll.map((p, i) => Math.min(p, pAll2[i], pAll3[i]));
const anchorFewRounds = pFew.map((p, i) => Math.min(p, pFew2[i], pFew3[i]));
printTable(
  [
    { task: "plain JS alone: 50 tags change, commit", value: median(aloneAll) },
    { task: "plain JS alone: 5 of 50 change, commit", value: median(aloneFew) },
    { task: "plain JS: 50 tags change, commit (each round's fastest)", value: median(anchorAllRounds) },
    { task: "tagwire: 50 tags change, step()", value: median(tAll) },
    { task: "tagwire, await setTag: 50 tags change, step()", value: median(aAll) },
    { task: "plain JS: 5 of 50 change, commit (each round's fastest)", value: median(anchorFewRounds) },
    { task: "tagwire: 5 of 50 change, step()", value: median(tFew) },
    { task: "tagwire, await setTag: 5 of 50 change, step()", value: median(aFew) },
    { task: "tagwire, another listener reading each diff: 5 of 50 change, step()", value: median(wFew) },
  ],
  "µs/loop",
  2,
  { rounds: (_, i) => (i < 2 ? aloneAll.length : ROUNDS) },
);
const cross = [];
for (const [label, t, a, p, p2, p3, anchor, alone] of [
  ["50 tags change", tAll, aAll, pAll, pAll2, pAll3, anchorAllRounds, aloneAll],
  ["5 of 50 change", tFew, aFew, pFew, pFew2, pFew3, anchorFewRounds, aloneFew],
]) {
  const r = perRound(t, p, p2);
  console.log(
    `${label}: tagwire ${median(t).toFixed(2)} µs vs plain JS ${median(anchor).toFixed(2)} µs -> tagwire costs ${ratio(median(r), 1, 1)} ` +
      `(median of ${r.length} rounds' ratios, quartiles ${quartiles(r)}); with await setTag ${ratio(median(perRound(a, p2, p3)), 1, 1)}`,
  );
  cross.push(`${label} ${median(alone).toFixed(2)} µs (tagwire's median over it ${ratio(median(t), median(alone), 2)})`);
}
console.log(
  `5 of 50 change, another listener on the channel reading each diff: tagwire costs ${ratio(median(perRound(wFew, pFew3, pFew4)), 1, 1)} ` +
    `(not the target's case: the plain loop makes no events)`,
);
if (watchedKeys === 0) throw new Error("the other listener saw no change");
// Not a side-by-side figure: the two phases run seconds apart, so a change in the machine's load
// between them shows here as well as a change in the anchor's state.
console.log(`cross-phase check, the anchor alone before any tagwire code ran: ${cross.join(", ")}`);
// Sanity: what the bus holds is what the app reads back, all 50 tags.
const stored = /** @type {{ app: Record<string, unknown> }} */ (await bus.agent("x").getAggregate("tag_values", { agentId: "dev-all" }))
  .app;
if (Object.keys(stored).length !== TAGS || KEYS.some((k) => stored[k] !== all.getTag(k))) throw new Error("tagwire state is wrong");
for (const app of [all, few, allAwait, fewAwait, fewWatched]) await app.stop();
await bus.close();
