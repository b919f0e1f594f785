// `tagwire start --cluster` (examples/cluster-demo.ts) on a private 3-node JetStream cluster: the
// simulated device writes through hub A, and its tags, UI and logged readings appear on hub C;
// a UI command written on hub C reaches the device's app on hub A.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startClusterDemo, type RunningClusterDemo } from "../examples/cluster-demo.js";
import { RawClient, tempDir, val } from "./hub-helpers.js";
import { eventually } from "./hub.contract.cases.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster | undefined;
let demo: RunningClusterDemo | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
beforeAll(async () => {
  cluster = await startNatsCluster();
  dir = tempDir();
  demo = await startClusterDemo({
    port: 0,
    dataDir: dir.dir,
    natsServers: cluster.nodes.map((n) => n.url),
    clusterName: "demo",
    loopPeriodMs: 50,
    seed: 7,
    log: () => {},
    hubLog: () => {},
  });
}, 60_000);
afterAll(async () => {
  await demo?.close();
  await cluster?.stop();
  dir?.remove();
});

describe("tagwire start --cluster", () => {
  test("the device on hub A is seen on hub C, and a command from hub C reaches it", async () => {
    const hubC = demo!.others[1]!;
    const viewer = await RawClient.connect(hubC.url, "viewer");
    const tags = await eventually(
      () => viewer.request({ type: "getAggregate", reqId: 0, agentId: "climate-chamber", channel: "tag_values" }),
      (a: any) => expect((val(a.aggregate) as any)?.climate?.temperature).toBeTypeOf("number"),
      20_000,
    );
    expect(tags.version).toBeGreaterThan(0);
    const history = await eventually(
      () => viewer.request({ type: "getMessages", reqId: 0, agentId: "climate-chamber", channel: "sensors/climate" }),
      (h: any) => expect(h.messages.length).toBeGreaterThan(0),
      10_000,
    );
    expect(val(history.messages[0].data)).toHaveProperty("temperature");
    // Start the heater from hub C: the app on hub A sees the command and reports it.
    await viewer.publish("climate-chamber", "ui_cmds", { climate: { start: true } });
    await eventually(
      () => viewer.request({ type: "getAggregate", reqId: 0, agentId: "climate-chamber", channel: "tag_values" }),
      (a: any) => expect((val(a.aggregate) as any).climate.heater).toBe("on"),
      20_000,
    );
    await viewer.close();
  }, 60_000);
});
