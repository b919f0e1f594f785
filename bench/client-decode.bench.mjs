// The client's decode path: what a subscriber does for every message event it gets, through
// the protocol's reader (bindings/protocol/msgpack-read.ts) and through msgpackr (the JS anchor,
// what the client used before). Run `npm run build` first, then `node bench/client-decode.bench.mjs`.
// Inputs: the fan-out bench's ~200-byte document, and a batch of 50 message events carrying it
// (as the hub sends a subscriber under load), both as Node Buffers (what ws hands over). Figures
// are median ns per document (per event for the batch: the envelope plus its document), over
// rounds that alternate the tasks (runRounds). The batch is also read as inbound.ts reads it
// (readBatch: each event's document left in place and decoded from the batch's bytes).
import { Packr } from "msgpackr";
import { encodeMessageEvent, eventPrefix, joinFrames, decodeBatch, LIMITS } from "../dist/bindings/protocol/frames.js";
import { packr } from "../dist/bindings/protocol/msgpack.js";
import { MessageAt, readBatch, readValue } from "../dist/bindings/protocol/msgpack-read.js";
import { fanoutPayload, printTable, runRounds } from "./common.mjs";

const DOCS = 256;
const EVENTS = 50;
const docs = Array.from({ length: DOCS }, (_, i) => Buffer.from(packr.pack(fanoutPayload(100_000 + i))));
const prefix = eventPrefix(20, "bench-pub", "bench");
const t0 = 1_796_000_000_000;
const batch = Buffer.from(
  joinFrames(
    Array.from({ length: EVENTS }, (_, i) => encodeMessageEvent(prefix, `${(t0 + i).toString(36)}-0123456789abcdef-${i}`, t0 + i, docs[i])),
  ),
);

// Both decoders must read the same values before anything is timed.
const anchor = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: "number", moreTypes: false });
for (const d of docs)
  if (JSON.stringify(readValue(d)) !== JSON.stringify(anchor.unpack(d))) throw new Error("the reader and msgpackr disagree");

let sink = 0;
const eachDoc = (read) => () => {
  for (let i = 0; i < DOCS; i++) sink += read(docs[i]).seq;
};
// The envelope, then every event's document, as inbound.ts and the channel cache do.
const eachBatch = (read) => () => {
  const frames = decodeBatch(batch, LIMITS.maxFramesPerBatch, read);
  for (let i = 0; i < frames.length; i++) sink += read(frames[i][5]).seq;
};
// What inbound.ts does now: message events read with their documents left in place (MessageAt),
// each document decoded from the batch's bytes.
const eachBatchInPlace = () => {
  const frames = decodeBatch(batch, LIMITS.maxFramesPerBatch, readBatch);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (!(f instanceof MessageAt)) throw new Error("a message event was not read in place");
    sink += /** @type {{ seq: number }} */ (readValue(batch, f.start, f.end)).seq;
  }
};
const msgpackr = (b) => anchor.unpack(b);
const reader = (b) => readValue(b);

const docRounds = await runRounds({ rounds: 7, batch: DOCS }, (bench) => {
  bench.add("document: msgpackr unpack (anchor)", eachDoc(msgpackr));
  bench.add("document: protocol reader", eachDoc(reader));
});
const batchRounds = await runRounds({ rounds: 7, batch: EVENTS }, (bench) => {
  bench.add("batch of 50 events + documents: msgpackr (anchor)", eachBatch(msgpackr));
  bench.add("batch of 50 events + documents: protocol reader", eachBatch(reader));
  bench.add("batch of 50 events + documents: protocol reader, in place", eachBatchInPlace);
});
console.log(`document ${docs[0].length} B; batch ${batch.length} B (${EVENTS} events)`);
printTable(docRounds.rows, "ns/document", 0, { "vs msgpackr": (_, i) => docRounds.speedup(i) });
printTable(batchRounds.rows, "ns/event", 0, { "vs msgpackr": (_, i) => batchRounds.speedup(i) });
const faster = docRounds.rows[1].value < docRounds.rows[0].value && batchRounds.rows[1].value < batchRounds.rows[0].value;
// `sink` keeps every decoded value in use (nothing for the engine to drop).
if (!Number.isFinite(sink)) throw new Error("decoded sequence numbers are not numbers");
console.log(`the reader faster than msgpackr on both: ${faster ? "yes" : "no"}`);
