// Fleet ingest over loopback: 1,000 device connections, each writing small tag diffs to its own
// `tag_values`, one viewer subscribed to every device's `tag_values`, through
//   tagwire   the hub (dist/hub) over WebSocket, hub defaults (one fsync'd group commit per
//             tick; durability "auto": the fsync on the event loop while the disk is fast, on the
//             thread pool while the loop goes on when it is slow); a device's publish resolves on
//             the hub's ack, which leaves only after the write is durable; the viewer subscribes
//             `+/tag_values`. Opt-in (name them in TAGWIRE_FLEET_ONLY): tagwire-inline, SQLite's
//             synchronous=FULL fsync inside COMMIT, and tagwire-pool, the fsync always on the
//             thread pool, for A/B;
//   mosquitto the local Mosquitto at 127.0.0.1:1883, mqtt.js clients, QoS 1 retained publishes
//             (resolve on PUBACK), the viewer subscribes `<prefix>/+/tag_values` at QoS 1;
//   aedes     Aedes 1.x in this process (in-memory persistence), same clients and QoS;
//   floor     not a system: plain node:net sockets with fixed-size records, a server that keeps
//             each device's last seq in memory, acks every write and forwards it to the viewer
//             (bench/socket-floor.mjs). What Node's sockets alone cost under this flow control;
//             tagwire's rate over the floor's is the share of it tagwire reaches.
// The brokers do not fsync: the comparison flatters them, and tagwire's figure includes its fsync.
//
// Setup (2 cores): each server (the hub, Aedes, the floor's) runs in a process of its own (this
// file, forked with --server; Mosquitto is its own process); every device connection and the
// viewer of a system live in one child process (forked with --devices) on the other core. Every
// system of a run is set up, its devices connected, before any is measured; the idle ones share
// no heap or event loop with the one measured. Two phases, the same flow control for every system:
//   saturate  closed loop: every device keeps WINDOW writes outstanding and sends the next one
//             when one is acknowledged; the rate is acknowledged writes per second over
//             SATURATE_MS (after a warm-up), i.e. the highest sustained rate with every write
//             acknowledged. ROUNDS interleaved rounds (3, or TAGWIRE_FLEET_ROUNDS), each
//             saturating every system once in an order that rotates; a ratio is taken per round
//             and the run reports their median. The two sides of a round run seconds apart, so
//             a slow stretch of the shared host (seconds long, see bench/RESULTS.md) lands on both.
//   paced     then, open loop at half the system's median rate, spread over the devices
//             round-robin; p50/p99 of the acknowledgement latency (send to ack) in PACED_MS.
// Each round also prints CPU per acknowledged write over the saturated phase (process.cpuUsage) of
// the server process (the hub or Aedes; Mosquitto is its own process) and of the device process.
// Time a process spends blocked (the hub's fsync) is not CPU: the rate shows it, this does not.
// Then nothing is lost: every device's last acknowledged value is read back from the system
// (tagwire: getAggregate per device on a fresh connection; MQTT: the retained messages, on a fresh
// client) and must equal what the device last wrote; the viewer must have seen each device's last
// write (QoS 1 / tagwire aggregate events coalesce nothing here: every write changes the state).
//
// `npm run build` first, then `node bench/fleet.bench.mjs` (about two minutes per run; stops by
// itself). TAGWIRE_FLEET_ONLY="tagwire,mosquitto" narrows a run; TAGWIRE_FLEET_RUNS=3 repeats the
// whole comparison (the spread over runs is printed at the end). TAGWIRE_FLEET_FSYNC_DELAY_MS=4
// models a slow disk for tagwire and tagwire-inline (every durable commit that much longer:
// on the event loop by blocking it that much after the sync, on the thread pool resolving later).
// TAGWIRE_FLEET_PROFILE=<dir> writes a CPU profile of each process over the counted part of the
// first round's saturated phase (hub-<system>-<pid>.cpuprofile, devices-<system>-<pid>.cpuprofile):
// `--cpu-prof` would also take in connecting, the other rounds, the paced phase and the read-back.
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Packr } from "msgpackr";
import { slowDiskStorage } from "./slow-disk.mjs";
import { median } from "./common.mjs";
import { floorDevice, floorLastSeqs, floorViewer, startFloorServer } from "./socket-floor.mjs";

const DEVICES = Number(process.env.TAGWIRE_FLEET_DEVICES ?? 1000);
const WINDOW = 2;
const WARMUP_MS = 500;
const SATURATE_MS = 2000;
const ROUNDS = Number(process.env.TAGWIRE_FLEET_ROUNDS ?? 3);
const PACED_MS = 3000;
const RUNS = Number(process.env.TAGWIRE_FLEET_RUNS ?? 1);
const PREFIX = process.env.TAGWIRE_FLEET_PREFIX ?? `tw-fleet-${process.pid}`;
process.env.TAGWIRE_FLEET_PREFIX = PREFIX;
/** @typedef {{ bench?: { seq: number } }} BenchDoc a device's tag_values as this bench writes them */
const packr = new Packr({ useRecords: false, variableMapSize: true });

const PROFILE_DIR = process.env.TAGWIRE_FLEET_PROFILE;

/** Starts the V8 profiler if TAGWIRE_FLEET_PROFILE is set; the returned function stops it and writes `<name>-<pid>.cpuprofile`. */
async function startProfile(name) {
  if (!PROFILE_DIR) return async () => {};
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(join(PROFILE_DIR, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/** The diff a device writes: one app's two tags, ~40 bytes of msgpack. */
const tagDiff = (seq) => ({ bench: { seq, temp: 20 + (seq % 100) / 10 } });

// ---------------------------------------------------------------------------------------------
// Child: the devices and the viewer

if (process.argv[2] === "--devices") {
  const { system, url, count } = JSON.parse(process.argv[3]);
  const devices = [];
  const viewerSeen = new Map();
  let verifyClient;

  if (system.startsWith("tagwire")) {
    const { connectSession } = await import("../dist/bindings/index.js");
    const viewer = await connectSession(url, { agentId: "fleet-viewer", pingIntervalMs: 0 });
    await new Promise((resolve) => {
      viewer.subscribe("+", "tag_values", (e) => {
        if (e.type === "sync") resolve();
        else if (e.type === "aggregate" && /** @type {BenchDoc} */ (e.diff)?.bench)
          viewerSeen.set(e.agentId, /** @type {BenchDoc} */ (e.diff).bench.seq);
      });
      setTimeout(resolve, 500);
    });
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
          const id = `dev-${i + k}`;
          const s = await connectSession(url, { agentId: id, pingIntervalMs: 0 });
          devices[i + k] = { id, write: (seq) => s.publish(id, "tag_values", tagDiff(seq)), seq: 0, acked: -1, close: () => s.close(100) };
        }),
      );
    }
    verifyClient = {
      async lastSeqs() {
        const out = new Map();
        const s = await connectSession(url, { agentId: "fleet-verify", pingIntervalMs: 0 });
        for (const d of devices) {
          const agg = await s.getAggregate(d.id, "tag_values");
          out.set(d.id, /** @type {BenchDoc} */ (agg)?.bench?.seq ?? -1);
        }
        await s.close(100);
        return out;
      },
      close: () => viewer.close(100),
    };
  } else if (system === "floor") {
    const viewer = await floorViewer(url, (device, seq) => viewerSeen.set(`dev-${device}`, seq));
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
          const d = await floorDevice(url, i + k);
          devices[i + k] = { id: `dev-${i + k}`, write: d.write, seq: 0, acked: -1, close: d.close };
        }),
      );
    }
    verifyClient = {
      async lastSeqs() {
        const held = await floorLastSeqs(url);
        return new Map([...held].map(([device, seq]) => [`dev-${device}`, seq]));
      },
      close: viewer.close,
    };
  } else {
    const mqtt = (await import("mqtt")).default;
    const topic = (id) => `${PREFIX}/${id}/tag_values`;
    const viewer = await mqtt.connectAsync(url, { clientId: `${PREFIX}-viewer`, reconnectPeriod: 0 });
    viewer.on("message", (t, data) => viewerSeen.set(t.split("/")[1], packr.unpack(data).bench.seq));
    await viewer.subscribeAsync(`${PREFIX}/+/tag_values`, { qos: 1 });
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
          const id = `dev-${i + k}`;
          const c = await mqtt.connectAsync(url, { clientId: `${PREFIX}-${id}`, reconnectPeriod: 0 });
          devices[i + k] = {
            id,
            write: (seq) => c.publishAsync(topic(id), packr.pack(tagDiff(seq)), { qos: 1, retain: true }),
            seq: 0,
            acked: -1,
            close: () => c.endAsync(),
          };
        }),
      );
    }
    verifyClient = {
      async lastSeqs() {
        const out = new Map();
        const c = await mqtt.connectAsync(url, { clientId: `${PREFIX}-verify-${Date.now()}`, reconnectPeriod: 0 });
        c.on("message", (t, data) => out.set(t.split("/")[1], packr.unpack(data).bench.seq));
        await c.subscribeAsync(`${PREFIX}/+/tag_values`, { qos: 1 });
        const deadline = Date.now() + 10_000;
        while (out.size < devices.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await c.endAsync();
        return out;
      },
      close: () => viewer.endAsync(),
    };
  }

  let failed;
  const send = (d, onAck) => {
    const seq = d.seq++;
    const t0 = performance.now();
    d.write(seq).then(
      (r) => {
        // tagwire resolves an offline publish at once as kept in its outbox (`queued`), not
        // acknowledged: the hub is gone, and the loop must stop rather than spin on it.
        if (r?.queued) return void (failed ??= `${d.id} seq ${seq}: queued offline, the hub is unreachable`);
        if (seq > d.acked) d.acked = seq;
        onAck(performance.now() - t0);
      },
      (err) => (failed ??= `${d.id} seq ${seq}: ${err?.message ?? err}`),
    );
  };

  async function saturate(profile) {
    let acked = 0;
    let ackedAll = 0;
    const cpu0 = process.cpuUsage();
    let counting = false;
    let stop = false;
    const loop = (d) =>
      send(d, () => {
        ackedAll++;
        if (counting) acked++;
        if (!stop) loop(d);
      });
    for (const d of devices) for (let w = 0; w < WINDOW; w++) loop(d);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    process.send({ type: "counting" });
    const stopProfile = profile ? await startProfile(`devices-${system}`) : async () => {};
    // Counting starts with the clock, after the await (acks that land during it are not counted).
    counting = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SATURATE_MS));
    counting = false;
    const rate = acked / ((performance.now() - t0) / 1000);
    process.send({ type: "counted" });
    await stopProfile();
    stop = true;
    await settle();
    const cpu = process.cpuUsage(cpu0);
    return { rate, ackedAll, devicesCpuUs: (cpu.user + cpu.system) / ackedAll };
  }

  async function paced(rate) {
    const latencies = [];
    const tickMs = 5;
    const perTick = (rate * tickMs) / 1000;
    let due = 0;
    let next = 0;
    const t0 = performance.now();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - t0;
        if (elapsed >= PACED_MS) {
          clearInterval(timer);
          resolve();
          return;
        }
        due = (elapsed / tickMs) * perTick;
        while (next < due) {
          send(devices[next % devices.length], (ms) => latencies.push(ms));
          next++;
        }
      }, tickMs);
    });
    await settle();
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    return { sent: next, acked: latencies.length, p50: q(0.5), p99: q(0.99) };
  }

  /** Wait until every write sent has been acknowledged (or 20 s). */
  async function settle() {
    const deadline = Date.now() + 20_000;
    while (devices.some((d) => d.acked < d.seq - 1) && Date.now() < deadline && !failed) await new Promise((r) => setTimeout(r, 20));
  }

  async function verify() {
    const stored = await verifyClient.lastSeqs();
    // The viewer's last event per device may trail the ack a little: give it a moment.
    const deadline = Date.now() + 5_000;
    while (devices.some((d) => viewerSeen.get(d.id) !== d.acked) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    let lost = 0;
    let viewerMissed = 0;
    for (const d of devices) {
      if (stored.get(d.id) !== d.acked) lost++;
      if (viewerSeen.get(d.id) !== d.acked) viewerMissed++;
    }
    return { lost, viewerMissed, writes: devices.reduce((n, d) => n + d.seq, 0) };
  }

  process.on("message", async (/** @type {{ type: string, rate?: number, profile?: boolean }} IPC from the parent */ msg) => {
    try {
      if (msg.type === "saturate") process.send({ type: "saturated", ...(await saturate(msg.profile)), failed });
      else if (msg.type === "paced") process.send({ type: "paced", ...(await paced(msg.rate)), failed });
      else if (msg.type === "verify") process.send({ type: "verified", ...(await verify()), failed });
      else if (msg.type === "exit") {
        await Promise.race([
          Promise.all(devices.map((d) => d.close())).then(() => verifyClient.close()),
          new Promise((r) => setTimeout(r, 2000)),
        ]);
        process.exit(0);
      }
    } catch (err) {
      process.send({ type: "error", reason: String(err?.stack ?? err) });
    }
  });
  // The bench died: leave rather than hold 1,000 sockets open.
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready" });
} else if (process.argv[2] === "--server") {
  const name = process.argv[3];
  const sys = await /** @type {() => Promise<{ url: string, stop: () => Promise<void> }>} */ (serverSystems()[name])();
  /** @type {() => Promise<void>} */
  let stopProfile = async () => {};
  process.on("message", async (/** @type {{ type: string }} IPC from the parent */ msg) => {
    try {
      if (msg.type === "cpu") process.send({ type: "cpu", usage: process.cpuUsage() });
      else if (msg.type === "profile") {
        stopProfile = await startProfile(`hub-${name}`);
        process.send({ type: "profiling" });
      } else if (msg.type === "unprofile") {
        await stopProfile();
        process.send({ type: "unprofiled" });
      } else if (msg.type === "stop") {
        await sys.stop();
        process.exit(0);
      }
    } catch (err) {
      process.send({ type: "error", reason: String(err?.stack ?? err) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "listening", url: sys.url });
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// Main: the systems and the measured runs

/**
 * The systems compared, by name, in the order they are set up: each one's server starter, run in
 * a process of its own (`--server`); null for Mosquitto, which is its own process already.
 */
function serverSystems() {
  /** @param {"auto" | "fsync" | "inline"} durability */
  const tagwire = async (durability) => {
    const { startHub, SqliteStorage } = await import("../dist/hub/index.js");
    const FSYNC_DELAY_MS = Number(process.env.TAGWIRE_FLEET_FSYNC_DELAY_MS ?? 0);
    const dataDir = mkdtempSync(join(tmpdir(), "tw-fleet-"));
    const hub = await startHub({
      dataDir,
      auth: false,
      log: () => {},
      limits: { framesPerSecond: 1e9, maxConnections: 10_000, maxConnectionsPerAddress: 10_000 },
      durability,
      ...(FSYNC_DELAY_MS > 0 ? { storage: slowDiskStorage(SqliteStorage, dataDir, { durability, delayMs: FSYNC_DELAY_MS }) } : {}),
    });
    return {
      url: hub.url,
      stop: async () => {
        await hub.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };
  /** @type {Record<string, (() => Promise<{ url: string, stop: () => Promise<void> }>) | null>} */
  const systems = {
    tagwire: () => tagwire("auto"),
    "tagwire-inline": () => tagwire("inline"),
    "tagwire-pool": () => tagwire("fsync"),
    floor: startFloorServer,
    mosquitto: null,
    async aedes() {
      const { Aedes } = await import(process.env.TAGWIRE_AEDES ?? "aedes");
      const broker = await Aedes.createBroker();
      const server = createServer(broker.handle);
      await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, "127.0.0.1", r)));
      return {
        url: `mqtt://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`,
        stop: () => new Promise((r) => broker.close(() => server.close(() => r()))),
      };
    },
  };
  return systems;
}

/**
 * Forks this file with `args`; `next(type)` waits for the child's next IPC message of that type
 * (an "error" message, or one with `failed`, rejects). A child that exits before `exit()` is
 * called fails whatever waits on it, so a crashed server or device process cannot hang the run.
 */
function forkChild(args, label) {
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: "inherit" });
  let exiting = false;
  /** Set once the child exited unasked: every wait from then on fails at once. */
  let died;
  child.once("exit", (code, signal) => {
    if (exiting) return;
    died = { type: "error", reason: `${label} process exited (${signal ?? code})` };
    child.emit("message", died);
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      if (died) return reject(new Error(`${label}: ${died.reason}`));
      const on = (m) => {
        if (m.type === type || m.type === "error") {
          child.off("message", on);
          if (m.type === "error" || m.failed) reject(new Error(`${label}: ${m.reason ?? m.failed}`));
          else resolve(m);
        }
      };
      child.on("message", on);
    });
  /** Asks the child to leave with `message` and waits until it has. */
  const exit = async (message) => {
    exiting = true;
    const exited = new Promise((r) => child.once("exit", r));
    if (child.exitCode === null && child.signalCode === null) {
      child.send(message);
      await exited;
    }
  };
  return { child, next, exit };
}

/**
 * Starts system `name`'s server in a process of its own, so that the systems set up side by side
 * for interleaved rounds share no heap or event loop (Mosquitto: already its own process, no CPU
 * figure). `cpu()` is that process's CPU time so far (us).
 */
async function startServer(name) {
  if (serverSystems()[name] === null)
    return {
      url: "mqtt://127.0.0.1:1883",
      cpu: async () => Number.NaN,
      profile: async () => {},
      unprofile: async () => {},
      stop: async () => {},
    };
  const { child, next, exit } = forkChild(["--server", name], `${name} server`);
  const { url } = await next("listening");
  const ask = async (type, reply) => {
    const answer = next(reply);
    child.send({ type });
    return answer;
  };
  return {
    url,
    cpu: async () => {
      const { usage } = await ask("cpu", "cpu");
      return usage.user + usage.system;
    },
    profile: () => ask("profile", "profiling"),
    unprofile: () => ask("unprofile", "unprofiled"),
    stop: () => exit({ type: "stop" }),
  };
}

async function main() {
  const only = process.env.TAGWIRE_FLEET_ONLY?.split(",");
  const OPT_IN = new Set(["tagwire-inline", "tagwire-pool"]);
  console.log(`fleet ingest: ${DEVICES} devices, window ${WINDOW}, saturate ${SATURATE_MS} ms, paced ${PACED_MS} ms at half that rate`);
  console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
  /** @type {Record<string, number[][]>} saturated rates (writes/s), per system, per run, per round */
  const rounds = {};
  /** @type {string[]} */
  const anchorLost = [];
  const names = Object.keys(serverSystems()).filter((name) => (only ? only.includes(name) : !OPT_IN.has(name)));
  for (let run = 1; run <= RUNS; run++) {
    /** @type {({ name: string, sys: Awaited<ReturnType<typeof startServer>> } & ReturnType<typeof forkChild>)[]} */
    const live = [];
    try {
      for (const name of names) {
        const sys = await startServer(name);
        const { child, next, exit } = forkChild(["--devices", JSON.stringify({ system: name, url: sys.url, count: DEVICES })], name);
        live.push({ name, sys, child, next, exit });
        await next("ready");
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < live.length; k++) {
          const { name, sys, child, next } = live[(k + round) % live.length];
          const profile = Boolean(PROFILE_DIR) && round === 0;
          // CPU of the server's process (the hub, Aedes or the floor's server) per acknowledged
          // write over the whole saturated phase, warm-up and settling included.
          const cpu0 = await sys.cpu();
          const saturated = next("saturated");
          // Awaited only when profiling; an error reaches the caller through `saturated`.
          const counting = next("counting");
          const counted = next("counted");
          counting.catch(() => {});
          counted.catch(() => {});
          child.send({ type: "saturate", profile });
          if (profile) {
            await counting;
            await sys.profile();
            await counted;
            await sys.unprofile();
          }
          const { rate, ackedAll, devicesCpuUs } = await saturated;
          const serverCpuUs = ((await sys.cpu()) - cpu0) / ackedAll;
          ((rounds[name] ??= [])[run - 1] ??= []).push(rate);
          console.log(
            `run ${run} round ${round + 1} ${name.padEnd(9)} ${Math.round(rate).toLocaleString("en").padStart(8)} writes/s saturated; CPU per write: ${Number.isNaN(serverCpuUs) ? "(broker in its own process)" : `server ${serverCpuUs.toFixed(1)} us`}, devices ${devicesCpuUs.toFixed(1)} us`,
          );
        }
      }
      for (const { name, next, child } of live) {
        const rate = median(rounds[name][run - 1]);
        child.send({ type: "paced", rate: rate / 2 });
        const p = await next("paced");
        child.send({ type: "verify" });
        const v = await next("verified");
        // A tagwire write lost is a failure of the thing measured: stop. An anchor that loses
        // acknowledged writes is reported (its rate then buys less than tagwire's) and the
        // comparison goes on; the exit code still says so.
        if (v.lost && (name.startsWith("tagwire") || name === "floor"))
          throw new Error(`${name}: ${v.lost} devices' last acknowledged write is not what the system holds`);
        if (v.lost) anchorLost.push(`${name} run ${run}: ${v.lost} devices' last acknowledged write not held`);
        console.log(
          `run ${run} ${name.padEnd(9)} median ${Math.round(rate).toLocaleString("en").padStart(8)} writes/s saturated; at ${Math.round(rate / 2).toLocaleString("en")}/s ack p50 ${p.p50.toFixed(2)} ms p99 ${p.p99.toFixed(2)} ms; ${v.writes.toLocaleString("en")} writes, lost ${v.lost}, viewer missed ${v.viewerMissed}`,
        );
      }
    } finally {
      for (const { exit, sys } of live) {
        await exit({ type: "exit" });
        await sys.stop();
      }
    }
  }

  /** Per run, the median over its rounds of a's rate over b's (a, b: system names). */
  const perRun = (a, b) => rounds[a].map((rs, run) => median(rs.map((r, i) => r / rounds[b][run][i])));
  const spread = (xs, fmt) => `${xs.map(fmt).join(", ")} (min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))})`;
  if (rounds.tagwire && rounds.floor) {
    console.log(`tagwire / socket floor, per run: ${spread(perRun("tagwire", "floor"), (x) => `${(100 * x).toFixed(0)}%`)}`);
    if (rounds.aedes)
      console.log(
        `3x Aedes / socket floor, per run: ${spread(
          perRun("aedes", "floor").map((x) => 3 * x),
          (x) => `${(100 * x).toFixed(0)}%`,
        )}`,
      );
  }
  if (rounds.tagwire) {
    for (const anchor of ["mosquitto", "aedes", "tagwire-inline"]) {
      if (!rounds[anchor]) continue;
      const ratios = perRun("tagwire", anchor);
      const target = anchor === "mosquitto" ? 1.5 : anchor === "aedes" ? 3 : 1;
      console.log(
        `tagwire / ${anchor}, per run (median of ${ROUNDS} rounds): ${spread(ratios, (x) => `${x.toFixed(2)}x`)}; target >= ${target}x every run: ${ratios.every((x) => x >= target) ? "yes" : "no"}`,
      );
    }
  }
  for (const line of anchorLost) console.log(`LOST (anchor): ${line}`);
  process.exit(anchorLost.length ? 3 : 0);
}
