// Reading WebSocket frames: ws's own Receiver (the anchor) against readFramesFast
// (bindings/transports/ws-fast-read.ts) in front of it, in one process. Two connected ws sockets
// per side; the same chunk (frames per chunk x payload bytes, masked on the hub's side as a
// client sends them) is handed to each socket's 'data' listeners, as Node's net.Socket would
// hand it; a fresh copy every time, since both unmask in place. Node's own socket read path,
// the same for both, is not in the figure. CPU per message, medians over alternating rounds.
//
// `npm run build` first, then `node bench/ws-read.bench.mjs`.
import { cpus } from "node:os";
import { WebSocket, WebSocketServer } from "ws";
import { readFramesFast } from "../dist/bindings/transports/ws-fast-read.js";

const ROUNDS = 12;
const CHUNKS = 50_000;
/** @type {[side: "hub" | "client", frames: number, bytes: number][]} */
const CASES = [
  ["hub", 1, 60],
  ["hub", 2, 60],
  ["hub", 20, 60],
  ["hub", 1, 1000],
  ["client", 1, 60],
  ["client", 1, 300],
  ["client", 20, 60],
  ["client", 1, 8000],
];

const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
await new Promise((r) => wss.once("listening", r));
const url = `ws://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (wss.address()).port}`;
/** @type {WebSocket[]} */
const accepted = [];
wss.on("connection", (ws) => accepted.push(ws));
const dialed = [new WebSocket(url), new WebSocket(url)];
await Promise.all(dialed.map((c) => new Promise((r) => c.once("open", r))));
while (accepted.length < 2) await new Promise((r) => setTimeout(r, 10));

let got = 0;
const count = () => got++;
for (const ws of [...accepted, ...dialed]) ws.on("message", count);
// The second socket of each side reads through the short cut.
if (!readFramesFast(accepted[1], count) || !readFramesFast(dialed[1], count)) throw new Error("readFramesFast refused a ws socket");

/** One chunk of `frames` binary frames of `size` bytes, masked when the hub reads it. */
function chunkOf(masked, frames, size) {
  const parts = [];
  for (let f = 0; f < frames; f++) {
    const m = masked ? 0x80 : 0;
    parts.push(size < 126 ? Buffer.from([0x82, m | size]) : Buffer.from([0x82, m | 126, size >> 8, size & 0xff]));
    if (masked) parts.push(Buffer.from([0x12, 0x34, 0x56, 0x78]));
    parts.push(Buffer.alloc(size, 0x41 + f));
  }
  return Buffer.concat(parts);
}

/** ns of CPU per message for CHUNKS copies of `template` handed to `ws`'s socket. */
function round(ws, template, frames) {
  const socket = /** @type {any} */ (ws)._socket;
  const g0 = got;
  const c0 = process.cpuUsage();
  for (let i = 0; i < CHUNKS; i++) {
    const chunk = Buffer.allocUnsafe(template.length);
    template.copy(chunk);
    socket.emit("data", chunk);
  }
  const c = process.cpuUsage(c0);
  if (got - g0 !== CHUNKS * frames) throw new Error(`expected ${CHUNKS * frames} messages, got ${got - g0}`);
  return ((c.user + c.system) * 1000) / (CHUNKS * frames);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`ws-read: ${CHUNKS} chunks per round, ${ROUNDS} rounds (first two dropped as warm-up)`);
console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
console.log("side    frames x bytes   ws Receiver   readFramesFast   fast/ws (median of rounds)");
for (const [side, frames, size] of CASES) {
  const [plain, fast] = side === "hub" ? accepted : dialed;
  const template = chunkOf(side === "hub", frames, size);
  const a = [];
  const b = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2) {
      b.push(round(fast, template, frames));
      a.push(round(plain, template, frames));
    } else {
      a.push(round(plain, template, frames));
      b.push(round(fast, template, frames));
    }
  }
  const ratios = a.slice(2).map((x, i) => b[i + 2] / x);
  console.log(
    `${side.padEnd(7)} ${`${frames} x ${size}`.padEnd(15)} ${`${median(a.slice(2)).toFixed(0)} ns`.padStart(11)}   ${`${median(b.slice(2)).toFixed(0)} ns`.padStart(14)}   ${median(ratios).toFixed(2)}`,
  );
}
for (const ws of dialed) ws.terminate();
wss.close();
process.exit(0);
