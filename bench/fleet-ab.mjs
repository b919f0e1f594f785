// Fleet writes, A/B of two builds in one process, one side at a time: what the fleet bench
// (bench/fleet.bench.mjs) cannot resolve on a shared 2-core VM, where one build's run lands in a
// quiet phase and the other's in a loaded one. Both builds are loaded side by side and measured
// in alternating phases (the order flips every round), so the machine's phases hit both alike.
//
//   --side hub      two hubs (builds A and B) in this process; the devices (one client build, B's
//                   unless --client) in a child on the other core drive one hub per phase; the
//                   figure is this process's CPU per acknowledged write: the hub's cost.
//   --side devices  the devices of both builds in this process, each with its own viewer of
//                   `+/tag_values`, one hub (B's) in a child; the figure is this process's CPU per
//                   acknowledged write: the client's cost, as in the fleet bench's device process.
//
// A phase: every device of one build keeps WINDOW writes outstanding (the fleet bench's diff and
// window) for PHASE_MS after a 300 ms warm-up. Round 0 is printed but left out of the median
// (JIT warm-up). A build is a `dist` directory: copy an old one aside (with a node_modules link
// beside it) before rebuilding.
//
//   node bench/fleet-ab.mjs --side hub|devices --a <distA> --b <distB> [--rounds 9] [--devices 300]
//                           [--client <dist>]
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const WINDOW = 2;
const WARMUP_MS = 300;
const PHASE_MS = 1500;
const LIMITS = { framesPerSecond: 1e9, maxConnections: 10_000, maxConnectionsPerAddress: 10_000 };

/** The diff a device writes (the fleet bench's). */
const tagDiff = (seq) => ({ bench: { seq, temp: 20 + (seq % 100) / 10 } });

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Connects `n` devices (ids `<prefix>-dev-<i>`) and a viewer through the client build in `dist`. */
async function fleet(dist, url, n, prefix) {
  const { connectSession } = await import(join(dist, "bindings/index.js"));
  const devices = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, k) => {
        const id = `${prefix}-dev-${i + k}`;
        devices.push({ id, session: await connectSession(url, { agentId: id, pingIntervalMs: 0 }), seq: 0 });
      }),
    );
  }
  const viewer = await connectSession(url, { agentId: `${prefix}-viewer`, pingIntervalMs: 0 });
  return { devices, viewer };
}

/**
 * Runs the closed loop on `devices`: a warm-up, then PHASE_MS counted between `onCounting()` and
 * `onCounted(writes acked meanwhile)`. Resolves once every write is acknowledged.
 */
async function loop(devices, onCounting, onCounted) {
  let acked = 0;
  let outstanding = 0;
  let counting = false;
  let stop = false;
  const next = (d) => {
    outstanding++;
    d.session.publish(d.id, "tag_values", tagDiff(d.seq++)).then(() => {
      outstanding--;
      if (counting) acked++;
      if (!stop) next(d);
    });
  };
  for (const d of devices) for (let w = 0; w < WINDOW; w++) next(d);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  counting = true;
  onCounting();
  await new Promise((r) => setTimeout(r, PHASE_MS));
  counting = false;
  onCounted(acked);
  stop = true;
  while (outstanding > 0) await new Promise((r) => setTimeout(r, 10));
}

/** CPU of this process per write and writes per second between the two calls. */
function meter() {
  let c0;
  let t0 = 0;
  let result;
  return {
    start: () => {
      c0 = process.cpuUsage();
      t0 = performance.now();
    },
    stop: (writes) => {
      const c = process.cpuUsage(c0);
      result = { us: (c.user + c.system) / writes, rate: writes / ((performance.now() - t0) / 1000) };
    },
    get result() {
      return result;
    },
  };
}

async function startHub(dist) {
  const { startHub } = await import(join(dist, "hub/index.js"));
  const dataDir = mkdtempSync(join(tmpdir(), "tw-fleet-ab-"));
  const hub = await startHub({ dataDir, auth: false, log: () => {}, limits: LIMITS });
  return {
    url: hub.url,
    stop: async () => {
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Children: a hub (--side devices) or the devices (--side hub)

if (process.argv[2] === "--child-hub") {
  const hub = await startHub(process.argv[3]);
  process.send({ type: "ready", url: hub.url });
  process.on("message", () => hub.stop().then(() => process.exit(0)));
} else if (process.argv[2] === "--child-devices") {
  const { dist, urls, n } = JSON.parse(process.argv[3]);
  const fleets = [];
  for (const [i, url] of urls.entries()) {
    const f = await fleet(dist, url, n, `hub${i}`);
    f.viewer.subscribe("+", "tag_values", () => {});
    fleets.push(f);
  }
  process.on("message", async (/** @type {{ build?: number, exit?: boolean }} */ msg) => {
    if (msg.exit) process.exit(0);
    await loop(
      fleets[msg.build].devices,
      () => process.send({ type: "counting" }),
      (acked) => process.send({ type: "counted", acked }),
    );
    process.send({ type: "idle" });
  });
  process.send({ type: "ready" });
} else {
  await main();
}

async function main() {
  const side = arg("side");
  const dists = [resolve(arg("a", "")), resolve(arg("b", ""))];
  const rounds = Number(arg("rounds", 9));
  const n = Number(arg("devices", 300));
  if ((side !== "hub" && side !== "devices") || !arg("a") || !arg("b")) {
    console.error(
      "usage: node bench/fleet-ab.mjs --side hub|devices --a <distA> --b <distB> [--rounds 9] [--devices 300] [--client <dist>]",
    );
    process.exit(2);
  }
  console.log(`fleet A/B, ${side} side: ${n} devices, window ${WINDOW}, ${rounds} rounds of ${PHASE_MS} ms per build`);
  console.log(`A ${dists[0]}\nB ${dists[1]}`);
  console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
  const self = fileURLToPath(import.meta.url);
  /** @type {(build: number) => Promise<{ us: number, rate: number }>} */
  let phase;
  let finish;
  if (side === "hub") {
    const hubs = [await startHub(dists[0]), await startHub(dists[1])];
    const client = resolve(arg("client", dists[1]));
    const child = fork(self, ["--child-devices", JSON.stringify({ dist: client, urls: hubs.map((h) => h.url), n })]);
    const next = (type) =>
      new Promise((resolve) => {
        const on = (m) => {
          if (m.type === type) {
            child.off("message", on);
            resolve(m);
          }
        };
        child.on("message", on);
      });
    await next("ready");
    phase = async (build) => {
      const m = meter();
      const counting = next("counting");
      const counted = next("counted");
      const idle = next("idle");
      child.send({ build });
      await counting;
      m.start();
      const { acked } = /** @type {{ acked: number }} */ (await counted);
      m.stop(acked);
      await idle;
      return m.result;
    };
    finish = async () => {
      child.send({ exit: true });
      for (const h of hubs) await h.stop();
    };
  } else {
    const child = fork(self, ["--child-hub", dists[1]]);
    const { url } = /** @type {{ url: string }} */ (await new Promise((r) => child.once("message", r)));
    const fleets = [await fleet(dists[0], url, n, "a"), await fleet(dists[1], url, n, "b")];
    phase = async (build) => {
      const { devices, viewer } = fleets[build];
      // Only this build's viewer listens during its phase: its events are part of its cost.
      const unsubscribe = viewer.subscribe("+", "tag_values", () => {});
      await new Promise((r) => setTimeout(r, 300));
      const m = meter();
      await loop(devices, m.start, m.stop);
      unsubscribe();
      await new Promise((r) => setTimeout(r, 100));
      return m.result;
    };
    finish = async () => {
      child.send("stop");
      await new Promise((r) => child.once("exit", r));
    };
  }
  const ratios = [];
  for (let round = 0; round < rounds; round++) {
    const res = [];
    for (const build of round % 2 ? [1, 0] : [0, 1]) res[build] = await phase(build);
    if (round > 0) ratios.push(res[1].us / res[0].us);
    const fmt = (r) => `${r.us.toFixed(2)} us/write ${Math.round(r.rate).toLocaleString("en")}/s`;
    console.log(
      `round ${round}${round ? "" : " (warm-up)"}: A ${fmt(res[0])}   B ${fmt(res[1])}   B/A ${(res[1].us / res[0].us).toFixed(3)}`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log(
    `B/A CPU per write: median ${ratios[ratios.length >> 1].toFixed(3)} (range ${ratios[0].toFixed(3)}-${ratios.at(-1).toFixed(3)})`,
  );
  await finish();
  process.exit(0);
}
