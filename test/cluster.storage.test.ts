// JetStreamStorage under the real hub applier (HubState): three hubs' states on one private
// 3-node JetStream cluster, writes submitted through different hubs at once. Every hub ends with
// the same version and aggregate, and each submitter's outcome equals what every hub applied.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createCore } from "../bindings/core/index.js";
import { decodeValue, encodeValue } from "../bindings/protocol/msgpack.js";
import { JetStreamStorage } from "../hub/cluster/jetstream-storage.js";
import { DEFAULT_LIMITS } from "../hub/limits.js";
import { DEFAULT_RETENTION, HubState } from "../hub/state.js";
import type { Write, WriteOutcome } from "../hub/storage/storage.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster();
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

const publish = (channel: string, diff: unknown, extra: Partial<Extract<Write, { kind: "publish" }>> = {}): Write => ({
  kind: "publish",
  agentId: "dev.1",
  channel,
  diff: encodeValue(diff),
  log: false,
  replace: false,
  replaceKeys: undefined,
  messageId: undefined,
  logId: undefined,
  ts: Date.now(),
  author: undefined,
  ...extra,
});

function submit(storage: JetStreamStorage, w: Write): Promise<WriteOutcome> {
  return new Promise((resolve, reject) => storage.submit(w, (o, e) => (e ? reject(e) : resolve(o!))));
}

async function openHub(name: string, url: string) {
  const storage = new JetStreamStorage({ servers: [url], name, replicas: 3 });
  const core = await createCore();
  const state = await HubState.open(core, storage, DEFAULT_LIMITS, DEFAULT_RETENTION);
  return { storage, state };
}

describe("JetStreamStorage with the hub applier", () => {
  test("concurrent writers through three hubs: one order, same versions and aggregates", async () => {
    const name = `st${Date.now() % 1e6}`;
    const hubs = await Promise.all(cluster.nodes.map((n) => openHub(name, n.url)));
    try {
      const N = 60;
      const outcomes = await Promise.all(
        hubs.flatMap((h, k) => Array.from({ length: N }, (_, i) => submit(h.storage, publish("t:1/x.y", { [`w${k}`]: { [`k${i}`]: i } })))),
      );
      // Every write changed something: versions 1..3N, each once.
      expect(outcomes.map((o) => o.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 3 * N }, (_, i) => i + 1));
      const top = Math.max(...hubs.map((h) => h.storage.appliedSeq));
      for (const h of hubs) {
        while (h.storage.appliedSeq < top) await new Promise((r) => setTimeout(r, 10));
      }
      const aggs = hubs.map((h) => h.state.aggregate("dev.1", "t:1/x.y"));
      for (const a of aggs) expect(a.version).toBe(3 * N);
      const doc = decodeValue(aggs[0]!.aggregate) as Record<string, Record<string, number>>;
      for (let k = 0; k < 3; k++) expect(Object.keys(doc[`w${k}`]!).length).toBe(N);
      expect(Buffer.from(aggs[1]!.aggregate)).toEqual(Buffer.from(aggs[0]!.aggregate));
      expect(Buffer.from(aggs[2]!.aggregate)).toEqual(Buffer.from(aggs[0]!.aggregate));

      // Message-id de-duplication is decided at apply time: the same id through two hubs
      // applies once, on every hub.
      const a = await submit(hubs[0]!.storage, publish("t:1/x.y", { dup: 1 }, { messageId: "m-1" }));
      const b = await submit(hubs[2]!.storage, publish("t:1/x.y", { dup: 2 }, { messageId: "m-1" }));
      expect(a.version).toBe(3 * N + 1);
      expect(b.version).toBe(3 * N + 1);
      expect(decodeValue(b.diff)).toEqual({});

      // A hub started later replays the stream and serves the same state at once.
      const late = await openHub(name, cluster.nodes[1]!.url);
      hubs.push(late);
      const l = late.state.aggregate("dev.1", "t:1/x.y");
      expect(l.version).toBe(3 * N + 1);
      expect((decodeValue(l.aggregate) as any).dup).toBe(1);
    } finally {
      for (const h of hubs) {
        h.state.close();
        await h.storage.close();
      }
    }
  }, 60_000);
});
