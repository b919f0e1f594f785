// Retention and snapshots in cluster mode: the stream keeps only `maxMessagesPerChannel` records
// per channel subject (JetStream limits), yet a hub that starts later serves every aggregate
// complete: it restores the channels' snapshots (KV) and applies only the records after them;
// message logs come back from the stream, limited as in the single hub.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createCore } from "../bindings/core/index.js";
import { decodeValue, encodeValue } from "../bindings/protocol/msgpack.js";
import { JetStreamStorage } from "../hub/cluster/jetstream-storage.js";
import { DEFAULT_LIMITS } from "../hub/limits.js";
import { HubState } from "../hub/state.js";
import type { Write, WriteOutcome } from "../hub/storage/storage.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster();
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

const RETENTION = { maxMessagesPerChannel: 5, maxMessageAgeMs: 0 };

const write = (channel: string, diff: unknown, log = false): Write => ({
  kind: "publish",
  agentId: "dev",
  channel,
  diff: encodeValue(diff),
  log,
  replace: false,
  replaceKeys: undefined,
  messageId: undefined,
  logId: log ? `id-${channel}-${JSON.stringify(diff)}` : undefined,
  ts: Date.now(),
  author: undefined,
});

const submit = (s: JetStreamStorage, w: Write) =>
  new Promise<WriteOutcome>((resolve, reject) => s.submit(w, (o, e) => (e ? reject(e) : resolve(o!))));

async function openHub(node: number) {
  const storage = new JetStreamStorage({
    servers: [cluster.nodes[node]!.url],
    name: "ret",
    replicas: 3,
    retention: RETENTION,
    snapshotIntervalMs: 50,
  });
  const state = await HubState.open(await createCore(), storage, DEFAULT_LIMITS, RETENTION);
  return {
    storage,
    state,
    close: async () => {
      state.close();
      await storage.close();
    },
  };
}

describe("cluster retention and snapshots", () => {
  test("limits drop old records; a later hub restores snapshots and serves complete aggregates", async () => {
    const a = await openHub(0);
    for (let i = 0; i < 30; i++) await submit(a.storage, write("state", { [`k${i}`]: i }));
    for (let i = 0; i < 12; i++) await submit(a.storage, write("events", { n: i }, true));
    await new Promise((r) => setTimeout(r, 200));
    await a.storage.flushSnapshots();

    // JetStream kept at most 5 records per channel subject.
    const nc = await connect({ servers: cluster.nodes[1]!.url });
    const info = await (await jetstreamManager(nc)).streams.info("TW_ret");
    expect(info.state.messages).toBe(10);
    await nc.close();

    // Writes after the snapshot are applied on top of it by a starting hub.
    await submit(a.storage, write("state", { late: true }));
    const b = await openHub(2);
    const agg = b.state.aggregate("dev", "state");
    expect(agg.version).toBe(31);
    const doc = decodeValue(agg.aggregate) as Record<string, unknown>;
    expect(Object.keys(doc).length).toBe(31);
    expect(doc.k0).toBe(0);
    expect(doc.late).toBe(true);
    expect(b.state.aggregate("dev", "events")).toEqual(a.state.aggregate("dev", "events"));
    const history = await b.state.messages("dev", "events", undefined, undefined, 100);
    expect(history.map((m) => (decodeValue(m.data) as { n: number }).n)).toEqual([7, 8, 9, 10, 11]);

    // Both keep going in one order.
    const o = await submit(b.storage, write("state", { k0: "again" }));
    expect(o.version).toBe(32);
    await a.close();
    await b.close();
    const c = await openHub(1);
    expect(c.state.aggregate("dev", "state").version).toBe(32);
    expect((decodeValue(c.state.aggregate("dev", "state").aggregate) as Record<string, unknown>).k0).toBe("again");
    await c.close();
  }, 60_000);
});
