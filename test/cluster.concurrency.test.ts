// Concurrency in cluster mode: writers on three different hubs each set their own keys of ONE
// channel hundreds of times at once. Every hub must end with every key, the same version and the
// same aggregate, and every subscriber (one per hub) must see every version exactly once, in
// order, with no gap, and diffs that rebuild the aggregate. Auth is on with one shared secret: the
// one token works on every hub.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AggregateFrame } from "../bindings/protocol/index.js";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { RawClient, tempDir, val } from "./hub-helpers.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

const SECRET = "cluster-shared-secret-for-tests";
let cluster: NatsCluster | undefined;
const hubs: RunningHub[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];
beforeAll(async () => {
  cluster = await startNatsCluster();
  for (const node of cluster.nodes) {
    const dir = tempDir();
    dirs.push(dir);
    hubs.push(
      await startHub({
        auth: true,
        secret: SECRET,
        log: () => {},
        dataDir: dir.dir,
        nats: { servers: [node.url], replicas: 3, name: "conc" },
      }),
    );
  }
}, 60_000);
afterAll(async () => {
  for (const h of hubs) await h.close();
  for (const d of dirs) d.remove();
  await cluster?.stop();
});

/** Applies an effective diff (null deletes) to a plain object, as a subscriber would. */
function applyDiff(target: Record<string, any>, diff: Record<string, any>): void {
  for (const [k, v] of Object.entries(diff)) {
    if (v === null) delete target[k];
    else if (typeof v === "object" && !Array.isArray(v) && typeof target[k] === "object" && target[k] !== null) applyDiff(target[k], v);
    else target[k] = v;
  }
}

describe("cluster concurrency", () => {
  test("three writers on three hubs, 200 writes each to one channel: one order everywhere", async () => {
    const PER_WRITER = 200;
    const KEYS = 8;
    const token = createToken(SECRET, { agentId: "plant", role: "device" });
    const subs = await Promise.all(hubs.map((h) => RawClient.connect(h.url, "plant", token)));
    for (const s of subs) await s.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "plant", pattern: "line/state" });
    const writers = await Promise.all(hubs.map((h) => RawClient.connect(h.url, "plant", token)));
    const acks = await Promise.all(
      writers.flatMap((w, k) =>
        Array.from({ length: PER_WRITER }, (_, i) => w.publish("plant", "line/state", { [`w${k}`]: { [`k${i % KEYS}`]: i } })),
      ),
    );
    const total = 3 * PER_WRITER;
    expect(acks.map((a) => a.version).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    const finals = await Promise.all(subs.map((s) => s.waitFor((f) => f.type === "aggregate" && f.version === total, 20_000)));
    expect(finals).toHaveLength(3);
    const expected: Record<string, Record<string, number>> = {};
    for (let k = 0; k < 3; k++) {
      expected[`w${k}`] = {};
      for (let i = PER_WRITER - KEYS; i < PER_WRITER; i++) expected[`w${k}`]![`k${i % KEYS}`] = i;
    }
    let firstDiffs: unknown[] | undefined;
    for (const s of subs) {
      const events = s.received.filter((f): f is AggregateFrame => f.type === "aggregate");
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const rebuilt: Record<string, any> = {};
      for (const e of events) applyDiff(rebuilt, val(e.diff) as Record<string, any>);
      expect(rebuilt).toEqual(expected);
      // The same effective diff per version on every hub.
      const diffs = events.map((e) => Buffer.from(e.diff).toString("hex"));
      if (firstDiffs) expect(diffs).toEqual(firstDiffs);
      else firstDiffs = diffs;
      const agg = await s.request({ type: "getAggregate", reqId: 0, agentId: "plant", channel: "line/state" });
      expect(agg.version).toBe(total);
      expect(val(agg.aggregate)).toEqual(expected);
    }
    await Promise.all([...subs, ...writers].map((c) => c.close()));
  }, 60_000);
});
