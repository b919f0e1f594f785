// Agent over LocalBus: channels, aggregates, logs, subscriptions and their events, names,
// handler isolation.
import { afterEach, describe, expect, it } from "vitest";
import { LocalBus, TagwireError, type ChannelEvent } from "../bindings/index.js";

const buses: LocalBus[] = [];
function newBus(options?: ConstructorParameters<typeof LocalBus>[0]): LocalBus {
  const bus = new LocalBus(options);
  buses.push(bus);
  return bus;
}
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

/** Collects events; `until(n)` waits for n of them. */
function recorder() {
  const events: ChannelEvent[] = [];
  const waiters: Array<[number, () => void]> = [];
  const handler = (e: ChannelEvent) => {
    events.push(e);
    for (const w of waiters.splice(0))
      if (events.length >= w[0]) w[1]();
      else waiters.push(w);
  };
  const until = (n: number) =>
    new Promise<void>((resolve, reject) => {
      if (events.length >= n) return resolve();
      const t = setTimeout(() => reject(new Error(`only ${events.length} of ${n} events: ${JSON.stringify(events)}`)), 2000);
      waiters.push([
        n,
        () => {
          clearTimeout(t);
          resolve();
        },
      ]);
    });
  return { events, handler, until };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Agent and LocalBus", () => {
  it("runs the contract example", async () => {
    const bus = newBus();
    const dev = bus.agent("dev-1"),
      viewer = bus.agent("viewer");
    expect(dev.id).toBe("dev-1");
    const rec = recorder();
    viewer.subscribe("sensors/+/indoor", rec.handler, { agentId: "dev-1" });
    const result = await dev.publish("sensors/temperature/indoor", { value: 21.5 }, { log: true });
    expect(result).toMatchObject({ version: 1, diff: { value: 21.5 } });
    expect(result!.message).toMatchObject({ agentId: "dev-1", channel: "sensors/temperature/indoor", data: { value: 21.5 } });
    expect(await dev.getAggregate("sensors/temperature/indoor")).toEqual({ value: 21.5 });
    expect(await viewer.getAggregate("sensors/temperature/indoor", { agentId: "dev-1" })).toEqual({ value: 21.5 });
    // The viewer's own channel of that name does not exist.
    expect(await viewer.getAggregate("sensors/temperature/indoor")).toEqual({});
    await rec.until(2);
    expect(rec.events.map((e) => e.type)).toEqual(["aggregate", "message"]);
    expect(rec.events[0]).toMatchObject({
      agentId: "dev-1",
      channel: "sensors/temperature/indoor",
      aggregate: { value: 21.5 },
      diff: { value: 21.5 },
      version: 1,
    });
  });

  it("first sync per existing matching channel, then aggregates with the effective diff", async () => {
    const bus = newBus();
    const dev = bus.agent("dev-1");
    await dev.publish("sensors/a/indoor", { v: 1, unit: "C" });
    await dev.publish("sensors/b/indoor", { v: 2 });
    await dev.publish("sensors/b/outdoor", { v: 3 });
    const rec = recorder();
    dev.subscribe("sensors/+/indoor", rec.handler);
    await rec.until(2);
    expect(rec.events).toEqual([
      { type: "sync", agentId: "dev-1", channel: "sensors/a/indoor", aggregate: { v: 1, unit: "C" }, version: 1 },
      { type: "sync", agentId: "dev-1", channel: "sensors/b/indoor", aggregate: { v: 2 }, version: 1 },
    ]);
    // Only what really changed is in the diff; a write that changes nothing emits nothing.
    const r = await dev.publish("sensors/a/indoor", { v: 1, unit: "F", extra: null });
    expect(r).toEqual({ version: 2, diff: { unit: "F" } });
    const same = await dev.publish("sensors/a/indoor", { v: 1 });
    expect(same!.diff).toEqual({});
    await dev.publish("sensors/a/indoor", { unit: null });
    await rec.until(4);
    await tick();
    expect(rec.events.slice(2)).toEqual([
      { type: "aggregate", agentId: "dev-1", channel: "sensors/a/indoor", aggregate: { v: 1, unit: "F" }, diff: { unit: "F" }, version: 2 },
      {
        type: "aggregate",
        agentId: "dev-1",
        channel: "sensors/a/indoor",
        aggregate: { v: 1 },
        diff: { unit: null },
        version: expect.any(Number),
      },
    ]);
  });

  it("agentId: own by default, another agent, or '+' for all", async () => {
    const bus = newBus();
    const a = bus.agent("a"),
      b = bus.agent("b"),
      watcher = bus.agent("w");
    const own = recorder(),
      other = recorder(),
      any = recorder();
    a.subscribe("x/#", own.handler);
    watcher.subscribe("x/#", other.handler, { agentId: "b" });
    watcher.subscribe("x/#", any.handler, { agentId: "+" });
    await a.publish("x", { n: 1 });
    await b.publish("x/y", { n: 2 });
    await watcher.publish("x", { n: 3 });
    await any.until(3);
    await tick();
    expect(own.events.map((e) => `${e.agentId}/${e.channel}`)).toEqual(["a/x"]);
    expect(other.events.map((e) => `${e.agentId}/${e.channel}`)).toEqual(["b/x/y"]);
    expect(any.events.map((e) => `${e.agentId}/${e.channel}`)).toEqual(["a/x", "b/x/y", "w/x"]);
    // "+" also syncs every agent's existing channels.
    const late = recorder();
    watcher.subscribe("#", late.handler, { agentId: "+" });
    await late.until(3);
    expect(late.events.map((e) => `${e.type}:${e.agentId}/${e.channel}`).sort()).toEqual(["sync:a/x", "sync:b/x/y", "sync:w/x"]);
  });

  it("message logs: createMessage, getMessages with limit/before/after, bounded per channel", async () => {
    const bus = newBus({ maxMessagesPerChannel: 5 });
    const dev = bus.agent("dev");
    const rec = recorder();
    dev.subscribe("log", rec.handler);
    for (let i = 0; i < 8; i++) await dev.createMessage("log", { i });
    expect(await dev.getAggregate("log")).toEqual({});
    const all = await dev.getMessages("log");
    expect(all.map((m) => (m.data as { i: number }).i)).toEqual([3, 4, 5, 6, 7]);
    expect(new Set(all.map((m) => m.id)).size).toBe(5);
    expect((await dev.getMessages("log", { limit: 2 })).map((m) => (m.data as { i: number }).i)).toEqual([6, 7]);
    const ts = all.map((m) => m.ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThanOrEqual(ts[i - 1]!);
    expect(await dev.getMessages("log", { before: ts[0] })).toEqual([]);
    expect((await dev.getMessages("log", { after: ts[0]! - 1 })).length).toBe(5);
    expect(await dev.getMessages("log", { limit: 0 })).toEqual([]);
    expect(await bus.agent("other").getMessages("log", { agentId: "dev" })).toHaveLength(5);
    await rec.until(8);
    expect(rec.events.every((e) => e.type === "message")).toBe(true);
    // Messages handed out are frozen: no handler can change what others see.
    expect(() => {
      (all[0]!.data as Record<string, unknown>).i = 99;
    }).toThrow();
  });

  it("idempotent replays with messageId", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const m1 = await dev.createMessage("c", { n: 1 }, { messageId: "abc" });
    const m2 = await dev.createMessage("c", { n: 2 }, { messageId: "abc" });
    expect(m2).toEqual(m1);
    const p1 = await dev.publish("c", { count: 1 }, { log: true, messageId: "p1" });
    await dev.publish("c", { count: 2 });
    const p2 = await dev.publish("c", { count: 1 }, { log: true, messageId: "p1" });
    expect(p2!.message).toEqual(p1!.message);
    expect(await dev.getAggregate("c")).toEqual({ count: 2 });
    expect(await dev.getMessages("c")).toHaveLength(2);
  });

  it("lists channels, own and another agent's", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.publish("b/c", { x: 1 });
    await dev.createMessage("a", { x: 1 });
    await dev.publish("tag_values", {});
    expect(await dev.listChannels()).toEqual(["a", "b/c", "tag_values"]);
    expect(await bus.agent("v").listChannels({ agentId: "dev" })).toEqual(["a", "b/c", "tag_values"]);
    expect(await bus.agent("v").listChannels()).toEqual([]);
  });

  it("replace and replaceKeys", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.publish("c", { a: { x: 1, y: 2 }, b: 1 });
    await dev.publish("c", { a: { z: 3 } }, { replaceKeys: ["a"] });
    expect(await dev.getAggregate("c")).toEqual({ a: { z: 3 }, b: 1 });
    await dev.publish("c", { only: true }, { replace: true });
    expect(await dev.getAggregate("c")).toEqual({ only: true });
  });

  it("rejects bad names with TAGWIRE_ERR_NAME before anything is sent", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.publish("ok", { v: 1 });
    for (const bad of ["", "a//b", "/a", "a b", "sensors/+", "x".repeat(256), "ü"]) {
      await expect(dev.publish(bad, { v: 2 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
      await expect(dev.createMessage(bad, { v: 2 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
      await expect(dev.getAggregate(bad)).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
    }
    expect(() => dev.subscribe("a/#/b", () => {})).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    expect(() => dev.subscribe("a", () => {}, { agentId: "a/b" })).toThrowError(TagwireError);
    expect(() => bus.agent("bad/id")).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    // Payloads that are not JSON are refused too, and nothing changed.
    await expect(dev.publish("ok", { f: () => 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_PAYLOAD" });
    expect(await dev.listChannels()).toEqual(["ok"]);
    expect(await dev.getAggregate("ok")).toEqual({ v: 1 });
  });

  it("a throwing handler never stops other handlers or later events", async () => {
    const errors: Array<[unknown, string]> = [];
    const bus = newBus();
    const dev = bus.agent("dev", { onError: (e, ctx) => errors.push([e, ctx]) });
    const before = recorder(),
      after = recorder();
    let calls = 0;
    dev.subscribe("c", before.handler);
    dev.subscribe("c", () => {
      calls++;
      throw new Error("boom");
    });
    dev.subscribe("c", async () => {
      throw new Error("async boom");
    });
    dev.subscribe("c", after.handler);
    for (let i = 1; i <= 5; i++) await dev.publish("c", { i }, { log: i % 2 === 0 });
    await after.until(7);
    await tick();
    expect(before.events.length).toBe(7);
    expect(after.events.map((e) => e.type)).toEqual([
      "aggregate",
      "aggregate",
      "message",
      "aggregate",
      "aggregate",
      "message",
      "aggregate",
    ]);
    expect(calls).toBe(7);
    expect(errors.length).toBe(14);
    expect(errors.filter(([e]) => (e as Error).message === "boom")).toHaveLength(7);
    expect(errors[0]![1]).toContain("dev/c");
  });

  it("unsubscribe stops events, also from inside a handler", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const seen: number[] = [];
    const off = dev.subscribe("c", (e) => {
      if (e.type === "aggregate") seen.push((e.aggregate as { i: number }).i);
      if (seen.length === 2) off();
    });
    for (let i = 1; i <= 4; i++) await dev.publish("c", { i });
    await tick();
    expect(seen).toEqual([1, 2]);
  });

  it("events arrive in publish order, also when handlers publish", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const order: string[] = [];
    dev.subscribe("#", (e) => {
      if (e.type !== "aggregate") return;
      order.push(`${e.channel}:${JSON.stringify(e.diff)}`);
      if (e.channel === "a") void dev.publish("b", { from: (e.aggregate as { n: number }).n });
    });
    await dev.publish("a", { n: 1 });
    await dev.publish("a", { n: 2 });
    await tick();
    expect(order).toEqual(['a:{"n":1}', 'b:{"from":1}', 'a:{"n":2}', 'b:{"from":2}']);
  });

  it("subscribes before the core is ready and works from the first call", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const rec = recorder();
    dev.subscribe("c", rec.handler);
    const p = dev.publish("c", { first: true });
    await p;
    await rec.until(1);
    expect(rec.events[0]).toMatchObject({ type: "aggregate", aggregate: { first: true } });
    const ready = await LocalBus.create();
    buses.push(ready);
    expect(await ready.agent("x").getAggregate("c")).toEqual({});
  });

  it("seeded random writes: every event's aggregate equals the stored aggregate at its version", async () => {
    const seed = Number(process.env.TAGWIRE_SEED ?? Date.now() % 1_000_000);
    console.log(`sdk.agent random seed: ${seed} (set TAGWIRE_SEED to replay)`);
    let s = seed >>> 0 || 1;
    const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const keys = ["a", "b", "c"];
    const value = (depth: number): unknown => {
      const r = rand();
      if (r < 0.2) return null;
      if (r < 0.45 || depth > 2) return [1, 1.5, true, "x", 0][Math.floor(rand() * 5)];
      if (r < 0.55) return [Math.floor(rand() * 3)];
      const o: Record<string, unknown> = {};
      for (let i = 0, n = 1 + Math.floor(rand() * 3); i < n; i++) o[keys[Math.floor(rand() * keys.length)]!] = value(depth + 1);
      return o;
    };
    const bus = newBus();
    const dev = bus.agent("dev");
    const last: { aggregate?: unknown; version?: number } = {};
    let mismatches = 0;
    dev.subscribe("c", (e) => {
      if (e.type === "aggregate") Object.assign(last, { aggregate: e.aggregate, version: e.version });
    });
    for (let i = 0; i < 300; i++) {
      const v = value(0);
      const diff = v !== null && typeof v === "object" && !Array.isArray(v) ? v : { k: v };
      const r = rand();
      const options = r < 0.1 ? { replace: true } : r < 0.25 ? { replaceKeys: [keys[Math.floor(rand() * 3)]!] } : {};
      const result = await dev.publish("c", diff, options);
      if (result && last.version === result.version) {
        const stored = await dev.getAggregate("c");
        if (JSON.stringify(sortKeys(stored)) !== JSON.stringify(sortKeys(last.aggregate))) mismatches++;
        expect(last.aggregate, `seed ${seed} step ${i}`).toEqual(stored);
      }
    }
    expect(mismatches).toBe(0);
    expect(last.version).toBeGreaterThan(50);
  });

  it("a closed agent or bus refuses calls with TAGWIRE_ERR_CLOSED", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.close();
    await expect(dev.publish("c", {})).rejects.toMatchObject({ code: "TAGWIRE_ERR_CLOSED" });
    const other = bus.agent("other");
    await bus.close();
    await expect(other.getAggregate("c")).rejects.toMatchObject({ code: "TAGWIRE_ERR_CLOSED" });
  });
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}
