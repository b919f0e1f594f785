// The hub contract as one set of cases, run against any deployment that must behave as ONE hub:
// a single hub on SQLite (hub.contract.sqlite.test.ts) and three hubs on a JetStream cluster
// (hub.contract.cluster.test.ts). Clients are spread over the deployment's hubs (client i talks
// to hub i mod n), so with three hubs every case crosses hubs: a write through one hub must reach
// subscribers, reads and replays on the others.
//
// Reads on a hub show what that hub has applied: a write acknowledged by hub A is visible on hub
// C once C applied it (milliseconds later), so reads of another client's write wait with
// `eventually`, as a client of any eventually consistent replica must.
import { describe, expect, test } from "vitest";
import type { AggregateFrame, MessageFrame, SyncFrame } from "../bindings/protocol/index.js";
import { RawClient, doc, val } from "./hub-helpers.js";

export interface Deployment {
  /** WebSocket URLs of the hubs (one or more). */
  readonly urls: string[];
  /** HTTP URLs, same order. */
  readonly httpUrls: string[];
}

/** Polls `read` until `check` passes (or throws its last failure after `timeoutMs`). */
export async function eventually<T>(read: () => Promise<T>, check: (v: T) => void, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    try {
      check(v);
      return v;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function hubContractCases(deployment: () => Deployment): void {
  let next = 0;
  /** A client on the next hub in turn. */
  const client = (agentId: string) => {
    const d = deployment();
    return RawClient.connect(d.urls[next++ % d.urls.length]!, agentId);
  };
  const getAgg = (c: RawClient, agentId: string, channel: string) => c.request({ type: "getAggregate", reqId: 0, agentId, channel });

  describe("hub contract", () => {
    test("publish: ack with version and effective diff; subscribers on every hub get each version once, in order", async () => {
      const dev = await client("pump-1");
      const exact = await client("w-exact");
      const wild = await client("w-wild");
      const anyAgent = await client("w-any");
      await exact.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "sensors/temp" });
      await wild.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "sensors/#" });
      await anyAgent.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "+", pattern: "+/temp" });

      const a1 = await dev.publish("pump-1", "sensors/temp", { t: 20.5, unit: "C" });
      expect([a1.version, val(a1.diff), a1.message]).toEqual([1, { t: 20.5, unit: "C" }, null]);
      const a2 = await dev.publish("pump-1", "sensors/temp", { t: 21, unit: "C" });
      expect([a2.version, val(a2.diff)]).toEqual([2, { t: 21 }]);
      const same = await dev.publish("pump-1", "sensors/temp", { t: 21 });
      expect([same.version, val(same.diff)]).toEqual([2, {}]);
      const del = await dev.publish("pump-1", "sensors/temp", { unit: null });
      expect([del.version, val(del.diff)]).toEqual([3, { unit: null }]);

      for (const w of [exact, wild, anyAgent]) {
        await w.waitFor((f) => f.type === "aggregate" && f.version === 3);
        const events = w.received.filter((f): f is AggregateFrame => f.type === "aggregate");
        expect(events.map((e) => [e.agentId, e.channel, e.version, val(e.diff)])).toEqual([
          ["pump-1", "sensors/temp", 1, { t: 20.5, unit: "C" }],
          ["pump-1", "sensors/temp", 2, { t: 21 }],
          ["pump-1", "sensors/temp", 3, { unit: null }],
        ]);
      }
      for (const c of [exact, wild, anyAgent]) {
        const agg = await getAgg(c, "pump-1", "sensors/temp");
        expect([agg.version, val(agg.aggregate)]).toEqual([3, { t: 21 }]);
      }
      await Promise.all([dev, exact, wild, anyAgent].map((c) => c.close()));
    });

    test("replace, replaceKeys, logged publishes and messages; message ids de-duplicate across hubs", async () => {
      const c = await client("pump-3");
      const other = await client("pump-3");
      await c.publish("pump-3", "ui_state", { a: { x: 1, y: 2 }, b: { x: 1 }, c: 1 });
      const rk = await c.publish("pump-3", "ui_state", { a: { x: 5 }, b: { z: 1 } }, { replaceKeys: ["a"] });
      expect(val(rk.diff)).toEqual({ a: { x: 5, y: null }, b: { z: 1 } });
      const rep = await c.publish("pump-3", "ui_state", { c: 2 }, { replace: true });
      expect(val(rep.diff)).toEqual({ a: null, b: null, c: 2 });

      const logged = await c.publish("pump-3", "ui_state", { c: 3 }, { log: true, messageId: "cmd-1" });
      expect([logged.version, logged.message.id]).toEqual([4, "cmd-1"]);
      // The same message id through another hub: nothing applied, the stored message returned.
      await eventually(
        () => getAgg(other, "pump-3", "ui_state"),
        (a) => expect(a.version).toBe(4),
      );
      const replay = await other.publish("pump-3", "ui_state", { c: 99 }, { log: true, messageId: "cmd-1" });
      expect([replay.version, val(replay.diff), replay.message]).toEqual([4, {}, logged.message]);

      const m1 = await c.request({
        type: "createMessage",
        reqId: 0,
        agentId: "pump-3",
        channel: "ui_state",
        data: doc({ note: "hi" }),
        messageId: "n-1",
      });
      const m1again = await other.request({
        type: "createMessage",
        reqId: 0,
        agentId: "pump-3",
        channel: "ui_state",
        data: doc({ note: "x" }),
        messageId: "n-1",
      });
      expect(m1again).toEqual(m1);
      const m2 = await other.request({
        type: "createMessage",
        reqId: 0,
        agentId: "pump-3",
        channel: "ui_state",
        data: doc({ note: "auto id" }),
      });
      expect(m2.id).toBeTypeOf("string");
      for (const r of [c, other]) {
        const history = await eventually(
          () => r.request({ type: "getMessages", reqId: 0, agentId: "pump-3", channel: "ui_state" }),
          (h: any) => expect(h.messages.length).toBe(3),
        );
        expect(history.messages.map((m: any) => [m.id, m.ts, val(m.data)])).toEqual([
          ["cmd-1", logged.message.ts, { c: 3 }],
          ["n-1", m1.ts, { note: "hi" }],
          [m2.id, m2.ts, { note: "auto id" }],
        ]);
      }
      const agg = await getAgg(other, "pump-3", "ui_state");
      expect(val(agg.aggregate)).toEqual({ c: 3 });
      await Promise.all([c.close(), other.close()]);
    });

    test("an unlogged publish replayed through another hub after another writer's change is applied once", async () => {
      const a = await client("pump-9");
      const b = await client("pump-9");
      expect((await a.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-1" })).version).toBe(1);
      await eventually(
        () => getAgg(b, "pump-9", "setpoints"),
        (x) => expect(x.version).toBe(1),
      );
      expect((await b.publish("pump-9", "setpoints", { target: 25 })).version).toBe(2);
      const replay = await a.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-1" });
      expect([replay.version, val(replay.diff)]).toEqual([2, {}]);
      const replay2 = await b.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-1" });
      expect([replay2.version, val(replay2.diff)]).toEqual([2, {}]);
      expect(val((await getAgg(b, "pump-9", "setpoints")).aggregate)).toEqual({ target: 25 });
      await Promise.all([a.close(), b.close()]);
    });

    test("a refused publish changes nothing and leaves its message id unclaimed", async () => {
      const a = await client("pump-10");
      await a.publish("pump-10", "setpoints", { target: 1 });
      let deep: unknown = 1;
      for (let i = 0; i < 80; i++) deep = { d: deep };
      await expect(a.publish("pump-10", "setpoints", deep as Record<string, unknown>, { messageId: "fix-1" })).rejects.toMatchObject({
        code: "TAGWIRE_ERR_DEPTH",
      });
      await expect(a.publish("pump-10", "bad//name", { x: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
      const fixed = await a.publish("pump-10", "setpoints", { target: 2 }, { messageId: "fix-1" });
      expect([fixed.version, val(fixed.diff)]).toEqual([2, { target: 2 }]);
      await a.close();
    });

    test("subscribe on another hub syncs existing channels, skipping known versions; names with . and :", async () => {
      const w = await client("site.a");
      await w.publish("site.a", "sensors/one:x", { v: 1 });
      await w.publish("site.a", "sensors/two.b", { v: 2 });
      await w.publish("site.a", "sensors/two.b", { v: 3 });
      const r = await client("reader");
      await eventually(
        () => getAgg(r, "site.a", "sensors/two.b"),
        (x) => expect(x.version).toBe(2),
      );
      const ack = await r.request({
        type: "subscribe",
        reqId: 0,
        subId: 7,
        agentId: "site.a",
        pattern: "sensors/+",
        known: { "site.a/sensors/one:x": 1 },
      });
      expect(ack.synced).toBe(1);
      const sync = r.received.find((f): f is SyncFrame => f.type === "sync")!;
      expect([sync.channel, sync.version, val(sync.aggregate)]).toEqual(["sensors/two.b", 2, { v: 3 }]);
      await w.publish("site.a", "sensors/one:x", { v: 9 });
      const ev = (await r.waitFor((f) => f.type === "aggregate")) as AggregateFrame;
      expect([ev.agentId, ev.channel, ev.version]).toEqual(["site.a", "sensors/one:x", 2]);
      const list = await r.request({ type: "listChannels", reqId: 0, agentId: "site.a" });
      expect(list.channels).toEqual(["sensors/one:x", "sensors/two.b"]);
      await Promise.all([w.close(), r.close()]);
    });

    test("HTTP writes through one hub reach WebSocket subscribers and HTTP reads on the others", async () => {
      const d = deployment();
      const http = async (hub: number, method: string, path: string, body?: unknown) => {
        const res = await fetch(d.httpUrls[hub % d.httpUrls.length] + path, {
          method,
          headers: body === undefined ? {} : { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const ws = await client("watcher");
      await ws.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-h", pattern: "#" });
      const p1 = await http(0, "PATCH", "/agents/pump-h/channels/sensors/t/aggregate", { t: 20, h: { a: 1 } });
      expect(p1).toEqual({ status: 200, body: { version: 1, diff: { t: 20, h: { a: 1 } } } });
      const put = await http(1, "PUT", "/agents/pump-h/channels/sensors/t/aggregate", { t: 25 });
      expect(put.body).toEqual({ version: 2, diff: { t: 25, h: null } });
      const ev = (await ws.waitFor((f) => f.type === "aggregate" && f.version === 2)) as AggregateFrame;
      expect(val(ev.diff)).toEqual({ t: 25, h: null });
      await eventually(
        () => http(2, "GET", "/agents/pump-h/channels/sensors/t/aggregate"),
        (g) => expect(g.body).toEqual({ agentId: "pump-h", channel: "sensors/t", version: 2, aggregate: { t: 25 } }),
      );
      const m = await http(2, "POST", "/agents/pump-h/channels/notes/messages?messageId=n7", { text: "hi" });
      expect(m.status).toBe(201);
      const mev = (await ws.waitFor((f) => f.type === "message" && f.id === "n7")) as MessageFrame;
      expect(val(mev.data)).toEqual({ text: "hi" });
      await eventually(
        () => http(0, "GET", "/agents/pump-h/channels/notes/messages"),
        (l) => expect(l.body.messages.map((x: any) => x.data)).toEqual([{ text: "hi" }]),
      );
      await ws.close();
    });
  });
}
