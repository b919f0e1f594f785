// Fan-out over loopback: messages per second delivered to 1, 10 and 100 subscribers, every
// message decoded by its subscriber and checked in sequence (none lost), through
//   tagwire   the hub (dist/hub) over WebSocket; publisher and subscribers are the SDK's
//             RemoteSession (createMessage / subscribe), so the hub stores every message
//             (SQLite, WAL, one group commit per tick) before fanning it out. Twice: with the
//             hub's default durability (every commit fsync'd before its acks leave; durability
//             "auto": on the event loop while the disk is fast, on the thread pool while the loop
//             goes on when it is slow) and with sync NORMAL (no fsync; survives kill -9 of the
//             hub, not an OS crash). Opt-in (name them in TAGWIRE_FANOUT_ONLY): tagwire-inline,
//             SQLite's synchronous=FULL fsync inside COMMIT (the durability before pipelined
//             group commit), and tagwire-pool, the fsync always on the thread pool, for A/B;
//   aedes     Aedes 1.x in Node, mqtt.js clients, QoS 0;
//   mosquitto the local Mosquitto at 127.0.0.1:1883, mqtt.js clients, QoS 0;
//   bare-ws   a `ws` server that only rebroadcasts each message's bytes to every subscriber,
//             sockets corked per event-loop tick: the ceiling (the JS anchor of this bench).
// Payload: a ~200-byte msgpack document with a sequence number; every subscriber unpacks it.
//
// Setup (2 cores): the broker and the publisher share the main process (Mosquitto is its own
// process); all subscribers of a run live in one child process (this file, forked with
// --subscribers) on the other core. Flow control is closed-loop and the same for all: the
// publisher stays at most a window of messages ahead of the slowest subscriber (4000, or fewer
// so that at most 120,000 deliveries are in flight; the child reports progress every 2 ms over
// IPC), publishes for PUBLISH_MS, then waits until every subscriber has every message.
// Rate = messages x subscribers / (publish + drain time). Every system of a subscriber count is
// set up and warmed by one unrecorded run, then measured in interleaved rounds (5, or
// TAGWIRE_FANOUT_ROUNDS), each a tinybench run (throws: true) of every system once; ratios are
// taken per round and their median printed, with the spread over the rounds.
// TAGWIRE_FANOUT_ONLY="tagwire-normal,mosquitto,100" narrows a run (names and counts).
// TAGWIRE_FANOUT_DIST=/path/to/dist runs another build of tagwire (A/B against an older hub).
// TAGWIRE_FANOUT_FSYNC_DELAY_MS=4 models a slow disk for tagwire and tagwire-inline (fdatasync
// took 3.8 ms at the median on a busy disk here): every durable commit takes that much longer,
// on the event loop by blocking it that much after the sync, on the thread pool by resolving later.
//
// Run `npm run build` first, then `node bench/fanout.bench.mjs` (about two minutes; stops by
// itself). Needs aedes (a devDependency; or TAGWIRE_AEDES=/path/to/aedes/aedes.js) and Mosquitto
// on 127.0.0.1:1883.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Bench } from "tinybench";
import { Packr } from "msgpackr";
import { WebSocketServer, WebSocket } from "ws";
import { median, fanoutPayload as payload } from "./common.mjs";
import { slowDiskStorage } from "./slow-disk.mjs";

const SUBSCRIBERS = [1, 10, 100];
const PUBLISH_MS = 500;
/** Measured runs of each system per subscriber count, interleaved (see below). */
const ROUNDS = Number(process.env.TAGWIRE_FANOUT_ROUNDS ?? 5);
// Messages the publisher may be ahead of the slowest subscriber: at most MAX_IN_FLIGHT
// deliveries queued anywhere, so a slow broker's drain stays short.
const MAX_IN_FLIGHT = 120_000;
const windowFor = (count) => Math.min(4000, Math.floor(MAX_IN_FLIGHT / count));
const DRAIN_TIMEOUT_MS = 15_000;
const packr = new Packr({ useRecords: false, variableMapSize: true });
// The subscriber child inherits the parent's prefix (its own pid differs).
const DIST = pathToFileURL(`${process.env.TAGWIRE_FANOUT_DIST ?? fileURLToPath(new URL("../dist", import.meta.url))}/`).href;
const PREFIX = process.env.TAGWIRE_FANOUT_PREFIX ?? `tw-fanout-${process.pid}`;
process.env.TAGWIRE_FANOUT_PREFIX = PREFIX;

// ---------------------------------------------------------------------------------------------
// Child: the subscribers

if (process.argv[2] === "--subscribers") {
  const { system, url, count } = JSON.parse(process.argv[3]);
  const subs = [];
  let expected = Infinity;
  let runId = 0;
  let failed;
  const onData = (sub, seq) => {
    if (seq !== sub.next) failed ??= `subscriber ${sub.i}: got seq ${seq}, expected ${sub.next}`;
    sub.next = seq + 1;
  };
  if (system.startsWith("tagwire")) {
    const { connectSession } = await import(new URL("bindings/index.js", DIST).href);
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const session = await connectSession(url, { agentId: `sub-${i}`, pingIntervalMs: 0 });
        const sub = { i, next: 0 };
        await new Promise((resolve) => {
          session.subscribe("bench-pub", "bench", (e) => {
            if (e.type === "sync") resolve();
            else if (e.type === "message") onData(sub, /** @type {{ seq: number }} */ (e.message.data).seq);
            else if (e.type === "aggregate") onData(sub, /** @type {{ seq: number }} */ (e.diff).seq);
          });
        });
        subs.push(sub);
      }),
    );
  } else if (system === "bare-ws") {
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const ws = new WebSocket(url);
        const sub = { i, next: 0 };
        ws.on("message", (data) => onData(sub, packr.unpack(/** @type {Buffer} */ (data)).seq));
        await new Promise((r) => ws.once("open", r));
        subs.push(sub);
      }),
    );
  } else {
    const mqtt = (await import("mqtt")).default;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const c = await mqtt.connectAsync(url, {
          clientId: `${PREFIX}-sub-${i}-${Math.random().toString(16).slice(2, 8)}`,
          reconnectPeriod: 0,
        });
        const sub = { i, next: 0 };
        c.on("message", (_t, data) => onData(sub, packr.unpack(data).seq));
        await c.subscribeAsync(`${PREFIX}/bench`, { qos: 0 });
        subs.push(sub);
      }),
    );
  }
  const slowest = () => {
    let m = Infinity;
    for (const s of subs) if (s.next < m) m = s.next;
    return m;
  };
  let lastReported = -1;
  setInterval(() => {
    const m = slowest();
    if (failed) process.send({ type: "failed", runId, reason: failed });
    if (m !== lastReported) {
      lastReported = m;
      process.send({ type: "progress", runId, slowest: m });
    }
    if (m >= expected) {
      process.send({ type: "done", runId, slowest: m });
      expected = Infinity;
    }
  }, 2);
  process.on("message", (/** @type {{ type: string, runId?: number, total?: number }} IPC from the parent */ msg) => {
    if (msg.type === "arm") {
      runId = msg.runId;
      for (const s of subs) s.next = 0;
      lastReported = -1;
      expected = Infinity;
      process.send({ type: "armed", runId });
    } else if (msg.type === "expect") {
      expected = msg.total;
    } else if (msg.type === "exit") process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready" });
  await new Promise(() => {});
}

// ---------------------------------------------------------------------------------------------
// Main: brokers, publishers, the measured runs

const { startHub, SqliteStorage } = await import(new URL("hub/index.js", DIST).href);
const FSYNC_DELAY_MS = Number(process.env.TAGWIRE_FANOUT_FSYNC_DELAY_MS ?? 0);

const { connectSession } = await import(new URL("bindings/index.js", DIST).href);

function startSubscribers(system, url, count) {
  const child = fork(fileURLToPath(import.meta.url), ["--subscribers", JSON.stringify({ system, url, count })], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const listeners = new Set();
  child.on("message", (m) => {
    for (const l of [...listeners]) l(m);
  });
  // A crashed subscriber process fails whatever waits on it instead of hanging the bench.
  child.on("exit", (code, signal) => {
    if (code === 0) return;
    const reason = `subscriber process exited (${signal ?? code}) for ${system} x${count}`;
    for (const l of [...listeners]) l({ type: "failed", runId: -1, reason, crashed: true });
  });
  const next = (pred) =>
    new Promise((resolve, reject) => {
      const l = (m) => {
        if (m.type === "failed") {
          listeners.delete(l);
          reject(new Error(m.reason));
        } else if (pred(m)) {
          listeners.delete(l);
          resolve(m);
        }
      };
      listeners.add(l);
    });
  return { child, listeners, next, ready: next((m) => m.type === "ready") };
}

/** One measured run: publish for PUBLISH_MS under the window, then wait for the slowest. */
async function fanoutRun(subs, runId, publishOne, count) {
  subs.child.send({ type: "arm", runId });
  await subs.next((m) => m.type === "armed" && m.runId === runId);
  let slowest = 0;
  let failure;
  const progress = (m) => {
    if (m.crashed) failure = m.reason;
    if (m.runId !== runId) return;
    if (m.type === "progress") slowest = m.slowest;
    if (m.type === "failed") failure = m.reason;
  };
  subs.listeners.add(progress);
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < PUBLISH_MS && !failure) {
    const room = Math.min(windowFor(count) - (sent - slowest), 512);
    for (let i = 0; i < room; i++) publishOne(sent++);
    await new Promise((r) => setImmediate(r));
  }
  if (failure) {
    subs.listeners.delete(progress);
    return { delivered: slowest * count, seconds: (performance.now() - t0) / 1000, rate: NaN, lost: failure };
  }
  const done = subs.next((m) => m.type === "done" && m.runId === runId);
  subs.child.send({ type: "expect", total: sent });
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve("timeout"), DRAIN_TIMEOUT_MS)));
  const outcome = await Promise.race([
    done.then(
      () => "done",
      (err) => err.message,
    ),
    timeout,
  ]);
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  subs.listeners.delete(progress);
  if (outcome !== "done" || failure) {
    // Recorded, not thrown: one system losing messages must not hide the others' figures.
    const why = failure ?? (outcome === "timeout" ? `slowest subscriber had ${slowest} of ${sent} after ${DRAIN_TIMEOUT_MS} ms` : outcome);
    return { delivered: slowest * count, seconds, rate: NaN, lost: why };
  }
  return { delivered: sent * count, seconds, rate: (sent * count) / seconds };
}

// `mode` "message": every payload appended to the channel's log (a stored row each), delivered
// as message events. "aggregate": every payload merged into the channel's aggregate through the
// core pipeline (one stored row per channel per tick), delivered as aggregate events whose
// effective diff carries only what changed (here the sequence number).
async function tagwireSystem(synchronous, mode = "message", durability = "auto") {
  const dataDir = mkdtempSync(join(tmpdir(), "tw-fanout-"));
  const slow =
    FSYNC_DELAY_MS > 0 && synchronous === "full"
      ? { storage: slowDiskStorage(SqliteStorage, dataDir, { durability, delayMs: FSYNC_DELAY_MS }) }
      : {};
  const hub = await startHub({ dataDir, auth: false, log: () => {}, limits: { framesPerSecond: 1e9 }, synchronous, durability, ...slow });
  const pub = await connectSession(hub.url, { agentId: "bench-pub", pingIntervalMs: 0 });
  // The channel exists before subscribers come, so each gets a sync first.
  if (mode === "message") await pub.createMessage("bench-pub", "bench", { seq: -1 });
  else await pub.publish("bench-pub", "bench", payload(-1));
  const ignore = () => {};
  return {
    url: hub.url,
    publishOne:
      mode === "message"
        ? (seq) => pub.createMessage("bench-pub", "bench", payload(seq)).catch(ignore)
        : (seq) => pub.publish("bench-pub", "bench", payload(seq)).catch(ignore),
    async stop() {
      await pub.close(0);
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const systems = {
  // The hub's default: every commit fsynced (an acknowledged write survives a power cut), the
  // fsync off the event loop.
  tagwire: () => tagwireSystem("full"),
  // Opt-in: the same durability with SQLite's own fsync inside COMMIT, blocking the event loop,
  // and with the fsync always on the thread pool.
  "tagwire-inline": () => tagwireSystem("full", "message", "inline"),
  "tagwire-pool": () => tagwireSystem("full", "message", "fsync"),
  // synchronous=NORMAL: survives kill -9 of the hub, not an OS crash; no fsync per tick.
  "tagwire-normal": () => tagwireSystem("normal"),
  // Aggregate updates (the core pipeline's path), hub defaults (every commit fsynced).
  "tagwire-aggregate": () => tagwireSystem("full", "aggregate"),
  async aedes(_count) {
    // TAGWIRE_AEDES: a path to aedes.js when it is installed outside node_modules.
    const { Aedes } = await import(process.env.TAGWIRE_AEDES ?? "aedes");
    const mqtt = (await import("mqtt")).default;
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, "127.0.0.1", r)));
    const url = `mqtt://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`;
    const pub = await mqtt.connectAsync(url, { clientId: `${PREFIX}-pub`, reconnectPeriod: 0 });
    return {
      url,
      publishOne: (seq) => pub.publish(`${PREFIX}/bench`, packr.pack(payload(seq)), { qos: 0 }),
      async stop() {
        await pub.endAsync();
        await new Promise((r) => broker.close(r));
        await new Promise((r) => server.close(r));
      },
    };
  },
  async mosquitto(_count) {
    const mqtt = (await import("mqtt")).default;
    const url = "mqtt://127.0.0.1:1883";
    const pub = await mqtt.connectAsync(url, { clientId: `${PREFIX}-pub`, reconnectPeriod: 0 });
    return {
      url,
      publishOne: (seq) => pub.publish(`${PREFIX}/bench`, packr.pack(payload(seq)), { qos: 0 }),
      stop: () => pub.endAsync(),
    };
  },
  async "bare-ws"(_count) {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once("listening", r));
    const subscribers = new Set();
    let publisher;
    let corked = false;
    const uncork = () => {
      corked = false;
      for (const s of subscribers) s._socket.uncork();
    };
    wss.on("connection", (ws, req) => {
      if (req.url === "/publish") {
        publisher = ws;
        ws.on("message", (data) => {
          if (!corked) {
            corked = true;
            for (const s of subscribers) s._socket.cork();
            setImmediate(uncork);
          }
          for (const s of subscribers) s.send(data, { binary: true });
        });
      } else subscribers.add(ws);
    });
    const url = `ws://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (wss.address()).port}`;
    const pub = new WebSocket(`${url}/publish`);
    await new Promise((r) => pub.once("open", r));
    while (!publisher) await new Promise((r) => setImmediate(r));
    return {
      url,
      publishOne: (seq) => pub.send(packr.pack(payload(seq))),
      async stop() {
        pub.close();
        await new Promise((r) => wss.close(r));
      },
    };
  },
};

console.log(`fanout: ${cpus().length} cores, ${cpus()[0]?.model}, node ${process.version}, ${new Date().toISOString()}`);
console.log(
  `payload ${packr.pack(payload(123456)).length} B msgpack; window ${SUBSCRIBERS.map((c) => `${windowFor(c)} (x${c})`).join(", ")} messages; publish ${PUBLISH_MS} ms per run`,
);

const rates = new Map();
const losses = new Map();
/**
 * The systems of the subscriber count being measured (the time budget kills their subscribers).
 * @type {{ key: string, sys: any, subs: ReturnType<typeof startSubscribers>, runId: number, broken: boolean }[]}
 */
let live = [];
// TAGWIRE_FANOUT_ONLY="tagwire,bare-ws" or "100" narrows the run (profiling); default: all.
const only = process.env.TAGWIRE_FANOUT_ONLY?.split(",");
const onlyCounts = only?.filter((w) => /^\d+$/.test(w)) ?? [];
const onlyNames = only?.filter((w) => !/^\d+$/.test(w)) ?? [];
const OPT_IN = new Set(["tagwire-inline", "tagwire-pool"]);
const wanted = (name, count) =>
  (onlyNames.length === 0 ? !OPT_IN.has(name) : onlyNames.includes(name)) &&
  (onlyCounts.length === 0 || onlyCounts.includes(String(count)));

const stopAll = setTimeout(() => {
  console.error("fanout bench: over its time budget, stopping");
  for (const c of live) c.subs.child.kill();
  process.exit(1);
}, 300_000);
stopAll.unref();

// Every system of a subscriber count is set up (and warmed by one unrecorded run) before any is
// measured; then each round runs every system once, in an order that rotates from round to
// round. A ratio is taken per round and the median over rounds reported: the two sides of a
// round run about a second apart, so a slow stretch of the shared host (seconds long, see
// bench/RESULTS.md) lands on both, where one system's runs after another's could put it on
// one side only.
for (const count of SUBSCRIBERS) {
  const ctxs = (live = []);
  for (const name of Object.keys(systems)) {
    if (!wanted(name, count)) continue;
    const key = `${name} x${count}`;
    const sys = await systems[name](count);
    const subs = startSubscribers(name, sys.url, count);
    await subs.ready;
    const ctx = { key, sys, subs, runId: 0, broken: false };
    ctxs.push(ctx);
    rates.set(key, []);
    const warm = await fanoutRun(subs, ++ctx.runId, sys.publishOne, count);
    if (warm.lost) {
      ctx.broken = true;
      losses.set(key, warm.lost);
      console.log(`${key}: LOST MESSAGES in the warm-up run: ${warm.lost}`);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ name: `fanout x${count} round ${round + 1}`, iterations: 1, time: 0, warmup: false, throws: true });
    for (let k = 0; k < ctxs.length; k++) {
      const ctx = ctxs[(k + round) % ctxs.length];
      bench.add(ctx.key, async () => {
        // Lost messages before: the subscribers' state is unknown, and the rate is NaN.
        if (ctx.broken) return void rates.get(ctx.key).push(NaN);
        const r = await fanoutRun(ctx.subs, ++ctx.runId, ctx.sys.publishOne, count);
        rates.get(ctx.key).push(r.rate);
        if (r.lost) {
          ctx.broken = true;
          losses.set(ctx.key, r.lost);
          console.log(`${ctx.key}: LOST MESSAGES: ${r.lost}`);
        }
        if (process.env.TAGWIRE_BENCH_VERBOSE) console.log(`${ctx.key}: ${r.delivered} in ${r.seconds.toFixed(2)} s = ${fmt(r.rate)}/s`);
      });
    }
    await bench.run();
  }
  for (const ctx of ctxs) {
    ctx.subs.child.send({ type: "exit" });
    await new Promise((r) => ctx.subs.child.once("exit", r));
    await ctx.sys.stop();
  }
}

// A configuration that lost messages has no rate (NaN): it is reported as "lost".
const strictMedian = (xs) => (xs.length === 0 || xs.some((x) => !Number.isFinite(x)) ? NaN : median(xs));
function fmt(n) {
  if (n === undefined) return "-";
  if (!Number.isFinite(n)) return "lost";
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
}
console.log(`\nmedian over ${ROUNDS} rounds, delivered messages/s (every message decoded by every subscriber, none lost):`);
const names = Object.keys(systems);
console.log(["subscribers", ...names].map((h) => h.padStart(14)).join(" |"));
for (const count of SUBSCRIBERS) {
  const cells = names.map((name) => {
    const rs = rates.get(`${name} x${count}`);
    return rs ? fmt(strictMedian(rs)) : "-"; // "-": not run (TAGWIRE_FANOUT_ONLY)
  });
  console.log([String(count), ...cells].map((c) => c.padStart(14)).join(" |"));
}
/** Per-round ratios of two systems at `count`: [median, min, max], undefined when either did not run. */
function roundRatios(a, b, count) {
  const ra = rates.get(`${a} x${count}`);
  const rb = rates.get(`${b} x${count}`);
  if (!ra || !rb) return undefined;
  const per = ra.map((x, i) => x / rb[i]);
  return [strictMedian(per), Math.min(...per), Math.max(...per)];
}
const ratioCell = (a, b, count) => {
  const r = roundRatios(a, b, count);
  return r === undefined ? "-" : Number.isFinite(r[0]) ? `${r[0].toFixed(2)}x` : "lost";
};
const pctCell = (a, b, count) => {
  const r = roundRatios(a, b, count);
  return r === undefined ? "-" : Number.isFinite(r[0]) ? `${(100 * r[0]).toFixed(0)}%` : "lost";
};
console.log("\nratios, median of the rounds' (tagwire = hub default, every commit fsync'd; normal = synchronous=NORMAL, no fsync):");
console.log(
  ["subscribers", "vs aedes", "vs mosquitto", "of bare-ws", "normal/aedes", "normal/mosq.", "normal/bare-ws"]
    .map((h) => h.padStart(14))
    .join(" |"),
);
for (const count of SUBSCRIBERS) {
  console.log(
    [
      String(count),
      ratioCell("tagwire", "aedes", count),
      ratioCell("tagwire", "mosquitto", count),
      pctCell("tagwire", "bare-ws", count),
      ratioCell("tagwire-normal", "aedes", count),
      ratioCell("tagwire-normal", "mosquitto", count),
      pctCell("tagwire-normal", "bare-ws", count),
    ]
      .map((c) => c.padStart(14))
      .join(" |"),
  );
}
console.log("\naggregate updates (tagwire-aggregate, hub default):");
console.log(["subscribers", "vs aedes", "vs mosquitto", "of bare-ws"].map((h) => h.padStart(14)).join(" |"));
for (const count of SUBSCRIBERS) {
  const a = "tagwire-aggregate";
  console.log(
    [String(count), ratioCell(a, "aedes", count), ratioCell(a, "mosquitto", count), pctCell(a, "bare-ws", count)]
      .map((c) => c.padStart(14))
      .join(" |"),
  );
}
console.log("\nthe targets' spread over the rounds (tagwire / anchor, min..max; target >= 5x at 100, >= 1x at 1):");
for (const count of [1, 100]) {
  for (const anchor of ["aedes", "mosquitto"]) {
    const r = roundRatios("tagwire", anchor, count);
    if (!r) continue;
    const target = count === 100 ? 5 : 1;
    console.log(
      `  x${count} vs ${anchor}: median ${r[0].toFixed(2)}x, rounds ${r[1].toFixed(2)}x..${r[2].toFixed(2)}x; median >= ${target}x: ${r[0] >= target ? "yes" : "no"}`,
    );
  }
}
for (const [key, why] of losses) console.log(`lost: ${key}: ${why}`);
process.exit(0);
