// Cluster mode against the single hub, side by side in one run (issue 10):
//   latency   cross-hub delivery: a device publishes on hub A at a steady rate, a viewer
//             subscribed on hub C gets the aggregate event; p50/p99 of send -> event (both ends in
//             this process, one clock). The same on ONE SQLite hub (publish and event on it).
//   cpu       ingest + fan-out at a steady rate: DEVICES device connections on hub A write their
//             own `tag_values`, one viewer on hub C subscribes `+/tag_values`. CPU (user+sys from
//             /proc) of every hub process and every nats-server process, per message. The same
//             workload on one SQLite hub (synchronous=FULL, the default).
// The hubs are real `tagwire hub` processes (dist/cli), on a private 3-node JetStream cluster
// (R3) started here with Debian's nats-server on free loopback ports (test/support/nats-cluster.ts,
// transpiled on the fly), stopped by PID at the end. Clients run in this process.
//
// `npm run build` first, then `node bench/cluster.bench.mjs`. TAGWIRE_CLUSTER_RUNS (default 3)
// repeats the comparison; the spread over runs is printed.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.env.TAGWIRE_CLUSTER_RUNS ?? 3);
const LATENCY_RATE = 200; // msg/s
const LATENCY_MS = 3000;
const CPU_RATE = 1000; // msg/s over all devices
const CPU_MS = 4000;
const DEVICES = 50;
const CLK_TCK = 100; // /proc/<pid>/stat ticks per second on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function loadNatsHarness() {
  const ts = (await import("typescript")).default;
  const src = readFileSync(join(ROOT, "test/support/nats-cluster.ts"), "utf8");
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const file = join(mkdtempSync(join(tmpdir(), "tw-bench-")), "nats-cluster.mjs");
  writeFileSync(file, out.outputText);
  return import(file);
}

/** A `tagwire hub` child process; resolves once it listens. */
async function startHubProcess(args, port) {
  const dataDir = mkdtempSync(join(tmpdir(), "tw-bench-hub-"));
  const p = spawn(
    process.execPath,
    [
      join(ROOT, "dist/cli/tagwire.js"),
      "hub",
      "--no-auth",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--frames-per-second",
      "0",
      ...args,
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  await new Promise((resolve, reject) => {
    p.stderr.on("data", (d) => {
      err += d;
      if (err.includes("listening on")) resolve();
    });
    p.once("exit", (code) => reject(new Error(`hub exited ${code}: ${err}`)));
  });
  return {
    pid: p.pid,
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await gone;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function session(url, agentId) {
  const { connectSession } = await import("../dist/bindings/index.js");
  return connectSession(url, { agentId, pingIntervalMs: 0 });
}

/** Steady publishes on `pubUrl`, events on `subUrl`: latencies (ms) of send -> event. */
async function latency(pubUrl, subUrl, tag) {
  const viewer = await session(subUrl, "lat-viewer");
  const dev = await session(pubUrl, "lat-dev");
  const sent = new Map();
  const lat = [];
  const channel = `lat/${tag}`;
  await new Promise((resolve) => {
    viewer.subscribe("lat-dev", channel, (e) => {
      if (e.type === "sync") resolve();
      const diff = e.type === "aggregate" ? /** @type {{ seq?: number }} */ (e.diff) : undefined;
      if (diff?.seq !== undefined) {
        const t = sent.get(diff.seq);
        if (t !== undefined) lat.push(performance.now() - t);
      }
    });
    setTimeout(resolve, 300);
  });
  const n = Math.round((LATENCY_RATE * LATENCY_MS) / 1000);
  const start = performance.now();
  const acks = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / LATENCY_RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    sent.set(i, performance.now());
    acks.push(dev.publish("lat-dev", channel, { seq: i }));
  }
  await Promise.all(acks);
  const deadline = Date.now() + 5000;
  while (lat.length < n && Date.now() < deadline) await sleep(20);
  await dev.close(100);
  await viewer.close(100);
  return { p50: pct(lat, 50), p99: pct(lat, 99), received: lat.length, sent: n };
}

/** The ingest + fan-out workload at CPU_RATE; CPU seconds per message of every pid in `pids`. */
async function cpuPerMessage(pubUrl, subUrl, pids, tag) {
  const viewer = await session(subUrl, `cpu-viewer-${tag}`);
  let events = 0;
  await new Promise((resolve) => {
    viewer.subscribe("+", "tag_values", (e) => {
      if (e.type === "sync") resolve();
      if (e.type === "aggregate" && e.agentId.startsWith(`cpu-${tag}-`)) events++;
    });
    setTimeout(resolve, 300);
  });
  const devices = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await session(pubUrl, `cpu-${tag}-${i}`));
  const n = Math.round((CPU_RATE * CPU_MS) / 1000);
  const before = pids.map((p) => cpuSeconds(p.pid));
  const start = performance.now();
  const acks = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / CPU_RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const d = i % DEVICES;
    acks.push(devices[d].publish(`cpu-${tag}-${d}`, "tag_values", { bench: { seq: i, temp: 20 + (i % 100) / 10 } }));
  }
  await Promise.all(acks);
  const deadline = Date.now() + 10_000;
  while (events < n && Date.now() < deadline) await sleep(20);
  const after = pids.map((p) => cpuSeconds(p.pid));
  for (const d of devices) await d.close(100);
  await viewer.close(100);
  const perMsgUs = {};
  pids.forEach((p, i) => {
    perMsgUs[p.name] = ((after[i] - before[i]) / n) * 1e6;
  });
  return { perMsgUs, events, n };
}

async function oneRun(harness, run) {
  const out = {};
  // --- cluster: 3 nodes, R3, three hubs
  const cluster = await harness.startNatsCluster();
  const hubs = [];
  try {
    const ports = [];
    for (let i = 0; i < 3; i++) ports.push(await harness.freePort());
    for (let i = 0; i < 3; i++) {
      hubs.push(await startHubProcess(["--nats", cluster.nodes[i].url, "--nats-replicas", "3"], ports[i]));
    }
    out.clusterLatency = await latency(hubs[0].url, hubs[2].url, `c${run}`);
    const pids = [
      ...hubs.map((h, i) => ({ name: `hub ${"ABC"[i]}`, pid: h.pid })),
      ...cluster.nodes.map((n) => ({ name: `nats ${n.name}`, pid: n.pid })),
    ];
    out.clusterCpu = await cpuPerMessage(hubs[0].url, hubs[2].url, pids, `c${run}`);
  } finally {
    for (const h of hubs) await h.stop();
    await cluster.stop();
  }
  // --- single hub, SQLite (synchronous=FULL)
  const single = await startHubProcess([], await harness.freePort());
  try {
    out.singleLatency = await latency(single.url, single.url, `s${run}`);
    out.singleCpu = await cpuPerMessage(single.url, single.url, [{ name: "hub", pid: single.pid }], `s${run}`);
  } finally {
    await single.stop();
  }
  return out;
}

const harness = await loadNatsHarness();
console.log(`cluster bench: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`latency: ${LATENCY_RATE} msg/s for ${LATENCY_MS} ms; cpu: ${DEVICES} devices, ${CPU_RATE} msg/s for ${CPU_MS} ms, 1 viewer`);
const runs = [];
for (let r = 0; r < RUNS; r++) {
  const o = await oneRun(harness, r);
  runs.push(o);
  const sum = (m) => Object.values(m).reduce((a, b) => a + b, 0);
  const hubsUs = (m) =>
    Object.entries(m)
      .filter(([k]) => k.startsWith("hub"))
      .reduce((a, [, v]) => a + v, 0);
  const natsUs = (m) =>
    Object.entries(m)
      .filter(([k]) => k.startsWith("nats"))
      .reduce((a, [, v]) => a + v, 0);
  o.summary = {
    "cross-hub p50 ms": o.clusterLatency.p50,
    "cross-hub p99 ms": o.clusterLatency.p99,
    "single p50 ms": o.singleLatency.p50,
    "single p99 ms": o.singleLatency.p99,
    "cluster hub A us/msg": o.clusterCpu.perMsgUs["hub A"],
    "cluster hub C us/msg": o.clusterCpu.perMsgUs["hub C"],
    "cluster 3 hubs us/msg": hubsUs(o.clusterCpu.perMsgUs),
    "cluster 3 nats us/msg": natsUs(o.clusterCpu.perMsgUs),
    "cluster total us/msg": sum(o.clusterCpu.perMsgUs),
    "single hub us/msg": o.singleCpu.perMsgUs.hub,
  };
  console.log(
    `run ${r + 1}: latency received ${o.clusterLatency.received}/${o.clusterLatency.sent} (cluster), ${o.singleLatency.received}/${o.singleLatency.sent} (single); events ${o.clusterCpu.events}/${o.clusterCpu.n} (cluster), ${o.singleCpu.events}/${o.singleCpu.n} (single)`,
  );
  console.log(
    `run ${r + 1}: cpu us/msg by process (cluster)`,
    Object.fromEntries(Object.entries(o.clusterCpu.perMsgUs).map(([k, v]) => [k, +v.toFixed(1)])),
  );
}
const keys = Object.keys(runs[0].summary);
console.table(
  keys.map((k) => {
    const xs = runs.map((r) => r.summary[k]);
    return { measure: k, median: +median(xs).toFixed(2), min: +Math.min(...xs).toFixed(2), max: +Math.max(...xs).toFixed(2) };
  }),
);
process.exit(0);
