// Diff: the minimal diff between two 50-key states (3 keys differ each step).
//   JS anchor: json-merge-patch `generate(old, new)` on JS objects.
//   tagwire, the hub's path: the old state already lives in the core and the new state arrives
//     as msgpack bytes, applied with `replace`; the core writes generate_diff(old, new) and the
//     aggregate becomes `new` (ChannelStore.apply, returns a copy of the diff bytes).
//   tagwire, for comparison: core.generateDiff on two JS objects (packs both, builds the old tree,
//     diffs, unpacks the result); reported honestly, it is not the hub's path.
// States rotate over a pre-encoded chain so every step really differs.
// Run `npm run build` first, then `node bench/diff.bench.mjs`. Figures: median ns per diff
// (median over rounds of tinybench's per-round median), ratios = median of per-round ratios.
import { pack, unpack } from "msgpackr";
import jsonMergePatch from "json-merge-patch";
import { createCore } from "../dist/bindings/index.js";
import { printTable, runRounds, seededRandom } from "./common.mjs";

const KEYS = 50;
const STATES = 256;
const BATCH = 20;

const { rand } = seededRandom(777);

const keys = Array.from({ length: KEYS }, (_, i) => `tag_${String(i).padStart(2, "0")}`);
const first = {};
keys.forEach((k, i) => {
  first[k] = i % 5 === 0 ? "ok" : i % 7 === 0 ? true : i % 2 ? Math.round(rand() * 1000) : rand() * 100;
});
const numericKeys = keys.filter((k) => typeof first[k] === "number");
// A cycle of states, each differing from the previous in 3 numeric keys; the last step leads
// back to the first state, so the chain can be replayed forever.
const states = [first];
for (let i = 1; i < STATES; i++) {
  const s = { ...states[i - 1] };
  for (let j = 0; j < 3; j++) s[numericKeys[Math.floor(rand() * numericKeys.length)]] = Math.round(rand() * 100000) / 100;
  states.push(s);
}
const encoded = states.map((s) => pack(s));
console.log(`state ${encoded[0].length} B`);

const core = await createCore();
const store = core.createChannelStore();
const slot = store.open("agent-0001/tag_values");

// Same answers before timing: the store's effective diff equals json-merge-patch's for each step.
store.apply(slot, encoded[0], { replace: true });
for (let i = 1; i <= STATES; i++) {
  const prev = states[i - 1];
  const next = states[i % STATES];
  const got = unpack(store.apply(slot, encoded[i % STATES], { replace: true }).diff);
  const want = jsonMergePatch.generate(prev, next) ?? {};
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`diff mismatch at step ${i}`);
  const viaCodec = core.generateDiff(prev, next);
  if (JSON.stringify(viaCodec) !== JSON.stringify(want)) throw new Error(`codec diff mismatch at step ${i}`);
}
// The store now holds states[0] again.

let jsAt = 0;
let storeAt = 0;
let codecAt = 0;
let sink = 0;
const ROUNDS = 7;
const r = await runRounds({ rounds: ROUNDS, batch: BATCH }, (bench) =>
  bench
    .add("json-merge-patch generate (JS objects)", () => {
      for (let i = 0; i < BATCH; i++) {
        const a = states[jsAt];
        jsAt = (jsAt + 1) % STATES;
        const d = jsonMergePatch.generate(a, states[jsAt]);
        if (d) sink++;
      }
    })
    .add("tagwire store.apply replace (state in core, bytes in)", () => {
      for (let i = 0; i < BATCH; i++) {
        storeAt = (storeAt + 1) % STATES;
        sink += store.apply(slot, encoded[storeAt], { replace: true }).diff.length;
      }
    })
    .add("tagwire core.generateDiff (JS objects in and out)", () => {
      for (let i = 0; i < BATCH; i++) {
        const a = states[codecAt];
        codecAt = (codecAt + 1) % STATES;
        if (core.generateDiff(a, states[codecAt])) sink++;
      }
    }),
);

printTable(r.rows, "ns/diff", 0, { "vs anchor": (_, i) => r.speedup(i) });
console.log(`hub path (store.apply replace) speed-up: ${r.speedup(1)} (target >= 8x; median of ${ROUNDS} rounds)`);
console.log(`core.generateDiff on JS objects: ${r.speedup(2)}`);
if (sink === 0.5) console.log(sink);
