// Merge: a 3-key msgpack diff into a 50-key aggregate, the hub's publish path.
//   JS anchor: msgpackr `unpack` of the diff + json-merge-patch `apply` into a JS object.
//   tagwire:   ChannelStore.apply (bytes in, the aggregate already in the core; returns the
//              version and a copy of the effective diff), plus the in-core step alone.
// Diffs rotate over a pre-encoded set so every apply really changes the aggregate.
// Run `npm run build` first, then `node bench/merge.bench.mjs`. Figures: median ns per merge
// (median over rounds of tinybench's per-round median), ratios = median of per-round ratios.
import { pack, unpack } from "msgpackr";
import jsonMergePatch from "json-merge-patch";
import { createCore } from "../dist/bindings/index.js";
import { printTable, runRounds, seededRandom } from "./common.mjs";

const KEYS = 50;
const DIFFS = 1024;
const BATCH = 100;

const { rand } = seededRandom(4242);

// A telemetry-like aggregate: numbers (ints and floats), short strings, booleans.
const keys = Array.from({ length: KEYS }, (_, i) => `tag_${String(i).padStart(2, "0")}`);
const initial = {};
keys.forEach((k, i) => {
  initial[k] = i % 5 === 0 ? "ok" : i % 7 === 0 ? true : i % 2 ? Math.round(rand() * 1000) : rand() * 100;
});
const numericKeys = keys.filter((k) => typeof initial[k] === "number");
const diffs = Array.from({ length: DIFFS }, (_, i) => {
  const d = {};
  for (let j = 0; j < 3; j++) d[numericKeys[(i * 3 + j) % numericKeys.length]] = Math.round(rand() * 100000) / 100;
  return pack(d);
});
console.log(`aggregate ${pack(initial).length} B, diff ~${diffs[0].length} B`);

const core = await createCore();
const store = core.createChannelStore();
const slot = store.open("agent-0001/tag_values");
store.apply(slot, pack(initial), { replace: true });

// JS side state.
const target = structuredClone(initial);

// Same results on both sides before timing.
{
  const js = structuredClone(initial);
  const s2 = core.createChannelStore();
  const c2 = s2.open("check");
  s2.apply(c2, pack(initial), { replace: true });
  for (const d of diffs) {
    jsonMergePatch.apply(js, unpack(d));
    s2.apply(c2, d);
  }
  const got = s2.getValue(c2);
  if (JSON.stringify(got) !== JSON.stringify(js)) throw new Error("store and json-merge-patch disagree");
  s2.dispose();
}

let at = 0;
let sink = 0;
const ex = core.instance.exports;
const resultPtr = ex.storeResultPtr();
const handle = store.handle; // private in TS; used here to time the core step alone
let u8, f64;
const refresh = () => {
  u8 = new Uint8Array(ex.memory.buffer);
  f64 = new Float64Array(ex.memory.buffer);
};
refresh();
const ROUNDS = 7;
const r = await runRounds({ rounds: ROUNDS, batch: BATCH }, (bench) =>
  bench
    .add("msgpackr unpack + json-merge-patch apply", () => {
      for (let i = 0; i < BATCH; i++) {
        jsonMergePatch.apply(target, unpack(diffs[(at + i) & (DIFFS - 1)]));
      }
      at = (at + BATCH) & (DIFFS - 1);
    })
    .add("tagwire store.apply (bytes in, effective diff copy out)", () => {
      for (let i = 0; i < BATCH; i++) {
        sink += store.apply(slot, diffs[(at + i) & (DIFFS - 1)]).version;
      }
      at = (at + BATCH) & (DIFFS - 1);
    })
    .add("tagwire store.applyView (bytes in, effective diff left in place)", () => {
      for (let i = 0; i < BATCH; i++) {
        sink += store.applyView(slot, diffs[(at + i) & (DIFFS - 1)]).version;
      }
      at = (at + BATCH) & (DIFFS - 1);
    })
    .add("tagwire in-core merge only (write in, storeApply, read version)", () => {
      for (let i = 0; i < BATCH; i++) {
        const d = diffs[(at + i) & (DIFFS - 1)];
        const ptr = ex.ioInReserve(d.length);
        if (u8.length === 0) refresh();
        u8.set(d, ptr);
        ex.storeApply(handle, slot, d.length, 1, 0);
        if (u8.length === 0) refresh();
        sink += f64[resultPtr >>> 3];
      }
      at = (at + BATCH) & (DIFFS - 1);
    }),
);

printTable(r.rows, "ns/merge", 1, { "vs anchor": (_, i) => r.speedup(i) });
console.log(`store.apply speed-up over the JS anchor: ${r.speedup(1)} (target >= 3x; median of ${ROUNDS} rounds)`);
console.log(`store.applyView speed-up over the JS anchor: ${r.speedup(2)} (target >= 3x)`);
console.log(`in-core merge speed-up: ${r.speedup(3)}`);
if (sink === 0.5) console.log(sink);
