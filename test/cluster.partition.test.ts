// Partition: a hub whose NATS connection is cut (through a TCP relay the test controls) refuses
// writes with TAGWIRE_ERR_UNAVAILABLE rather than accept what it cannot make durable, keeps
// serving reads, and heals by itself when the link is back: it applies what other hubs wrote
// meanwhile and accepts writes again.
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHub, type RunningHub } from "../hub/index.js";
import { RawClient, tempDir, val } from "./hub-helpers.js";
import { eventually } from "./hub.contract.cases.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

/** A TCP relay to `port` that can drop every connection and refuse new ones until healed. */
class Relay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  port = 0;
  constructor(private readonly target: number) {
    this.server = createServer((client) => {
      if (this.cutOff) return void client.destroy();
      const upstream = tcpConnect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }
  heal(): void {
    this.cutOff = false;
  }
  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let cluster: NatsCluster | undefined;
let relay: Relay | undefined;
const hubs: RunningHub[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];
beforeAll(async () => {
  cluster = await startNatsCluster();
  relay = new Relay(cluster.nodes[0]!.clientPort);
  await relay.listen();
  const servers = [[`nats://127.0.0.1:${relay.port}`], [cluster.nodes[1]!.url]];
  for (const s of servers) {
    const dir = tempDir();
    dirs.push(dir);
    hubs.push(await startHub({ auth: false, log: () => {}, dataDir: dir.dir, nats: { servers: s, replicas: 3, name: "part" } }));
  }
}, 60_000);
afterAll(async () => {
  for (const h of hubs) await h.close();
  await relay?.close();
  for (const d of dirs) d.remove();
  await cluster?.stop();
});

describe("cluster partition", () => {
  test("a hub cut off from NATS refuses writes, serves reads, and heals by itself", async () => {
    const [cut, ok] = hubs as [RunningHub, RunningHub];
    const a = await RawClient.connect(cut.url, "dev");
    const b = await RawClient.connect(ok.url, "dev");
    expect((await a.publish("dev", "state", { x: 1 })).version).toBe(1);
    await eventually(
      () => b.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "state" }),
      (g: any) => expect(g.version).toBe(1),
    );

    relay!.cut();
    await eventually(
      async () => {
        try {
          return await a.publish("dev", "state", { x: 2 });
        } catch (err) {
          return err;
        }
      },
      (r: any) => expect(r.code).toBe("TAGWIRE_ERR_UNAVAILABLE"),
      15_000,
    );
    // The other hub still writes; the cut hub still answers reads (with what it has).
    expect((await b.publish("dev", "state", { y: 1 })).version).toBe(2);
    const stale = await a.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "state" });
    expect([stale.version, val(stale.aggregate)]).toEqual([1, { x: 1 }]);

    relay!.heal();
    // Back: it applies what it missed, then accepts writes again.
    await eventually(
      () => a.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "state" }),
      (g: any) => expect(g.version).toBe(2),
      15_000,
    );
    const again = await eventually(
      async () => {
        try {
          return await a.publish("dev", "state", { x: 3 });
        } catch (err) {
          return err;
        }
      },
      (r: any) => expect(r.version).toBe(3),
      15_000,
    );
    expect(val(again.diff)).toEqual({ x: 3 });
    await eventually(
      () => b.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "state" }),
      (g: any) => expect([g.version, val(g.aggregate)]).toEqual([3, { x: 3, y: 1 }]),
    );
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
