// Router: qlobber (the JS anchor) vs the tagwire core router, 10,000 subscriptions over 1,000
// agents (exact, "+" and "#" patterns), routing keys `${agentId}/${channel}`.
// Also measures the JS -> wasm call itself. Run `npm run build` first, then
// `node bench/router.bench.mjs`. Each task iteration does a batch of matches; figures are the
// median ns per match (or per call).
import { Bench } from "tinybench";
import qlobber from "qlobber";
import { createCore } from "../dist/bindings/index.js";
import { medianNs, printTable, ratio, seededRandom, taskNamed } from "./common.mjs";

const AGENTS = 1000;
const SUBSCRIPTIONS = 10_000;
const CHANNELS = 1000; // distinct routing keys matched, cycled through
const BATCH = 1000;

const { rand, pick } = seededRandom(12345);

const agents = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i).padStart(4, "0")}`);
const vocab = [
  ["sensors", "tag_values", "ui_state", "ui_cmds", "notifications", "status", "config", "location"],
  ["temperature", "humidity", "pressure", "power", "door", "pump.1", "battery", "signal"],
  ["indoor", "outdoor", "min", "max"],
];
function channel() {
  const depth = 1 + Math.floor(rand() * 3);
  const levels = [];
  for (let d = 0; d < depth; d++) levels.push(pick(vocab[d]));
  return levels.join("/");
}

// Subscriptions: mostly per-agent (a dashboard or app watching one device), some fleet-wide.
/** @type {[string, number][]} */
const subs = [];
for (let i = 0; i < SUBSCRIPTIONS; i++) {
  const id = Math.floor(rand() * 2000);
  const r = rand();
  let p;
  if (r < 0.65) p = `${pick(agents)}/${channel()}`;
  else if (r < 0.85) p = `${pick(agents)}/${rand() < 0.3 ? "#" : pick(vocab[0]) + "/#"}`;
  else if (r < 0.99) p = `+/${channel()}`;
  else p = `+/${pick(vocab[0])}/#`;
  subs.push([p, id]);
}
const keys = Array.from({ length: CHANNELS }, () => `${pick(agents)}/${channel()}`);

const q = new qlobber.Qlobber({ separator: "/", wildcard_one: "+", wildcard_some: "#", match_empty_levels: true });
const core = await createCore();
const router = core.createRouter();
for (const [p, id] of subs) {
  q.add(p, id);
  router.subscribe(p, id);
}
const ids = keys.map((k) => router.channelId(k));

// Same answers, and the fan-out the figures are for.
let fanOut = 0;
for (const k of keys) {
  const want = [...new Set(q.match(k))].sort((a, b) => a - b);
  const got = router.matchArray(k);
  if (JSON.stringify(want) !== JSON.stringify(got)) throw new Error(`mismatch on ${k}`);
  fanOut += want.length;
}
console.log(`${router.subscriptionCount} subscriptions, ${CHANNELS} channels, mean fan-out ${(fanOut / CHANNELS).toFixed(1)}`);

let sink = 0;
let at = 0;
const bench = new Bench({ time: 2500, warmupTime: 500, throws: true });
bench
  .add("qlobber match", () => {
    for (let i = 0; i < BATCH; i++) sink += q.match(keys[(at + i) % CHANNELS]).length;
    at = (at + 7) % CHANNELS;
  })
  .add("tagwire match(string)", () => {
    for (let i = 0; i < BATCH; i++) sink += router.match(keys[(at + i) % CHANNELS]).length;
    at = (at + 7) % CHANNELS;
  })
  .add("tagwire matchId(id)", () => {
    for (let i = 0; i < BATCH; i++) sink += router.matchId(ids[(at + i) % CHANNELS]).length;
    at = (at + 7) % CHANNELS;
  })
  .add("tagwire matchId(id), cold (cache just invalidated)", () => {
    // One change invalidates every cached result, so each of the BATCH distinct channels is
    // computed by walking the trie. Includes one subscribe + unsubscribe per batch.
    router.subscribe("bench/invalidate", 0);
    router.unsubscribe("bench/invalidate", 0);
    for (let i = 0; i < BATCH; i++) sink += router.matchId(ids[(at + i) % CHANNELS]).length;
    at = (at + 7) % CHANNELS;
  })
  .add("qlobber match (again, noise check)", () => {
    for (let i = 0; i < BATCH; i++) sink += q.match(keys[(at + i) % CHANNELS]).length;
    at = (at + 7) % CHANNELS;
  })
  .add("qlobber match, fresh key strings", () => {
    for (let i = 0; i < BATCH; i++) {
      const k = keys[(at + i) % CHANNELS];
      sink += q.match(k.slice(0, 10) + k.slice(10)).length;
    }
    at = (at + 7) % CHANNELS;
  })
  .add("tagwire match(string), fresh key strings", () => {
    for (let i = 0; i < BATCH; i++) {
      const k = keys[(at + i) % CHANNELS];
      sink += router.match(k.slice(0, 10) + k.slice(10)).length;
    }
    at = (at + 7) % CHANNELS;
  });

// The boundary itself: a call with no arguments, and one with a handle lookup.
const ex = core.instance.exports;
const crossing = new Bench({ time: 1000, warmupTime: 200, throws: true });
crossing
  .add("wasm call, no arguments (ioInPtr)", () => {
    for (let i = 0; i < BATCH; i++) sink += ex.ioInPtr();
  })
  .add("wasm call, one argument (routerSubscriptionCount)", () => {
    for (let i = 0; i < BATCH; i++) sink += ex.routerSubscriptionCount(1);
  });

// Hundreds of subscribers per channel: dashboards subscribing with "+" across a fleet (issue 13).
// 400 viewers each watch "+/tag_values" or "+/#"-style patterns, plus a few per-device ones, so
// every routing key has 200-400 subscribers. match(string) returns a view of the core's cached
// list; qlobber builds an array of that size per call.
const WIDE_VIEWERS = 400;
const wideQ = new qlobber.Qlobber({ separator: "/", wildcard_one: "+", wildcard_some: "#", match_empty_levels: true });
const wide = core.createRouter();
const widePatterns = ["+/tag_values", "+/#", "+/tag_values/#", "+/+"];
for (let v = 0; v < WIDE_VIEWERS; v++) {
  const p = widePatterns[v % widePatterns.length];
  const id = 10_000 + v;
  wideQ.add(p, id);
  wide.subscribe(p, id);
}
for (let i = 0; i < 2000; i++) {
  const p = `${pick(agents)}/tag_values`;
  const id = Math.floor(rand() * 2000);
  wideQ.add(p, id);
  wide.subscribe(p, id);
}
const wideKeys = agents.map((a) => `${a}/tag_values`);
let wideFan = 0;
for (const k of wideKeys) {
  const want = [...new Set(wideQ.match(k))].sort((a, b) => a - b);
  if (JSON.stringify(want) !== JSON.stringify(wide.matchArray(k))) throw new Error(`wide mismatch on ${k}`);
  wideFan += want.length;
}
console.log(
  `wide fan-out: ${wide.subscriptionCount} subscriptions, ${wideKeys.length} channels, mean fan-out ${(wideFan / wideKeys.length).toFixed(1)}`,
);
const WIDE_BATCH = 200;
const wideBench = new Bench({ time: 2500, warmupTime: 500, throws: true });
let wat = 0;
wideBench
  .add("wide: qlobber match", () => {
    for (let i = 0; i < WIDE_BATCH; i++) sink += wideQ.match(wideKeys[(wat + i) % AGENTS]).length;
    wat = (wat + 7) % AGENTS;
  })
  .add("wide: tagwire match(string), view", () => {
    for (let i = 0; i < WIDE_BATCH; i++) sink += wide.match(wideKeys[(wat + i) % AGENTS]).length;
    wat = (wat + 7) % AGENTS;
  })
  .add("wide: qlobber match, every id read", () => {
    let acc = 0;
    for (let i = 0; i < WIDE_BATCH; i++) {
      const ids = wideQ.match(wideKeys[(wat + i) % AGENTS]);
      for (let j = 0; j < ids.length; j++) acc += ids[j];
    }
    sink += acc;
    wat = (wat + 7) % AGENTS;
  })
  .add("wide: tagwire match(string), view, every id read", () => {
    let acc = 0;
    for (let i = 0; i < WIDE_BATCH; i++) {
      const ids = wide.match(wideKeys[(wat + i) % AGENTS]);
      for (let j = 0; j < ids.length; j++) acc += ids[j];
    }
    sink += acc;
    wat = (wat + 7) % AGENTS;
  })
  .add("wide: tagwire matchArray(string), fresh array", () => {
    for (let i = 0; i < WIDE_BATCH; i++) sink += wide.matchArray(wideKeys[(wat + i) % AGENTS]).length;
    wat = (wat + 7) % AGENTS;
  })
  .add("wide: qlobber match (again, noise check)", () => {
    for (let i = 0; i < WIDE_BATCH; i++) sink += wideQ.match(wideKeys[(wat + i) % AGENTS]).length;
    wat = (wat + 7) % AGENTS;
  });

await bench.run();
await crossing.run();
await wideBench.run();

const perOp = (task) => medianNs(task, BATCH);
// The anchor runs twice (first and middle); the faster median is the base, so a noisy anchor
// run can only make tagwire's ratios look worse, never better.
const base = Math.min(perOp(bench.tasks[0]), perOp(taskNamed(bench, "qlobber match (again")));
const fresh = bench.tasks.find((t) => t.name === "qlobber match, fresh key strings");
const freshT = bench.tasks.find((t) => t.name === "tagwire match(string), fresh key strings");
printTable(
  [...bench.tasks, ...crossing.tasks].map((t) => ({ task: t.name, value: perOp(t) })),
  "ns/op",
  1,
  {
    "qlobber match / this": (ns, i) => (i < bench.tasks.length ? ratio(base, ns) : ""),
  },
);
console.log(`base: qlobber match median ${base.toFixed(1)} ns (faster of its two runs)`);
console.log(`fresh strings: tagwire ${ratio(perOp(fresh), perOp(freshT))} qlobber`);
const best = bench.tasks
  .filter((t) => t.name.startsWith("tagwire"))
  .filter((t) => base / perOp(t) >= 8)
  .map((t) => t.name);
console.log(`target >= 8x qlobber match: ${best.length ? "met by " + best.join(", ") : "NOT met"}`);
const wideOp = (task) => medianNs(task, WIDE_BATCH);
const wideBase = Math.min(wideOp(wideBench.tasks[0]), wideOp(taskNamed(wideBench, "wide: qlobber match (again")));
printTable(
  wideBench.tasks.map((t) => ({ task: t.name, value: wideOp(t) })),
  "ns/op",
  1,
  {
    "qlobber match / this": (ns) => ratio(wideBase, ns),
  },
);
const wideView = wideOp(taskNamed(wideBench, "wide: tagwire match(string), view"));
console.log(
  `wide fan-out: tagwire match(string) ${ratio(wideBase, wideView)} qlobber match; target >= 8x ${wideBase / wideView >= 8 ? "met" : "NOT met"}`,
);
const readQ = wideOp(taskNamed(wideBench, "wide: qlobber match, every id read"));
const readT = wideOp(taskNamed(wideBench, "wide: tagwire match(string), view, every id read"));
console.log(`wide fan-out, every id read by the caller: tagwire ${ratio(readQ, readT)} qlobber`);
console.log(`(sink ${sink % 10})`);
