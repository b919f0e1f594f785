// The hub over a storage that orders writes itself (ordering "log", as cluster mode will): the
// Storage contract, and the WebSocket and HTTP paths end to end. With such a storage a publish
// batch cannot take the core pipeline (the log decides the order), acks come from `done` after
// the storage applied the write, and history reads are asynchronous.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import type { AggregateFrame } from "../bindings/protocol/index.js";
import { RawClient, doc, val } from "./hub-helpers.js";
import { QueuedStorage } from "./support/queued-storage.js";
import { describeStorageContract } from "./support/storage-contract.js";

describeStorageContract("sqlite behind a FIFO (ordering log)", {
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), "tw-queued-"));
    return {
      open: () => new QueuedStorage(dir, { synchronous: "normal" }),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  sharedLog: false,
  expiresOnCall: true,
});

describe("hub over a log-ordered storage", () => {
  const SECRET = "log-ordering";
  let dir: string;
  let storage: QueuedStorage;
  let hub: RunningHub;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tw-queued-hub-"));
    storage = new QueuedStorage(dir, { synchronous: "normal" });
    hub = await startHub({ dataDir: dir, storage, secret: SECRET, log: () => {} });
  });
  afterAll(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = (agentId: string, role: "device" | "operator") => createToken(SECRET, { agentId, role });

  test("a plain publish batch goes through the log: acks in frame order with consecutive versions, events to subscribers, device rule kept", async () => {
    const dev = await RawClient.connect(hub.url, "dev-1", token("dev-1", "device"));
    const ops = await RawClient.connect(hub.url, "ops", token("ops", "operator"));
    await ops.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "dev-1", pattern: "#" });
    const before = storage.applied.length;
    const frames = Array.from({ length: 20 }, (_, i) => ({
      type: "publish" as const,
      reqId: 100 + i,
      agentId: "dev-1",
      channel: `c${i % 2}`,
      diff: doc({ i }),
    }));
    frames.push({ type: "publish", reqId: 200, agentId: "dev-2", channel: "c0", diff: doc({ no: 1 }) });
    dev.send(frames);
    const err = await dev.waitFor((f) => f.type === "error" && f.reqId === 200);
    expect(err).toMatchObject({ code: "TAGWIRE_ERR_FORBIDDEN" });
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push((await dev.waitFor((f) => f.type === "ack" && f.reqId === 100 + i)) as any);
    // acks keep the order of the frames
    const order = dev.received.filter((f) => f.type === "ack" && f.reqId >= 100).map((f) => (f as any).reqId);
    expect(order).toEqual(frames.slice(0, 20).map((f) => f.reqId));
    expect(acks.filter((_, i) => i % 2 === 0).map((a) => a.result.version)).toEqual([...Array(10).keys()].map((k) => k + 1));
    expect(acks.filter((_, i) => i % 2 === 1).map((a) => a.result.version)).toEqual([...Array(10).keys()].map((k) => k + 1));
    await ops.waitFor((f) => f.type === "aggregate" && f.channel === "c1" && f.version === 10);
    const events = ops.received.filter((f): f is AggregateFrame => f.type === "aggregate" && f.channel === "c0");
    expect(events.map((e) => [e.version, val(e.diff)])).toEqual([...Array(10).keys()].map((k) => [k + 1, { i: 2 * k }]));
    expect(storage.applied.length - before).toBe(20);
    await Promise.all([dev.close(), ops.close()]);
  });

  test("messages, idempotent ids, async history reads and HTTP writes", async () => {
    const ops = await RawClient.connect(hub.url, "dev-3", token("dev-3", "device"));
    const m1 = await ops.request({
      type: "createMessage",
      reqId: 0,
      agentId: "dev-3",
      channel: "log",
      data: doc({ n: 1 }),
      messageId: "a",
    });
    const again = await ops.request({
      type: "createMessage",
      reqId: 0,
      agentId: "dev-3",
      channel: "log",
      data: doc({ n: 2 }),
      messageId: "a",
    });
    expect(again).toEqual(m1);
    const p1 = await ops.request({ type: "publish", reqId: 0, agentId: "dev-3", channel: "state", diff: doc({ x: 1 }), messageId: "p" });
    const p2 = await ops.request({ type: "publish", reqId: 0, agentId: "dev-3", channel: "state", diff: doc({ x: 2 }), messageId: "p" });
    expect([p1.version, p2.version, val(p2.diff)]).toEqual([1, 1, {}]);
    const res = await fetch(`${hub.httpUrl}/agents/dev-3/channels/log/messages?messageId=b`, {
      method: "POST",
      headers: { authorization: `Bearer ${token("dev-3", "device")}`, "content-type": "application/json" },
      body: JSON.stringify({ n: 3 }),
    });
    expect(res.status).toBe(201);
    const history = await ops.request({ type: "getMessages", reqId: 0, agentId: "dev-3", channel: "log" });
    expect(history.messages.map((m: any) => [m.id, val(m.data)])).toEqual([
      ["a", { n: 1 }],
      ["b", { n: 3 }],
    ]);
    await ops.close();
  });
});
