// The per-channel cache alone. Events come from a scripted peer over a real in-process transport
// and through the client's inbound decoder; the cache's reads (re-reading an aggregate after a
// gap, fetching missed messages) go back to the same peer, which answers from a small model of
// the channel it holds. Versions, gap repair, resubscribe, catch-up with dedupe, pruning.
import { afterEach, describe, expect, it } from "vitest";
import { ChannelCache } from "../bindings/client/channel-cache.js";
import { Requests } from "../bindings/client/requests.js";
import { SendQueue } from "../bindings/client/send-queue.js";
import { receiveBatch } from "../bindings/client/inbound.js";
import { decodeDoc } from "../bindings/client/wire.js";
import { MemoryTransport } from "../bindings/transports/memory.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import type { ChannelEvent, Json } from "../bindings/sdk/session.js";
import { ScriptedPeer, until } from "./fixtures/client-peer.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

interface Model {
  version: number;
  aggregate: Json;
  messages: { id: string; ts: number; data: Json }[];
}

async function harness(catchUpLimit = 100) {
  const q = new SendQueue();
  const r = new Requests({ sink: q, timeoutMs: 5_000 });
  const errors: string[] = [];
  const model: Model = { version: 0, aggregate: {}, messages: [] };
  const reads: string[] = [];
  const cache: ChannelCache = new ChannelCache({
    source: {
      readAggregate: async (agentId, channel) => {
        const res = (await r.request("read", { type: "getAggregate", reqId: 0, agentId, channel })) as {
          version: number;
          aggregate: Uint8Array;
        };
        return { version: res.version, aggregate: decodeDoc(res.aggregate) };
      },
      getMessages: async (agentId, channel, query) => {
        const res = (await r.request("read", { type: "getMessages", reqId: 0, agentId, channel, ...query })) as {
          messages: { id: string; ts: number; data: Uint8Array }[];
        };
        return res.messages.map((m) => ({ id: m.id, agentId, channel, ts: m.ts, data: decodeDoc(m.data) }));
      },
      gen: () => 1,
      online: () => true,
    },
    catchUpLimit,
    onError: (e, context) => errors.push(`${context}: ${(e as Error).message}`),
  });
  const [near, far] = MemoryTransport.pair();
  const peer = new ScriptedPeer(far);
  await until(() => near.state === "open");
  near.onFrame((bytes) => receiveBatch(bytes, r, cache, (e) => errors.push(String(e))));
  q.attach(near);
  r.connected();
  cleanup.push(() => {
    q.close();
    near.close();
  });
  // The peer answers reads from the model, after `delayMs` (so live events can overtake them).
  let delayMs = 0;
  peer.onFrame((f) => {
    const answer = () => {
      if (f.type === "getAggregate") {
        reads.push(`aggregate ${f.channel}`);
        peer.ack(f.reqId, { version: model.version, aggregate: encodeValue(model.aggregate) });
      } else if (f.type === "getMessages") {
        reads.push(`messages ${f.channel} after ${f.after}`);
        const after = f.after ?? -1;
        peer.ack(f.reqId, {
          messages: model.messages.filter((m) => m.ts > after).map((m) => ({ id: m.id, ts: m.ts, data: encodeValue(m.data) })),
        });
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  const events: ChannelEvent[] = [];
  const listen = (agentId: string, pattern: string, into: ChannelEvent[] = events) => cache.subs.add(agentId, pattern, (e) => into.push(e));
  const sync = (subId: number, channel: string, version: number, aggregate: Json) =>
    peer.send({ type: "sync", subId, agentId: "dev", channel, version, aggregate: encodeValue(aggregate) });
  const aggregate = (channel: string, version: number, diff: Json) =>
    peer.send({ type: "aggregate", agentId: "dev", channel, version, diff: encodeValue(diff) });
  const message = (channel: string, id: string, ts: number, data: Json) =>
    peer.send({ type: "message", agentId: "dev", channel, id, ts, data: encodeValue(data) });
  return { cache, peer, model, reads, errors, events, listen, sync, aggregate, message, setDelay: (ms: number) => (delayMs = ms) };
}

const summary = (events: ChannelEvent[]) =>
  events.map((e) =>
    e.type === "message" ? `message ${e.message.id}` : `${e.type} ${e.channel} v${e.version} ${JSON.stringify(e.aggregate)}`,
  );

describe("channel cache", () => {
  it("applies aggregates in version order and drops ones it already has; payloads are frozen", async () => {
    const h = await harness();
    const sub = h.listen("dev", "#");
    h.sync(sub.id, "state", 3, { a: 1 });
    h.aggregate("state", 3, { a: 9 }); // older than the sync: dropped
    h.aggregate("state", 4, { b: 2 });
    h.aggregate("state", 5, { a: null });
    await until(() => h.events.length === 3);
    expect(summary(h.events)).toEqual(['sync state v3 {"a":1}', 'aggregate state v4 {"a":1,"b":2}', 'aggregate state v5 {"b":2}']);
    const last = h.events[2] as Extract<ChannelEvent, { type: "aggregate" }>;
    expect(Object.isFrozen(last.aggregate)).toBe(true);
    expect(Object.isFrozen(last.diff)).toBe(true);
    expect(h.cache.known(sub)).toEqual({ "dev/state": 5 });
    expect(h.reads).toEqual([]);
  });

  it("repairs a gap: re-reads the aggregate, emits resynced, then the events held meanwhile", async () => {
    const h = await harness();
    const sub = h.listen("dev", "state");
    h.sync(sub.id, "state", 1, { n: 1 });
    await until(() => h.events.length === 1);
    // The hub is at 4; the client sees 3 (2 was lost), then 5 while the re-read is out.
    h.model.version = 4;
    h.model.aggregate = { n: 4 };
    h.setDelay(20);
    h.aggregate("state", 3, { n: 3 });
    await until(() => h.reads.length === 0 && h.peer.received.some((f) => f.type === "getAggregate"));
    h.aggregate("state", 5, { n: 5, extra: true });
    await until(() => h.events.length === 3);
    expect(summary(h.events)).toEqual(['sync state v1 {"n":1}', 'resynced state v4 {"n":4}', 'aggregate state v5 {"n":5,"extra":true}']);
    expect(h.reads).toEqual(["aggregate state"]);
  });

  it("a channel first seen through an aggregate event starts from version 0", async () => {
    const h = await harness();
    h.listen("dev", "#");
    h.aggregate("new", 1, { x: 1 });
    await until(() => h.events.length === 1);
    expect(summary(h.events)).toEqual(['aggregate new v1 {"x":1}']);
  });

  it("delivers a resubscribed sync as resynced, and lists the versions it holds", async () => {
    const h = await harness();
    const sub = h.listen("dev", "tags/#");
    h.sync(sub.id, "tags/a", 2, { a: 1 });
    h.sync(sub.id, "tags/b", 7, { b: 1 });
    await until(() => h.events.length === 2);
    sub.everAcked = true; // as after the first connection's subscribe ack
    expect(h.cache.known(sub)).toEqual({ "dev/tags/a": 2, "dev/tags/b": 7 });
    h.sync(sub.id, "tags/a", 3, { a: 2 });
    await until(() => h.events.length === 3);
    expect(summary(h.events)[2]).toBe('resynced tags/a v3 {"a":2}');
  });

  it("catches up on messages missed while away, without duplicates, before the live ones held meanwhile", async () => {
    const h = await harness();
    const sub = h.listen("dev", "log");
    h.message("log", "m1", 100, { i: 1 });
    h.message("log", "m2", 200, { i: 2 });
    await until(() => h.events.length === 2);
    // While away: m3, m4 logged (m2 is returned again: same ts, seen id).
    h.model.messages = [
      { id: "m2", ts: 200, data: { i: 2 } },
      { id: "m3", ts: 200, data: { i: 3 } },
      { id: "m4", ts: 300, data: { i: 4 } },
    ];
    h.setDelay(20);
    sub.everAcked = true;
    h.cache.catchUp(sub);
    h.message("log", "m5", 400, { i: 5 }); // live, arrives before the catch-up answer
    h.message("log", "m4", 300, { i: 4 }); // a live duplicate of a fetched one
    await until(() => h.events.length === 5);
    await new Promise((r) => setTimeout(r, 20));
    expect(summary(h.events)).toEqual(["message m1", "message m2", "message m3", "message m4", "message m5"]);
    expect(h.reads).toEqual(["messages log after 199"]);
  });

  it("gives each listener its own message data, reports a throwing listener, and prunes on unsubscribe", async () => {
    const h = await harness();
    const mine: ChannelEvent[] = [];
    const a = h.listen("dev", "#", mine);
    const b = h.cache.subs.add("dev", "x", () => {
      throw new Error("listener bug");
    });
    h.sync(a.id, "x", 1, { v: 1 });
    h.message("x", "m1", 10, { v: 1 });
    await until(() => mine.length === 2);
    expect(h.errors).toEqual(["listener for dev/x: listener bug"]);
    const m = mine[1] as Extract<ChannelEvent, { type: "message" }>;
    (m.message.data as { v: number }).v = 99; // the listener's own copy
    expect(Object.isFrozen(m.message.data)).toBe(false);

    expect(h.cache.known(b)).toEqual({ "dev/x": 1 });
    h.cache.unsubscribe(b);
    expect(h.cache.known(a)).toEqual({ "dev/x": 1 }); // `a` still matches x
    h.cache.unsubscribe(a);
    expect(h.cache.known(a)).toBeUndefined(); // the entry is gone
    h.message("x", "m2", 11, { v: 2 });
    await new Promise((r) => setTimeout(r, 10));
    expect(mine.length).toBe(2);
  });

  it("routes each event of a channel to the subscriptions of that moment (added, removed, other channels between)", async () => {
    const h = await harness();
    const first: ChannelEvent[] = [];
    const second: ChannelEvent[] = [];
    const a = h.listen("dev", "log", first);
    h.message("log", "m1", 10, 1);
    h.message("log", "m2", 11, 2);
    await until(() => first.length === 2);
    // A second subscription to the same channel: the next event reaches both.
    const b = h.listen("dev", "#", second);
    h.message("log", "m3", 12, 3);
    await until(() => second.length === 1);
    // Another channel in between, then the first again.
    h.message("other", "o1", 13, 4);
    h.message("log", "m4", 14, 5);
    await until(() => second.length === 3);
    // Removed: the next event of the same channel no longer reaches it.
    h.cache.unsubscribe(a);
    h.message("log", "m5", 15, 6);
    await until(() => second.length === 4);
    await new Promise((r) => setTimeout(r, 10));
    expect(summary(first)).toEqual(["message m1", "message m2", "message m3", "message m4"]);
    expect(summary(second)).toEqual(["message m3", "message o1", "message m4", "message m5"]);
    h.cache.unsubscribe(b);
  });
});
