// Faults in cluster mode, on real processes: three hubs (`tagwire hub --nats ...` child processes)
// on a private 3-node JetStream cluster (R3). A writer publishes logged writes with message ids,
// one at a time, reconnecting to the next hub whenever its hub or the write fails and resending
// the same id (as the SDK's outbox does). At seeded random moments one hub is killed with -9 (and
// restarted) and one NATS node is killed with -9 (and restarted). Afterwards every hub holds every
// acknowledged write, all hubs agree on version and aggregate, the log holds each id once, and a
// subscriber that lost its hub resyncs on another by version.
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RawClient, tempDir, transpileForChild, val } from "./hub-helpers.js";
import { freePort, startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";
import { eventually } from "./hub.contract.cases.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

class HubProcess {
  proc: ChildProcess | undefined;
  readonly url: string;
  /** The hub's log (stderr), for failure messages. */
  stderr = "";
  constructor(
    readonly cli: string,
    readonly port: number,
    readonly dataDir: string,
    readonly nats: string,
  ) {
    this.url = `ws://127.0.0.1:${port}`;
  }

  /** Starts the hub; resolves once it listens (after it caught up with the stream). */
  start(): Promise<void> {
    const p = spawn(
      process.execPath,
      [
        this.cli,
        "hub",
        "--no-auth",
        "--host",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--data-dir",
        this.dataDir,
        "--nats",
        this.nats,
        "--nats-replicas",
        "3",
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TAGWIRE_CLUSTER_NAME: undefined } },
    );
    this.proc = p;
    let err = "";
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hub on ${this.port} did not start: ${err}`)), 20_000);
      p.stderr!.on("data", (d: Buffer) => {
        err = (err + d.toString()).slice(-4000);
        this.stderr = (this.stderr + d.toString()).slice(-8000);
        if (err.includes("listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`hub on ${this.port} exited (${code}): ${err}`));
      });
    });
  }

  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.pid === undefined) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid, "SIGKILL");
    await gone;
  }
}

let cluster: NatsCluster | undefined;
let build: ReturnType<typeof tempDir> | undefined;
const dirs: ReturnType<typeof tempDir>[] = [];
const hubs: HubProcess[] = [];

beforeAll(async () => {
  build = tempDir("tagwire-build-");
  const cli = await transpileForChild("cli/tagwire.ts", build.dir);
  cluster = await startNatsCluster();
  for (let i = 0; i < 3; i++) {
    const dir = tempDir();
    dirs.push(dir);
    // Each hub knows every NATS node (it fails over), starting with its own.
    const urls = [...cluster.nodes.slice(i), ...cluster.nodes.slice(0, i)].map((n) => n.url).join(",");
    hubs.push(new HubProcess(cli, await freePort(), dir.dir, urls));
  }
  await Promise.all(hubs.map((h) => h.start()));
}, 90_000);

afterAll(async () => {
  if (process.env.DEBUG_CLUSTER) for (const h of hubs) console.log(`hub ${h.port}:\n${h.stderr}`);
  for (const h of hubs) await h.kill();
  await cluster?.stop();
  for (const d of dirs) d.remove();
  build?.remove();
});

describe("cluster faults", () => {
  test("kill -9 of a hub and of a NATS node mid-stream: no acknowledged write lost, clients resync", async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    console.log(`cluster.faults seed=${seed}`);
    const r = rng(seed);
    const COUNT = 150;
    const hubKillAt = 20 + Math.floor(r() * 60);
    const natsKillAt = 60 + Math.floor(r() * 60);
    const victimHub = Math.floor(r() * 3);
    const victimNode = Math.floor(r() * 3);
    console.log(`kill hub ${victimHub} after write ${hubKillAt}, NATS node ${victimNode} after write ${natsKillAt}`);

    // A subscriber on the victim hub: it will lose its hub and resync on another.
    let subHub = victimHub;
    let sub = await RawClient.connect(hubs[subHub]!.url, "watcher");
    await sub.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "dev", pattern: "line" });
    let held = 0;
    const track = (c: RawClient) =>
      c.ws.on("message", () => {
        for (const f of c.received.splice(0)) {
          if (f.type === "aggregate" && f.version > held) held = f.version;
          if (f.type === "sync" && f.version > held) held = f.version;
        }
      });
    track(sub);

    const acked: number[] = [];
    let c: RawClient | undefined;
    let target = 0;
    const faults: Promise<void>[] = [];
    for (let i = 0; i < COUNT; i++) {
      if (i === hubKillAt)
        faults.push(
          hubs[victimHub]!.kill()
            .then(() => sleep(300))
            .then(() => hubs[victimHub]!.start()),
        );
      if (i === natsKillAt)
        faults.push(
          cluster!
            .kill(victimNode)
            .then(() => sleep(1500))
            .then(() => cluster!.restart(victimNode)),
        );
      for (let attempt = 0; ; attempt++) {
        if (attempt > 200) throw new Error(`write ${i} never acknowledged (seed ${seed})`);
        try {
          if (!c || c.closeCode !== undefined) c = await RawClient.connect(hubs[target % 3]!.url, "dev");
          const ack = await c.publish("dev", "line", { [`k${i}`]: i }, { log: true, messageId: `m-${i}` });
          expect(ack.message.id).toBe(`m-${i}`);
          acked.push(i);
          break;
        } catch {
          c?.ws.terminate();
          c = undefined;
          target++;
          await sleep(100);
        }
      }
    }
    await Promise.all(faults);
    await cluster!.waitReady();
    expect(acked).toHaveLength(COUNT);

    // The subscriber lost its hub (killed -9): it reconnects to another hub and resyncs from the
    // version it holds.
    expect(sub.closeCode).toBeDefined();
    subHub = (victimHub + 1) % 3;
    sub = await RawClient.connect(hubs[subHub]!.url, "watcher");
    track(sub);
    await sub.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "dev", pattern: "line", known: { "dev/line": held } });

    const expected: Record<string, number> = {};
    for (const i of acked) expected[`k${i}`] = i;
    const states = [];
    for (const h of hubs) {
      const reader = await RawClient.connect(h.url, "reader");
      const agg = await eventually(
        () => reader.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "line" }),
        (a: any) => expect(Object.keys(val(a.aggregate) as object).length).toBe(COUNT),
        20_000,
      );
      expect(val(agg.aggregate)).toEqual(expected);
      const history = await reader.request({ type: "getMessages", reqId: 0, agentId: "dev", channel: "line", limit: 1000 });
      expect(history.messages.map((m: any) => m.id)).toEqual(acked.map((i) => `m-${i}`));
      states.push(agg.version);
      await reader.close();
    }
    expect(new Set(states).size).toBe(1);
    expect(states[0]).toBe(COUNT);
    await eventually(
      async () => held,
      (v) => expect(v).toBe(COUNT),
      10_000,
    );
    await Promise.all([c?.close(), sub.close()]);
  }, 120_000);
});
