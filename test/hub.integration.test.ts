// The hub over real sockets, speaking the raw protocol (docs/PROTOCOL.md) through `ws`:
// publish/ack/fan-out, sync and resync by version, batching, reads, restart from storage, and the
// HTTP API with fetch (curl-shaped requests), including HTTP writes reaching WS subscribers.
import { describe, expect, test } from "vitest";
import { startHub } from "../hub/index.js";
import type { AggregateFrame, ErrorFrame, Frame, MessageFrame, SyncFrame } from "../bindings/protocol/index.js";
import { join } from "node:path";
import { RawClient, doc, hubPerSuite, tempDir, val } from "./hub-helpers.js";
import { testSeed, xorshift32 } from "./support/seed.js";

const quiet = () => {};

describe("hub over WebSocket (no auth)", () => {
  const hub = hubPerSuite({ auth: false, log: quiet });

  test("publish is acked with version and effective diff, and fans out to subscribers", async () => {
    const dev = await RawClient.connect(hub.url, "pump-1");
    const watcher = await RawClient.connect(hub.url, "watcher");
    const other = await RawClient.connect(hub.url, "other");
    await watcher.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "sensors/#" });
    await other.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-2", pattern: "#" });

    const a1 = await dev.publish("pump-1", "sensors/temp", { t: 20.5, unit: "C" });
    expect(a1.version).toBe(1);
    expect(val(a1.diff)).toEqual({ t: 20.5, unit: "C" });
    expect(a1.message).toBeNull();

    const a2 = await dev.publish("pump-1", "sensors/temp", { t: 21, unit: "C" });
    expect(a2.version).toBe(2);
    expect(val(a2.diff)).toEqual({ t: 21 }); // only what changed

    const same = await dev.publish("pump-1", "sensors/temp", { t: 21 });
    expect(same.version).toBe(2); // nothing changed: no new version
    expect(val(same.diff)).toEqual({});

    const del = await dev.publish("pump-1", "sensors/temp", { unit: null });
    expect(del.version).toBe(3);
    expect(val(del.diff)).toEqual({ unit: null });

    const events = [];
    for (let v = 1; v <= 3; v++) {
      events.push((await watcher.waitFor((f) => f.type === "aggregate" && f.version === v)) as AggregateFrame);
    }
    expect(events.map((e) => [e.agentId, e.channel, e.version, val(e.diff)])).toEqual([
      ["pump-1", "sensors/temp", 1, { t: 20.5, unit: "C" }],
      ["pump-1", "sensors/temp", 2, { t: 21 }],
      ["pump-1", "sensors/temp", 3, { unit: null }],
    ]);
    // a publish that changed nothing produced no event; the other agent's subscriber saw nothing
    await dev.request({ type: "ping", reqId: 0 });
    await watcher.request({ type: "ping", reqId: 0 });
    expect(watcher.received.filter((f) => f.type === "aggregate")).toHaveLength(3);
    expect(other.received.filter((f) => f.type === "aggregate")).toHaveLength(0);

    const agg = await dev.request({ type: "getAggregate", reqId: 0, agentId: "pump-1", channel: "sensors/temp" });
    expect(agg.version).toBe(3);
    expect(val(agg.aggregate)).toEqual({ t: 21 });
    await Promise.all([dev.close(), watcher.close(), other.close()]);
  });

  test("replace, replaceKeys and log (with idempotent message ids)", async () => {
    const c = await RawClient.connect(hub.url, "pump-3");
    await c.request({ type: "subscribe", reqId: 0, subId: 9, agentId: "pump-3", pattern: "ui_state" });
    await c.publish("pump-3", "ui_state", { a: { x: 1, y: 2 }, b: { x: 1 }, c: 1 });
    const rk = await c.publish("pump-3", "ui_state", { a: { x: 5 }, b: { z: 1 } }, { replaceKeys: ["a"] });
    expect(val(rk.diff)).toEqual({ a: { x: 5, y: null }, b: { z: 1 } });
    const rep = await c.publish("pump-3", "ui_state", { c: 2 }, { replace: true });
    expect(val(rep.diff)).toEqual({ a: null, b: null, c: 2 });
    const agg = await c.request({ type: "getAggregate", reqId: 0, agentId: "pump-3", channel: "ui_state" });
    expect(val(agg.aggregate)).toEqual({ c: 2 });

    const logged = await c.publish("pump-3", "ui_state", { c: 3 }, { log: true, messageId: "cmd-1" });
    expect(logged.message.id).toBe("cmd-1");
    expect(logged.version).toBe(4);
    // A replay of the same message id applies nothing and returns the stored message.
    const replay = await c.publish("pump-3", "ui_state", { c: 99 }, { log: true, messageId: "cmd-1" });
    expect(replay.version).toBe(4);
    expect(val(replay.diff)).toEqual({});
    expect(replay.message).toEqual(logged.message);
    const after = await c.request({ type: "getAggregate", reqId: 0, agentId: "pump-3", channel: "ui_state" });
    expect(val(after.aggregate)).toEqual({ c: 3 });

    const m1 = await c.request({
      type: "createMessage",
      reqId: 0,
      agentId: "pump-3",
      channel: "ui_state",
      data: doc({ note: "hi" }),
      messageId: "n-1",
    });
    const m1again = await c.request({
      type: "createMessage",
      reqId: 0,
      agentId: "pump-3",
      channel: "ui_state",
      data: doc({ note: "other" }),
      messageId: "n-1",
    });
    expect(m1again).toEqual(m1);
    const history = await c.request({ type: "getMessages", reqId: 0, agentId: "pump-3", channel: "ui_state" });
    expect(history.messages.map((m: any) => [m.id, val(m.data)])).toEqual([
      ["cmd-1", { c: 3 }],
      ["n-1", { note: "hi" }],
    ]);
    const msgEvents = c.received.filter((f): f is MessageFrame => f.type === "message");
    expect(msgEvents.map((m) => m.id)).toEqual(["cmd-1", "n-1"]);
    await c.close();
  });

  test("a replayed publish with a message id (no log) is applied once, even after another writer's change", async () => {
    const a = await RawClient.connect(hub.url, "pump-9");
    const first = await a.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-1" });
    expect(first.version).toBe(1);
    await a.publish("pump-9", "setpoints", { target: 25 });
    // The outbox resends out-1 (its ack was lost): it must not set the target back to 20.
    const replay = await a.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-1" });
    expect(replay.version).toBe(2);
    expect(val(replay.diff)).toEqual({});
    const agg = await a.request({ type: "getAggregate", reqId: 0, agentId: "pump-9", channel: "setpoints" });
    expect(val(agg.aggregate)).toEqual({ target: 25 });
    // A new id applies as usual.
    expect((await a.publish("pump-9", "setpoints", { target: 20 }, { messageId: "out-2" })).version).toBe(3);
    await a.close();
  });

  test("a publish the core refuses leaves its message id unclaimed: the corrected resend applies", async () => {
    const a = await RawClient.connect(hub.url, "pump-10");
    await a.publish("pump-10", "setpoints", { target: 1 });
    let deep: unknown = 1;
    for (let i = 0; i < 80; i++) deep = { d: deep };
    await expect(a.publish("pump-10", "setpoints", deep as Record<string, unknown>, { messageId: "fix-1" })).rejects.toMatchObject({
      code: "TAGWIRE_ERR_DEPTH",
    });
    const fixed = await a.publish("pump-10", "setpoints", { target: 2 }, { messageId: "fix-1" });
    expect(fixed.version).toBe(2);
    expect(val(fixed.diff)).toEqual({ target: 2 });
    // ... and from then on the id is taken.
    const replay = await a.publish("pump-10", "setpoints", { target: 3 }, { messageId: "fix-1" });
    expect(replay.version).toBe(2);
    expect(val(replay.diff)).toEqual({});
    await a.close();
  });

  test("subscribe syncs existing channels first, and skips those whose known version is current", async () => {
    const w = await RawClient.connect(hub.url, "site-a");
    await w.publish("site-a", "sensors/one", { v: 1 });
    await w.publish("site-a", "sensors/two", { v: 2 });
    await w.publish("site-a", "sensors/two", { v: 3 });
    await w.request({ type: "createMessage", reqId: 0, agentId: "site-a", channel: "alerts", data: doc({ text: "x" }) });
    const r = await RawClient.connect(hub.url, "reader");
    const reqId = r.reqId();
    r.send([{ type: "subscribe", reqId, subId: 4, agentId: "site-a", pattern: "#" }]);
    const ack = await r.waitFor((f) => f.type === "ack" && f.reqId === reqId);
    const syncs = r.received.filter((f): f is SyncFrame => f.type === "sync");
    // every sync precedes the ack (frame 0 is the hello ack)
    expect(r.received.indexOf(ack)).toBe(1 + syncs.length);
    expect((ack as any).result).toEqual({ synced: 3 });
    expect(syncs.map((s) => [s.subId, s.channel, s.version, val(s.aggregate)]).sort()).toEqual([
      [4, "alerts", 0, {}], // a channel with only messages exists, with an empty aggregate
      [4, "sensors/one", 1, { v: 1 }],
      [4, "sensors/two", 2, { v: 3 }],
    ]);

    // Resync after a "reconnect": one channel is current, one changed meanwhile.
    await w.publish("site-a", "sensors/one", { v: 10 });
    const r2 = await RawClient.connect(hub.url, "reader");
    const res = await r2.request({
      type: "subscribe",
      reqId: 0,
      subId: 1,
      agentId: "+",
      pattern: "sensors/#",
      known: { "site-a/sensors/one": 1, "site-a/sensors/two": 2 },
    });
    const syncs2 = r2.received.filter((f): f is SyncFrame => f.type === "sync" && f.agentId === "site-a");
    expect(syncs2.map((s) => [s.channel, s.version, val(s.aggregate)])).toEqual([["sensors/one", 2, { v: 10 }]]);
    expect(res.synced).toBeGreaterThanOrEqual(1);

    // r saw the v: 10 update live; unsubscribe stops further events
    await r.waitFor((f) => f.type === "aggregate" && f.channel === "sensors/one" && f.version === 2);
    await r.request({ type: "unsubscribe", reqId: 0, subId: 4 });
    await w.publish("site-a", "sensors/one", { v: 11 });
    await r2.waitFor((f) => f.type === "aggregate" && f.version === 3);
    await r.request({ type: "ping", reqId: 0 });
    expect(r.received.filter((f) => f.type === "aggregate").map((f) => (f as AggregateFrame).version)).toEqual([2]);
    const unknown = await r.reply({ type: "unsubscribe", reqId: 0, subId: 4 });
    expect(unknown).toMatchObject({ type: "error", code: "TAGWIRE_ERR_PROTOCOL" });

    const list = await r.request({ type: "listChannels", reqId: 0, agentId: "site-a" });
    expect(list.channels).toEqual(["alerts", "sensors/one", "sensors/two"]);
    await Promise.all([w.close(), r.close(), r2.close()]);
  });

  test("overlapping subscriptions deliver each event once per connection", async () => {
    const w = await RawClient.connect(hub.url, "ovl");
    const r = await RawClient.connect(hub.url, "reader");
    await r.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "ovl", pattern: "#" });
    await r.request({ type: "subscribe", reqId: 0, subId: 2, agentId: "+", pattern: "x/+" });
    await r.request({ type: "subscribe", reqId: 0, subId: 3, agentId: "ovl", pattern: "x/y" });
    await w.publish("ovl", "x/y", { a: 1 });
    await r.waitFor((f) => f.type === "aggregate" && f.agentId === "ovl");
    await r.request({ type: "ping", reqId: 0 });
    expect(r.received.filter((f) => f.type === "aggregate" && f.agentId === "ovl")).toHaveLength(1);
    // dropping one of the overlapping subscriptions keeps the others working
    await r.request({ type: "unsubscribe", reqId: 0, subId: 1 });
    await w.publish("ovl", "x/y", { a: 2 });
    await r.waitFor((f) => f.type === "aggregate" && f.agentId === "ovl" && f.version === 2);
    await Promise.all([w.close(), r.close()]);
  });

  test("a burst is batched: one socket write carries many frames, versions stay consecutive", async () => {
    const w = await RawClient.connect(hub.url, "burst");
    const subs = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(hub.url, "sub")));
    for (const s of subs) await s.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "burst", pattern: "#" });
    const N = 600;
    const frames: Frame[] = [];
    for (let i = 0; i < N; i++) {
      frames.push({ type: "publish", reqId: 0, agentId: "burst", channel: `ch/${i % 3}`, diff: doc({ i }) });
    }
    // 600 frames in 3 messages of 200; fire-and-forget (reqId 0), then one request to fence.
    for (let k = 0; k < 3; k++) w.send(frames.slice(k * 200, (k + 1) * 200));
    await w.request({ type: "ping", reqId: 0 });
    // only the hello and the ping were answered
    expect(w.received.filter((f) => f.type === "ack" || f.type === "error")).toHaveLength(2);
    for (const s of subs) {
      await s.waitFor((f) => f.type === "aggregate" && f.channel === "ch/2" && f.version === N / 3);
      const events = s.received.filter((f): f is AggregateFrame => f.type === "aggregate");
      expect(events).toHaveLength(N);
      for (const ch of ["ch/0", "ch/1", "ch/2"]) {
        expect(events.filter((e) => e.channel === ch).map((e) => e.version)).toEqual(Array.from({ length: N / 3 }, (_, i) => i + 1));
      }
      // 600 events arrived in far fewer WebSocket messages (one per hub tick)
      expect(s.messages.length - 1).toBeLessThan(N / 10);
    }
    await Promise.all([w.close(), ...subs.map((s) => s.close())]);
  });

  test("every frame of a batch is answered in order, and one bad frame does not stop the rest", async () => {
    const c = await RawClient.connect(hub.url, "batch");
    c.send([
      { type: "publish", reqId: 101, agentId: "batch", channel: "a", diff: doc({ n: 1 }) },
      { type: "publish", reqId: 102, agentId: "batch", channel: "bad//name", diff: doc({ n: 1 }) },
      { type: "getAggregate", reqId: 103, agentId: "batch", channel: "a" },
      { type: "getMessages", reqId: 104, agentId: "batch", channel: "a", limit: 0 },
      { type: "ping", reqId: 105 },
    ]);
    await c.waitFor((f) => f.type === "ack" && f.reqId === 105);
    const replies = c.received.filter((f) => f.type === "ack" || f.type === "error").slice(-5);
    expect(replies.map((f) => [f.type, (f as any).reqId, (f as any).code])).toEqual([
      ["ack", 101, undefined],
      ["error", 102, "TAGWIRE_ERR_NAME"],
      ["ack", 103, undefined],
      ["error", 104, "TAGWIRE_ERR_ARGUMENT"],
      ["ack", 105, undefined],
    ]);
    expect(val((replies[2] as any).result.aggregate)).toEqual({ n: 1 });
    await c.close();
  });

  test("the core pipeline path and the frame-by-frame path give the same results (seeded)", async () => {
    const rand = xorshift32(testSeed("hub.integration pipeline-equivalence"));
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const value = (depth: number): unknown => {
      const r = rand();
      if (r < 0.15) return null;
      if (r < 0.35) return Math.floor(rand() * 5);
      if (r < 0.45) return pick(["a", "b", true, false, 1.5]);
      if (r < 0.55 || depth > 3) return [Math.floor(rand() * 3)];
      return Object.fromEntries(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => [pick(["x", "y", "z"]), value(depth + 1)]));
    };
    const c = await RawClient.connect(hub.url, "eq");
    await c.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "eq", pattern: "#" });
    const outcomes: Record<"fast" | "slow", unknown[]> = { fast: [], slow: [] };
    for (let i = 0; i < 150; i++) {
      const r = rand();
      const diff =
        r < 0.05
          ? doc([1])
          : doc(Object.fromEntries(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => [pick(["p", "q", "r"]), value(1)])));
      const opts = r < 0.15 ? { replace: true } : r < 0.3 ? { replaceKeys: [pick(["p", "q"])] } : {};
      for (const path of ["fast", "slow"] as const) {
        const reqId = c.reqId();
        const frame: Frame = { type: "publish", reqId, agentId: "eq", channel: `${path}/x`, diff, ...opts };
        // A ping in the same batch sends the whole batch down the frame-by-frame path.
        c.send(path === "fast" ? [frame] : [frame, { type: "ping", reqId: c.reqId() }]);
        const reply = await c.waitFor((f) => (f.type === "ack" || f.type === "error") && f.reqId === reqId);
        outcomes[path].push(
          reply.type === "ack" ? [(reply.result as any).version, val((reply.result as any).diff)] : (reply as ErrorFrame).code,
        );
      }
    }
    expect(outcomes.fast).toEqual(outcomes.slow);
    expect(outcomes.fast.some((o) => o === "TAGWIRE_ERR_PAYLOAD")).toBe(true);
    const events = (path: string) =>
      c.received
        .filter((f): f is AggregateFrame => f.type === "aggregate" && f.channel === `${path}/x`)
        .map((f) => [f.version, val(f.diff)]);
    await c.request({ type: "ping", reqId: 0 });
    expect(events("fast")).toEqual(events("slow"));
    expect(events("fast").length).toBeGreaterThan(50);
    const fast = await c.request({ type: "getAggregate", reqId: 0, agentId: "eq", channel: "fast/x" });
    const slow = await c.request({ type: "getAggregate", reqId: 0, agentId: "eq", channel: "slow/x" });
    expect([fast.version, val(fast.aggregate)]).toEqual([slow.version, val(slow.aggregate)]);
    await c.close();
  });

  test("history: before/after/limit, newest last", async () => {
    const c = await RawClient.connect(hub.url, "hist");
    const stamps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const m = await c.request({ type: "createMessage", reqId: 0, agentId: "hist", channel: "log", data: doc({ i }) });
      stamps.push(m.ts);
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 5));
    }
    const all = await c.request({ type: "getMessages", reqId: 0, agentId: "hist", channel: "log" });
    expect(all.messages.map((m: any) => (val(m.data) as any).i)).toEqual([...Array(12).keys()]);
    const last3 = await c.request({ type: "getMessages", reqId: 0, agentId: "hist", channel: "log", limit: 3 });
    expect(last3.messages.map((m: any) => (val(m.data) as any).i)).toEqual([9, 10, 11]);
    const cut = stamps[4]!;
    const before = await c.request({ type: "getMessages", reqId: 0, agentId: "hist", channel: "log", before: cut });
    expect(before.messages.every((m: any) => m.ts < cut)).toBe(true);
    expect(before.messages.length).toBe(stamps.filter((t) => t < cut).length);
    const after = await c.request({ type: "getMessages", reqId: 0, agentId: "hist", channel: "log", after: cut });
    expect(after.messages.length).toBe(stamps.filter((t) => t > cut).length);
    const none = await c.request({ type: "getMessages", reqId: 0, agentId: "hist", channel: "nothing-here" });
    expect(none.messages).toEqual([]);
    await c.close();
  });
});

describe("protocol rules (docs/PROTOCOL.md: Payloads, Error codes, subscribe)", () => {
  const hub = hubPerSuite({ auth: false, log: quiet });
  const errorFor = async (c: RawClient, send: () => void) => {
    const n = c.received.length;
    send();
    return (await c.waitFor((f) => c.received.indexOf(f) >= n && f.type === "error")) as Extract<Frame, { type: "error" }>;
  };

  test("bytes that are not msgpack are TAGWIRE_ERR_MSGPACK; msgpack of the wrong shape is PROTOCOL, of the wrong type PAYLOAD", async () => {
    const c = await RawClient.connect(hub.url, "wire");
    // Batches.
    expect(await errorFor(c, () => c.sendBytes(new Uint8Array([0xc1])))).toMatchObject({ code: "TAGWIRE_ERR_MSGPACK", reqId: 0 });
    expect(await errorFor(c, () => c.sendBytes(new Uint8Array([0x91, 0x92, 0x09, 0xc1])))).toMatchObject({
      code: "TAGWIRE_ERR_MSGPACK",
      reqId: 0,
    });
    expect(await errorFor(c, () => c.sendBytes(doc({ not: "a batch" })))).toMatchObject({ code: "TAGWIRE_ERR_PROTOCOL", reqId: 0 });
    expect(await errorFor(c, () => c.sendBytes(new Uint8Array([0x91, 0x92, 0x09, 0xa1, 0x78])))).toMatchObject({
      code: "TAGWIRE_ERR_PROTOCOL",
      reqId: 0,
    });
    // Documents, through the core pipeline (plain publish) and frame by frame (with a message id).
    const cases: [Uint8Array, string][] = [
      [new Uint8Array([0xc1]), "TAGWIRE_ERR_MSGPACK"],
      [new Uint8Array([0x81, 0xc1]), "TAGWIRE_ERR_MSGPACK"],
      [new Uint8Array([0x81, 0xa1, 0x61]), "TAGWIRE_ERR_INCOMPLETE"],
      [doc(42), "TAGWIRE_ERR_PAYLOAD"],
      [doc([1, 2]), "TAGWIRE_ERR_PAYLOAD"],
    ];
    let reqId = 100;
    for (const [diff, code] of cases) {
      for (const messageId of [undefined, `m${reqId}`]) {
        const id = reqId++;
        const e = await errorFor(c, () => c.send([{ type: "publish", reqId: id, agentId: "wire", channel: "t", diff, messageId }]));
        expect(e, `${Buffer.from(diff).toString("hex")} ${messageId ?? "pipeline"}`).toMatchObject({ code, reqId: id });
      }
    }
    const m = await errorFor(c, () =>
      c.send([{ type: "createMessage", reqId: 7, agentId: "wire", channel: "m", data: new Uint8Array([0xc1]) }]),
    );
    expect(m).toMatchObject({ code: "TAGWIRE_ERR_MSGPACK", reqId: 7 });
    // Refused writes wrote nothing; the connection stays usable.
    expect((await c.request({ type: "listChannels", reqId: 0, agentId: "wire" })).channels).toEqual([]);
    await c.close();
  });

  test("numbers: documents keep the writer's integer encoding, values compare by number; envelope uints in any encoding; ts is a float64-encoded integer", async () => {
    const w = await RawClient.connect(hub.url, "nums");
    const r = await RawClient.connect(hub.url, "nums-reader");
    await r.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "nums", pattern: "#" });
    const u40 = new Uint8Array([0x81, 0xa1, 0x61, 0xcf, 0, 0, 1, 0, 0, 0, 0, 0]); // {a: 2^40} as uint 64
    const f40 = new Uint8Array([0x81, 0xa1, 0x61, 0xcb, 0x42, 0x70, 0, 0, 0, 0, 0, 0]); // {a: 2^40} as float 64
    const first = await w.request({ type: "publish", reqId: 0, agentId: "nums", channel: "n", diff: u40 });
    expect(first.version).toBe(1);
    expect(Buffer.from(first.diff)).toEqual(Buffer.from(u40));
    const ev = (await r.waitFor((f) => f.type === "aggregate" && f.channel === "n")) as AggregateFrame;
    expect(Buffer.from(ev.diff)).toEqual(Buffer.from(u40));
    const same = await w.request({ type: "publish", reqId: 0, agentId: "nums", channel: "n", diff: f40, messageId: "f40" });
    expect(same.version).toBe(1); // equal value: no change, and the stored encoding stays
    expect(val(same.diff)).toEqual({});
    const agg = await w.request({ type: "getAggregate", reqId: 0, agentId: "nums", channel: "n" });
    expect(Buffer.from(agg.aggregate)).toEqual(Buffer.from(u40));
    const httpAgg = (await (await fetch(`${hub.httpUrl}/agents/nums/channels/n/aggregate`)).json()) as any;
    expect(httpAgg.aggregate).toEqual({ a: 2 ** 40 });

    // Timestamps: float64 on the WebSocket wire, holding an integer; the same JSON integer over HTTP.
    const ack = await w.request({ type: "createMessage", reqId: 0, agentId: "nums", channel: "log", data: doc({ x: 1 }) });
    expect(Number.isInteger(ack.ts)).toBe(true);
    const mev = (await r.waitFor((f) => f.type === "message" && f.channel === "log")) as MessageFrame;
    expect(mev.ts).toBe(ack.ts);
    const tsBytes = Buffer.alloc(9);
    tsBytes[0] = 0xcb;
    tsBytes.writeDoubleBE(ack.ts, 1);
    expect(r.messages.some((m) => Buffer.from(m).includes(tsBytes))).toBe(true);
    const httpMsgs = (await (await fetch(`${hub.httpUrl}/agents/nums/channels/log/messages`)).json()) as any;
    expect(httpMsgs.messages.map((m: any) => [m.id, m.ts])).toEqual([[ack.id, ack.ts]]);

    // An envelope uint (here getMessages' `before`) may come as uint 64 or float 64: same answer.
    const str = (s: string) => [0xa0 | s.length, ...Buffer.from(s)];
    const getMessagesWith = async (reqId: number, before: number[]) => {
      w.sendBytes(new Uint8Array([0x91, 0x97, 0x07, reqId, ...str("nums"), ...str("log"), ...before, 0xc0, 0xc0]));
      return ((await w.waitFor((f) => f.type === "ack" && f.reqId === reqId)) as any).result.messages.length;
    };
    const later = ack.ts + 1;
    const asUint64 = [0xcf, ...Buffer.from(new BigUint64Array([BigInt(later)]).buffer).reverse()];
    const asFloat64 = [0xcb, ...Buffer.from(new Float64Array([later]).buffer).reverse()];
    const asUint64Before = [0xcf, ...Buffer.from(new BigUint64Array([BigInt(ack.ts)]).buffer).reverse()];
    expect(await getMessagesWith(0x51, asUint64)).toBe(1);
    expect(await getMessagesWith(0x52, asFloat64)).toBe(1);
    expect(await getMessagesWith(0x53, asUint64Before)).toBe(0);
    await Promise.all([w.close(), r.close()]);
  });

  test("a channel created after a subscription arrives as its first event: aggregate at version 1 (diff = the whole aggregate) or message; no sync", async () => {
    const w = await RawClient.connect(hub.url, "appear");
    const r = await RawClient.connect(hub.url, "appear-reader");
    const sub = await r.request({ type: "subscribe", reqId: 0, subId: 9, agentId: "appear", pattern: "#" });
    expect(sub).toEqual({ synced: 0 });
    await w.publish("appear", "fast", { a: 1, b: { c: 2 } }); // core pipeline
    await w.publish("appear", "logged", { on: true }, { log: true }); // frame by frame, logged
    await w.request({ type: "createMessage", reqId: 0, agentId: "appear", channel: "only-messages", data: doc({ text: "hi" }) });
    await w.publish("appear", "fast", { a: 2 });
    await r.waitFor((f) => f.type === "aggregate" && f.channel === "fast" && f.version === 2);
    await r.waitFor((f) => f.type === "message" && f.channel === "only-messages");
    const seen = r.received.filter((f) => f.type === "sync" || f.type === "aggregate" || f.type === "message");
    expect(seen.map((f) => [f.type, (f as any).channel, (f as any).version ?? null])).toEqual([
      ["aggregate", "fast", 1],
      ["aggregate", "logged", 1],
      ["message", "logged", null],
      ["message", "only-messages", null],
      ["aggregate", "fast", 2],
    ]);
    expect(val((seen[0] as AggregateFrame).diff)).toEqual({ a: 1, b: { c: 2 } });
    expect(val((seen[1] as AggregateFrame).diff)).toEqual({ on: true });
    // The message-only channel exists (listed) at version 0 with `{}`.
    expect((await r.request({ type: "listChannels", reqId: 0, agentId: "appear" })).channels).toEqual(["fast", "logged", "only-messages"]);
    expect(await r.request({ type: "getAggregate", reqId: 0, agentId: "appear", channel: "only-messages" })).toMatchObject({ version: 0 });
    await Promise.all([w.close(), r.close()]);
  });
});

describe("HTTP API", () => {
  const hub = hubPerSuite({ auth: false, log: quiet });
  const http = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(hub.httpUrl + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  test("PATCH merges, PUT replaces, GET reads; writes fan out to WebSocket subscribers", async () => {
    const ws = await RawClient.connect(hub.url, "watcher");
    await ws.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "#" });

    const p1 = await http("PATCH", "/agents/pump-1/channels/sensors/temperature/indoor/aggregate", { t: 20, h: { a: 1 } });
    expect(p1).toEqual({ status: 200, body: { version: 1, diff: { t: 20, h: { a: 1 } } } });
    const p2 = await http("PATCH", "/agents/pump-1/channels/sensors%2Ftemperature%2Findoor/aggregate", { h: { b: 2 } });
    expect(p2.body).toEqual({ version: 2, diff: { h: { b: 2 } } });
    const got = await http("GET", "/agents/pump-1/channels/sensors/temperature/indoor/aggregate");
    expect(got).toEqual({
      status: 200,
      body: { agentId: "pump-1", channel: "sensors/temperature/indoor", version: 2, aggregate: { t: 20, h: { a: 1, b: 2 } } },
    });
    const put = await http("PUT", "/agents/pump-1/channels/sensors/temperature/indoor/aggregate", { t: 25 });
    expect(put.body).toEqual({ version: 3, diff: { t: 25, h: null } });

    const ev = (await ws.waitFor((f) => f.type === "aggregate" && f.version === 3)) as AggregateFrame;
    expect(ev.channel).toBe("sensors/temperature/indoor");
    expect(val(ev.diff)).toEqual({ t: 25, h: null });

    // A channel whose name ends in an action word: the last segment is always the action.
    const odd = await http("PATCH", "/agents/pump-1/channels/x/aggregate/aggregate", { ok: true });
    expect(odd.status).toBe(200);
    expect((await http("GET", "/agents/pump-1/channels")).body.channels).toEqual(["sensors/temperature/indoor", "x/aggregate"]);
    await ws.close();
  });

  test("messages: POST appends (idempotent with messageId), GET filters; PATCH ?log=true logs", async () => {
    const ws = await RawClient.connect(hub.url, "watcher");
    await ws.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-2", pattern: "notifications" });
    const m1 = await http("POST", "/agents/pump-2/channels/notifications/messages", { text: "high temp" });
    expect(m1.status).toBe(201);
    expect(m1.body.data).toEqual({ text: "high temp" });
    const m2 = await http("POST", "/agents/pump-2/channels/notifications/messages?messageId=alert-7", { text: "again" });
    const m2b = await http("POST", "/agents/pump-2/channels/notifications/messages?messageId=alert-7", { text: "dupe" });
    expect(m2b.body).toEqual(m2.body);
    const ev = (await ws.waitFor((f) => f.type === "message" && f.id === "alert-7")) as MessageFrame;
    expect(val(ev.data)).toEqual({ text: "again" });
    const logged = await http("PATCH", "/agents/pump-2/channels/notifications/aggregate?log=true", { last: "x" });
    expect(logged.body.message.id).toBeTypeOf("string");
    const list = await http("GET", "/agents/pump-2/channels/notifications/messages");
    expect(list.body.messages.map((m: any) => m.data)).toEqual([{ text: "high temp" }, { text: "again" }, { last: "x" }]);
    const limited = await http("GET", "/agents/pump-2/channels/notifications/messages?limit=1");
    expect(limited.body.messages.map((m: any) => m.data)).toEqual([{ last: "x" }]);
    const after = await http("GET", `/agents/pump-2/channels/notifications/messages?after=${m2.body.ts - 1}`);
    expect(after.body.messages.length).toBeGreaterThanOrEqual(2);
    await ws.close();
  });

  test("errors are JSON with stable codes and write nothing", async () => {
    expect((await http("GET", "/agents/nobody/channels/none/aggregate")).status).toBe(404);
    expect((await http("GET", "/nope")).body.error.code).toBe("TAGWIRE_ERR_NOT_FOUND");
    const notJson = await http("PATCH", "/agents/e/channels/c/aggregate", "{not json");
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: "TAGWIRE_ERR_PAYLOAD" } } });
    const notMap = await http("PATCH", "/agents/e/channels/c/aggregate", [1, 2]);
    expect(notMap.body.error.code).toBe("TAGWIRE_ERR_PAYLOAD");
    const badName = await http("PATCH", "/agents/e/channels/b@d/aggregate", { a: 1 });
    expect(badName.body.error.code).toBe("TAGWIRE_ERR_NAME");
    let deep: unknown = 1;
    for (let i = 0; i < 80; i++) deep = { d: deep };
    const tooDeep = await http("PATCH", "/agents/e/channels/c/aggregate", deep);
    expect(tooDeep.body.error.code).toBe("TAGWIRE_ERR_DEPTH");
    expect((await http("DELETE", "/agents/e/channels/c/aggregate")).status).toBe(405);
    expect((await http("GET", "/agents/e/channels")).body.channels).toEqual([]);
    expect((await http("GET", "/health")).body).toEqual({ ok: true });
  });
});

describe("restart", () => {
  test("aggregates, versions and messages come back from storage; versions continue", async () => {
    const dir = tempDir();
    try {
      let hub = await startHub({ dataDir: dir.dir, auth: false, log: quiet });
      let c = await RawClient.connect(hub.url, "dev");
      await c.publish("dev", "tag_values", { a: 1, b: { c: [1, 2, "x"] } });
      await c.publish("dev", "tag_values", { a: 2 });
      await c.request({ type: "createMessage", reqId: 0, agentId: "dev", channel: "log", data: doc({ hello: "world" }), messageId: "m-1" });
      await c.close();
      await hub.close();

      hub = await startHub({ dataDir: dir.dir, auth: false, log: quiet });
      c = await RawClient.connect(hub.url, "dev");
      const agg = await c.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "tag_values" });
      expect(agg.version).toBe(2);
      expect(val(agg.aggregate)).toEqual({ a: 2, b: { c: [1, 2, "x"] } });
      const next = await c.publish("dev", "tag_values", { a: 3 });
      expect(next.version).toBe(3);
      expect(val(next.diff)).toEqual({ a: 3 });
      const msgs = await c.request({ type: "getMessages", reqId: 0, agentId: "dev", channel: "log" });
      expect(msgs.messages.map((m: any) => [m.id, val(m.data)])).toEqual([["m-1", { hello: "world" }]]);
      // the id is still known: a replay after the restart appends nothing
      await c.request({ type: "createMessage", reqId: 0, agentId: "dev", channel: "log", data: doc({ x: 1 }), messageId: "m-1" });
      expect((await c.request({ type: "getMessages", reqId: 0, agentId: "dev", channel: "log" })).messages).toHaveLength(1);
      expect((await c.request({ type: "listChannels", reqId: 0, agentId: "dev" })).channels).toEqual(["log", "tag_values"]);
      await c.close();
      await hub.close();
    } finally {
      dir.remove();
    }
  });

  test("a storage failure stops the hub: nothing of that tick is acknowledged, a restart has the committed state", async () => {
    const dir = tempDir();
    const { createRequire } = await import("node:module");
    const Database = createRequire(import.meta.url)("better-sqlite3");
    try {
      const hub = await startHub({ dataDir: dir.dir, auth: false, log: quiet });
      const c = await RawClient.connect(hub.url, "dev");
      const watcher = await RawClient.connect(hub.url, "watcher");
      await watcher.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "dev", pattern: "#" });
      await c.publish("dev", "state", { committed: 1 });
      await c.request({ type: "createMessage", reqId: 0, agentId: "dev", channel: "log", data: doc({ n: 1 }), messageId: "kept" });
      // Make the disk "fail" for one particular message, from outside the hub: the tick's
      // segment row that holds it (hub/storage/message-log.ts) cannot be written.
      const db = new Database(join(dir.dir, "tagwire.db"));
      db.exec(
        "CREATE TRIGGER inject BEFORE INSERT ON segments WHEN instr(NEW.payload, CAST('boom' AS BLOB)) > 0 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
      );
      db.close();
      const events = watcher.received.length;
      // One batch, one tick: a publish that succeeds in memory, then the write that fails.
      c.send([
        { type: "publish", reqId: 50, agentId: "dev", channel: "state", diff: doc({ lost: 1 }) },
        { type: "createMessage", reqId: 51, agentId: "dev", channel: "log", data: doc({ n: 2 }), messageId: "boom" },
      ]);
      expect(await c.closed()).toBe(1011);
      expect((await hub.failed).message).toMatch(/injected failure/);
      await watcher.closed();
      // no ack for either frame, and the watcher never saw the uncommitted change
      expect(c.received.some((f) => (f.type === "ack" || f.type === "error") && f.reqId >= 50)).toBe(false);
      expect(watcher.received.length).toBe(events);
      await hub.close();

      const db2 = new Database(join(dir.dir, "tagwire.db"));
      db2.exec("DROP TRIGGER inject");
      db2.close();
      const again = await startHub({ dataDir: dir.dir, auth: false, log: quiet });
      const r = await RawClient.connect(again.url, "dev");
      const agg = await r.request({ type: "getAggregate", reqId: 0, agentId: "dev", channel: "state" });
      expect([agg.version, val(agg.aggregate)]).toEqual([1, { committed: 1 }]);
      const msgs = await r.request({ type: "getMessages", reqId: 0, agentId: "dev", channel: "log" });
      expect(msgs.messages.map((m: any) => m.id)).toEqual(["kept"]);
      // and it works normally again
      expect((await r.publish("dev", "state", { after: 1 })).version).toBe(2);
      await r.close();
      await again.close();
    } finally {
      dir.remove();
    }
  });

  test("retention by count and by age", async () => {
    const dir = tempDir();
    const hub = await startHub({
      dataDir: dir.dir,
      auth: false,
      log: quiet,
      retention: { maxMessagesPerChannel: 16, maxMessageAgeMs: 400 },
      retentionIntervalMs: 100,
    });
    try {
      const c = await RawClient.connect(hub.url, "ret");
      for (let i = 0; i < 60; i++) {
        await c.request({ type: "createMessage", reqId: 0, agentId: "ret", channel: "log", data: doc({ i }) });
      }
      const kept = (await c.request({ type: "getMessages", reqId: 0, agentId: "ret", channel: "log", limit: 1000 })).messages;
      // trimmed in steps: never more than max + max/8, the newest kept
      expect(kept.length).toBeGreaterThanOrEqual(16);
      expect(kept.length).toBeLessThanOrEqual(18);
      expect((val(kept.at(-1).data) as any).i).toBe(59);
      await new Promise((r) => setTimeout(r, 900));
      const aged = (await c.request({ type: "getMessages", reqId: 0, agentId: "ret", channel: "log", limit: 1000 })).messages;
      expect(aged).toEqual([]);
      await c.close();
    } finally {
      await hub.close();
      dir.remove();
    }
  });
});

describe("slow consumers", () => {
  const hub = hubPerSuite({ auth: false, log: quiet, limits: { maxBufferedBytes: 8192 } });

  test("a subscriber closed as slow inside a fan-out leaves the event to every other subscriber", async () => {
    // The first subscriber (lowest connection id: first in the router's list) asks for ~7 KB of
    // history and writes 2 KB in one batch, so the fan-out of its own write pushes it past the
    // limit and it is closed while the hub walks the subscriber list.
    const first = await RawClient.connect(hub.url, "slow-1");
    const others = [await RawClient.connect(hub.url, "slow-2"), await RawClient.connect(hub.url, "slow-3")];
    const filler = "x".repeat(3500);
    for (const i of [0, 1])
      await first.request({ type: "createMessage", reqId: 0, agentId: "slowx", channel: "hist", data: doc({ i, filler }) });
    for (const c of [first, ...others]) await c.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "slowx", pattern: "log" });
    first.send([
      { type: "getMessages", reqId: first.reqId(), agentId: "slowx", channel: "hist" },
      { type: "createMessage", reqId: first.reqId(), agentId: "slowx", channel: "log", data: doc({ n: 1, filler: "y".repeat(2000) }) },
    ]);
    expect(await first.closed()).toBe(1013);
    for (const c of others) {
      const event = (await c.waitFor((f) => f.type === "message" && f.channel === "log")) as MessageFrame;
      expect((val(event.data) as { n: number }).n).toBe(1);
    }
    // The hub goes on serving the others, and the closed one's routes are gone.
    const writer = others[0]!;
    await writer.request({ type: "createMessage", reqId: 0, agentId: "slowx", channel: "log", data: doc({ n: 2 }) });
    for (const c of others)
      await c.waitFor((f) => f.type === "message" && f.channel === "log" && (val((f as MessageFrame).data) as { n: number }).n === 2);
    for (const c of others) await c.close();
  });
});
