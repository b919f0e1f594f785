// The JetStream write log on a private 3-node cluster: three logs (three "hubs") append
// concurrently and each follows the stream; all see every record once, in one order.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { JetStreamLog } from "../hub/cluster/jetstream-log.js";
import type { WriteRecord } from "../hub/cluster/record.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster();
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

const rec = (origin: string, i: number): WriteRecord => ({
  write: {
    kind: "publish",
    agentId: "dev.1",
    channel: "sensors/t:1",
    diff: encodeValue({ [origin]: i }),
    log: false,
    replace: false,
    replaceKeys: undefined,
    messageId: undefined,
    logId: undefined,
    ts: Date.now(),
    author: undefined,
  },
  origin,
  ref: i,
});

describe("JetStream write log on a 3-node cluster", () => {
  test("three logs append at once and all follow one order", async () => {
    const urls = cluster.nodes.map((n) => n.url);
    const logs = await Promise.all(urls.map((u) => JetStreamLog.open({ servers: [u], name: "logtest", replicas: 3 })));
    try {
      const seen: string[][] = [[], [], []];
      await Promise.all(logs.map((l, i) => l.follow(1, (seq, r) => seen[i]!.push(`${seq}:${r.origin}:${r.ref}`))));
      const N = 100;
      const acked = await Promise.all(logs.flatMap((l) => Array.from({ length: N }, (_, i) => l.append(rec(`h${logs.indexOf(l)}`, i)))));
      expect(new Set(acked).size).toBe(3 * N);
      const top = Math.max(...acked);
      await Promise.all(logs.map((l) => l.waitApplied(top)));
      expect(seen[0]!.length).toBe(3 * N);
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[2]).toEqual(seen[0]);
      expect(seen[0]!.map((s) => Number(s.split(":")[0]))).toEqual([...acked].sort((a, b) => a - b));
    } finally {
      await Promise.all(logs.map((l) => l.close()));
    }
  }, 30_000);
});
