// Hub CPU per stored message: the hub runs in this process, a publisher (createMessage, closed
// loop on acks) and optionally decoding subscribers run in a child process on the other core.
// The figure is process.cpuUsage() of this process (user + system) over a round, divided by the
// messages of the round: what the hub spends per stored, acknowledged and fanned-out message.
//
// A/B: TAGWIRE_HUB_CPU_AB=/path/to/other/dist loads a second build side by side; rounds alternate
// between the two hubs and medians are printed (the machine's noise hits both alike). For a small
// difference use long rounds (`--rounds 11 --messages 100000`): SQLite checkpoints its WAL about
// every 18k messages here, so a 20-30k round holds one or two, and both hubs share one V8 heap
// (one's GC can land in the other's round). A/A (one build against a copy of itself) spread
// +-5% at 21 x 30k and +-2% at 11 x 100k on a loaded 2-core machine.
// `--durability inline,auto,fsync` (any list; `both` = inline,auto) runs hubs of this build side by
// side instead: SQLite's inline FULL fsync, the default "auto" (our fdatasync, on the event loop
// while fast, on the thread pool while slow) and "fsync" (always the thread pool).
// The rate (k msg/s) is the publisher's closed loop: what blocking the event loop on the fsync
// costs shows there, not in the CPU figure (a blocked loop spends no CPU).
// TAGWIRE_HUB_CPU_FSYNC_DELAY_MS=4 models a slow disk (on a busy one fdatasync took 3.8 ms at the
// median): every durable commit takes that much longer, inline by blocking the event loop right
// after COMMIT (as a slow fsync inside it does) or after auto's own inline sync, on the thread
// pool by resolving that much later.
//
//   node bench/hub-cpu.mjs [--subscribers N] [--messages N] [--rounds N] [--sync full|normal]
//                          [--durability auto|fsync|inline|both|a,b,...]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/hub-cpu.mjs      (profile the hub side)
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fanoutPayload as payload } from "./common.mjs";
import { slowDiskStorage } from "./slow-disk.mjs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    subscribers: { type: "string", default: "1" },
    messages: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    sync: { type: "string", default: "full" },
    durability: { type: "string", default: "auto" },
    window: { type: "string", default: "2000" },
    child: { type: "string" },
  },
});

if (opt.child) {
  // Child: publisher + subscribers against the hub URLs it is told about.
  const { urls, subscribers, window } = JSON.parse(opt.child);
  const { connectSession } = await import("../dist/bindings/index.js");
  const hubs = [];
  for (const url of urls) {
    const pub = await connectSession(url, { agentId: "bench-pub", pingIntervalMs: 0 });
    await pub.createMessage("bench-pub", "bench", { seq: -1 });
    const subs = [];
    for (let i = 0; i < subscribers; i++) {
      const s = await connectSession(url, { agentId: `sub-${i}`, pingIntervalMs: 0 });
      const sub = { next: 0, seen: 0 };
      await new Promise((r) =>
        s.subscribe("bench-pub", "bench", (e) => {
          if (e.type === "sync") r();
          else if (e.type === "message") {
            sub.seen++;
            sub.next = /** @type {{ seq: number }} */ (e.message.data).seq + 1;
          }
        }),
      );
      subs.push(sub);
    }
    hubs.push({ pub, subs });
  }
  process.on("message", async (/** @type {{ type: string, hub: number, messages: number }} IPC from the parent */ m) => {
    if (m.type !== "round") return;
    const { pub, subs } = hubs[m.hub];
    for (const s of subs) s.seen = 0;
    let acked = 0;
    let sent = 0;
    // As the fan-out bench's publisher: at most 512 per event-loop turn, a window ahead of the acks.
    await new Promise((done) => {
      const turn = () => {
        const room = Math.min(window - (sent - acked), 512, m.messages - sent);
        for (let i = 0; i < room; i++) {
          pub.createMessage("bench-pub", "bench", payload(sent++)).then(() => {
            if (++acked === m.messages) done();
          });
        }
        if (sent < m.messages) setImmediate(turn);
      };
      turn();
    });
    while (subs.some((s) => s.seen < m.messages)) await new Promise((r) => setTimeout(r, 1));
    process.send({ type: "done" });
  });
  process.send({ type: "ready" });
  await new Promise(() => {});
}

// Main: the hub(s).
const here = fileURLToPath(new URL(".", import.meta.url));
const durabilities = opt.durability === "both" ? ["inline", "auto"] : opt.durability.split(",");
/** @type {{ name: string, dist: string, durability: string, [k: string]: any }[]} */
const builds = durabilities.map((d) => ({
  name: durabilities.length > 1 ? `this/${d}` : "this",
  dist: resolve(here, "../dist"),
  durability: d,
}));
if (process.env.TAGWIRE_HUB_CPU_AB)
  builds.unshift({ name: "other", dist: resolve(process.env.TAGWIRE_HUB_CPU_AB), durability: durabilities[0] });
const hubs = [];
for (const b of builds) {
  const { startHub, SqliteStorage } = await import(pathToFileURL(join(b.dist, "hub/index.js")).href);
  const dataDir = mkdtempSync(join(tmpdir(), "tw-hubcpu-"));
  // (a build from before `durability` existed ignores it: SQLite's inline FULL)
  const delayMs = Number(process.env.TAGWIRE_HUB_CPU_FSYNC_DELAY_MS ?? 0);
  const storage =
    delayMs > 0
      ? slowDiskStorage(SqliteStorage, dataDir, { durability: b.durability, synchronous: opt.sync, delayMs })
      : new SqliteStorage(dataDir, { synchronous: opt.sync, durability: b.durability });
  // Commits per round: how many messages one group commit carried (wrapped on the instance:
  // hubs of one build share the prototype).
  const commit = storage.commit;
  b.commits = 0;
  storage.commit = function () {
    b.commits++;
    return commit.call(this);
  };
  // TAGWIRE_HUB_CPU_SPLIT=1: wall time inside the storage's message calls, per message (commit:
  // the time the event loop is blocked in it).
  b.split = {};
  if (process.env.TAGWIRE_HUB_CPU_SPLIT) {
    for (const name of ["appendMessage", "trimMessages", "commit"]) {
      const fn = storage[name];
      b.split[name] = 0;
      storage[name] = function (...args) {
        const t0 = performance.now();
        try {
          return fn.apply(this, args);
        } finally {
          b.split[name] += performance.now() - t0;
        }
      };
    }
  }
  const hub = await startHub({ dataDir, auth: false, log: () => {}, limits: { framesPerSecond: 1e9 }, storage });
  hubs.push(Object.assign(b, { hub, dataDir, us: [], rates: [] }));
}
const child = fork(
  fileURLToPath(import.meta.url),
  ["--child", JSON.stringify({ urls: hubs.map((h) => h.hub.url), subscribers: Number(opt.subscribers), window: Number(opt.window) })],
  { stdio: ["ignore", "inherit", "inherit", "ipc"] },
);
const next = (type) =>
  new Promise((r) =>
    child.on("message", function l(/** @type {{ type: string }} IPC from the child */ m) {
      if (m.type === type) {
        child.off("message", l);
        r(m);
      }
    }),
  );
await next("ready");
const messages = Number(opt.messages);
const round = async (i) => {
  child.send({ type: "round", hub: i, messages });
  const k0 = hubs[i].commits;
  for (const k in hubs[i].split) hubs[i].split[k] = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await next("done");
  const c = process.cpuUsage(c0);
  return {
    us: (c.user + c.system) / messages,
    rate: messages / ((performance.now() - t0) / 1000),
    perCommit: messages / (hubs[i].commits - k0),
    split: Object.entries(hubs[i].split)
      .map(([k, ms]) => `${k} ${((ms * 1000) / messages).toFixed(2)} us`)
      .join(", "),
  };
};
for (let i = 0; i < hubs.length; i++) await round(i); // warm-up
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (let r = 0; r < Number(opt.rounds); r++) {
  for (let i = 0; i < hubs.length; i++) {
    const x = await round((i + r) % hubs.length);
    const h = hubs[(i + r) % hubs.length];
    h.us.push(x.us);
    h.rates.push(x.rate);
    console.log(
      `round ${r} ${h.name}: ${x.us.toFixed(2)} us CPU/message, ${(x.rate / 1000).toFixed(1)} k msg/s, ${x.perCommit.toFixed(1)} messages per commit ${x.split}`,
    );
  }
}
for (const h of hubs) {
  console.log(
    `${h.name} (${h.dist}, ${h.durability}): median ${median(h.us).toFixed(2)} us CPU per stored message, ${(median(h.rates) / 1000).toFixed(1)} k msg/s (${opt.subscribers} subscriber(s), sync ${opt.sync})`,
  );
}
// Load on a shared machine drifts more between rounds than two builds differ: the ratio of each
// build to the first within a round (adjacent in time) is steadier than either median.
for (const h of hubs.slice(1)) {
  const ratios = h.us.map((us, r) => us / hubs[0].us[r]);
  console.log(`${h.name} / ${hubs[0].name}: median per-round ratio ${median(ratios).toFixed(3)} (${ratios.length} rounds)`);
}
child.kill();
for (const h of hubs) {
  await h.hub.close();
  rmSync(h.dataDir, { recursive: true, force: true });
}
process.exit(0);
