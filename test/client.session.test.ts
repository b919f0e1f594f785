// The remote session against a real hub (hub/, over ws on loopback): the SDK's Agent unchanged,
// auth, reconnect with resubscribe and resync by version, missed messages, the offline outbox
// (order, folding, exactly once when acks are lost) and its survival across a killed process.
// Connections are cut with a real TCP proxy (fixtures/client-proxy.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { connect, RemoteSession, transportFor } from "../bindings/client/index.js";
import { Agent } from "../bindings/sdk/agent.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";
import { TagwireError } from "../bindings/core/errors.js";
import { TcpProxy, WsRelay } from "./fixtures/client-proxy.js";
import { decodeBatch } from "../bindings/protocol/frames.js";
import { buildForChild, removeChildBuilds } from "./fixtures/client-build.js";

const SECRET = "client-session-test-secret";
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tw-client-"));
  dirs.push(d);
  return d;
}

let hub: RunningHub;
let proxy: TcpProxy;
const open: { close(): Promise<void> }[] = [];
const FAST = { backoff: { initialMs: 20, maxMs: 200 }, requestTimeoutMs: 10_000 };

function token(agentId: string, role: "device" | "viewer" | "operator" = "device", grants?: string[]): string {
  return createToken(SECRET, { agentId, role, grants });
}

async function agentAt(url: string, agentId: string, extra: Record<string, unknown> = {}): Promise<Agent> {
  const a = await connect(url, { agentId, token: token(agentId, "device", ["#"]), ...FAST, ...extra });
  open.push(a);
  return a;
}

function session(a: Agent): RemoteSession {
  return a.session as RemoteSession;
}

async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function waitState(s: RemoteSession, state: string): Promise<void> {
  if (s.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = s.onState((st) => {
      if (st === state) {
        off();
        resolve();
      }
    });
  });
}

beforeAll(async () => {
  hub = await startHub({ dataDir: tempDir(), secret: SECRET, log: () => {} });
  proxy = await TcpProxy.start(hub.port);
});

afterEach(async () => {
  proxy.setMode("up");
  for (const a of open.splice(0)) await a.close().catch(() => {});
});

afterAll(async () => {
  removeChildBuilds();
  await proxy?.close();
  await hub?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const viaProxy = () => `ws://127.0.0.1:${proxy.port}`;

describe("connect()", () => {
  it("returns the SDK's Agent over a RemoteSession; two agents share channels through the hub", async () => {
    const pump = await agentAt(hub.url, "pump-1");
    const viewer = await agentAt(hub.url, "viewer-1");
    expect(pump).toBeInstanceOf(Agent);
    expect(pump.session).toBeInstanceOf(RemoteSession);
    const events: ChannelEvent[] = [];
    await pump.publish("state", { rpm: 10, mode: { auto: true } });
    viewer.subscribe("#", (e) => void events.push(e), { agentId: "pump-1" });
    await until(() => events.length === 1, 5000, "sync");
    expect(events[0]).toMatchObject({
      type: "sync",
      agentId: "pump-1",
      channel: "state",
      version: 1,
      aggregate: { rpm: 10, mode: { auto: true } },
    });
    const r = await pump.publish("state", { mode: { auto: false }, rpm: 10 });
    expect(r).toMatchObject({ version: 2, diff: { mode: { auto: false } } });
    const m = await pump.createMessage("log", { text: "started" });
    await until(() => events.length === 3, 5000, "events");
    expect(events[1]).toMatchObject({
      type: "aggregate",
      version: 2,
      diff: { mode: { auto: false } },
      aggregate: { rpm: 10, mode: { auto: false } },
    });
    expect(events[2]).toMatchObject({ type: "message", channel: "log", message: { id: m.id, data: { text: "started" } } });
    expect(Object.isFrozen(events[1]!.type === "aggregate" && events[1]!.aggregate)).toBe(true);
    expect(await viewer.getAggregate("state", { agentId: "pump-1" })).toEqual({ rpm: 10, mode: { auto: false } });
    expect((await viewer.getMessages("log", { agentId: "pump-1" })).map((x) => x.data)).toEqual([{ text: "started" }]);
    expect(await viewer.listChannels({ agentId: "pump-1" })).toEqual(["log", "state"]);
    expect(await viewer.getAggregate("nothing-here", { agentId: "pump-1" })).toEqual({});
  });

  it("refuses a wrong token with TAGWIRE_ERR_AUTH and stops retrying", async () => {
    const bad = createToken("another-secret", { agentId: "pump-1", role: "device" });
    const started = proxy.accepted;
    const quiet = { onError: () => {} };
    await expect(connect(viaProxy(), { agentId: "pump-1", token: bad, ...FAST, ...quiet })).rejects.toMatchObject({
      code: "TAGWIRE_ERR_AUTH",
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(proxy.accepted - started).toBe(1);
    // A token for another agent is refused the same way.
    await expect(connect(hub.url, { agentId: "pump-1", token: token("pump-2"), ...FAST, ...quiet })).rejects.toBeInstanceOf(TagwireError);
  });

  it("surfaces the hub's refusals as typed errors and stays usable", async () => {
    const viewer = await connect(hub.url, { agentId: "viewer-2", token: token("viewer-2", "viewer"), ...FAST });
    open.push(viewer);
    await expect(viewer.publish("state", { x: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_FORBIDDEN" });
    expect(await viewer.listChannels({ agentId: "pump-1" })).toContain("state");
  });

  it("times out when nothing answers, and picks transports by URL protocol", async () => {
    proxy.setMode("down");
    await expect(connect(viaProxy(), { agentId: "pump-1", connectTimeoutMs: 300, ...FAST })).rejects.toMatchObject({
      code: "TAGWIRE_ERR_TIMEOUT",
    });
    expect(() => transportFor("gopher://x")).toThrow(/no transport/);
    for (const u of ["ws://h", "wss://h", "mqtt://h", "mqtts://h", "memory://h"]) expect(typeof transportFor(u)).toBe("function");
  });
});

describe("reconnect", () => {
  it("resubscribes, resyncs a changed aggregate by version, and delivers messages missed meanwhile", async () => {
    const writer = await agentAt(hub.url, "rs-writer");
    await writer.publish("state", { n: 1 });
    await writer.createMessage("log", { i: 0 });
    const reader = await agentAt(viaProxy(), "rs-reader");
    const events: ChannelEvent[] = [];
    reader.subscribe("#", (e) => void events.push(e), { agentId: "rs-writer" });
    await until(() => events.length === 2, 5000, "initial sync");
    await writer.publish("state", { n: 2 });
    await writer.createMessage("log", { i: 1 });
    await until(() => events.length === 4, 5000, "live events");
    const states: string[] = [];
    session(reader).onState((s) => states.push(s));

    proxy.setMode("down");
    await waitState(session(reader), "offline");
    await writer.publish("state", { n: 3, extra: true });
    await writer.publish("state", { n: 4 });
    await writer.createMessage("log", { i: 2 });
    await writer.createMessage("log", { i: 3 });
    await writer.publish("untouched", { z: 1 }); // a channel created while away
    const before = events.length;
    proxy.setMode("up");
    await waitState(session(reader), "online");
    await until(() => events.length >= before + 4, 5000, "resync events");
    const after = events.slice(before);
    const resynced = after.filter((e) => e.type === "resynced");
    expect(resynced).toContainEqual({
      type: "resynced",
      agentId: "rs-writer",
      channel: "state",
      version: 4,
      aggregate: { n: 4, extra: true },
    });
    expect(resynced.map((e) => e.channel).sort()).toEqual(["state", "untouched"]);
    // The log channel did not change its aggregate (version 0): no resync for it.
    const missed = after.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.message.data : null));
    expect(missed).toEqual([{ i: 2 }, { i: 3 }]);
    expect(states).toEqual(["offline", "online"]);

    // Live again: the next change is an ordinary aggregate event with the next version.
    await writer.publish("state", { n: 5 });
    await until(() => events.some((e) => e.type === "aggregate" && e.version === 5), 5000, "v5");
    const v5 = events.find((e) => e.type === "aggregate" && e.version === 5)!;
    expect(v5).toMatchObject({ aggregate: { n: 5, extra: true }, diff: { n: 5 } });
    // Nothing was delivered twice.
    const messageIds = events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.message.id : ""));
    expect(new Set(messageIds).size).toBe(messageIds.length);
    expect(messageIds.length).toBe(3); // i: 1 live, i: 2 and 3 caught up (i: 0 predates the subscription)
  });

  it("detects a lost update by its version, re-reads the aggregate and emits resynced", async () => {
    const relay = await WsRelay.start(hub.url);
    try {
      const writer = await agentAt(hub.url, "gap-writer");
      await writer.publish("state", { n: 1, keep: "x" });
      const reader = await agentAt(`ws://127.0.0.1:${relay.port}`, "gap-reader");
      const events: ChannelEvent[] = [];
      reader.subscribe("state", (e) => void events.push(e), { agentId: "gap-writer" });
      await until(() => events.length === 1, 5000, "sync");
      // Drop the one batch that carries version 2 of the aggregate on its way to the reader.
      let dropped = 0;
      relay.dropToClient = (bytes) => {
        const frames = decodeBatch(bytes) as unknown[][];
        const hit = frames.some((f) => f[0] === 19 && f[2] === "state" && f[3] === 2);
        if (hit) dropped++;
        return hit;
      };
      await writer.publish("state", { n: 2 });
      await until(() => dropped === 1, 5000, "drop");
      relay.dropToClient = () => false;
      await writer.publish("state", { n: 3 });
      await until(() => events.length >= 2, 5000, "resync");
      expect(events[1]).toEqual({ type: "resynced", agentId: "gap-writer", channel: "state", version: 3, aggregate: { n: 3, keep: "x" } });
      // The stream continues from the repaired version.
      await writer.publish("state", { n: 4 });
      await until(() => events.length >= 3, 5000, "v4");
      expect(events[2]).toMatchObject({ type: "aggregate", version: 4, aggregate: { n: 4, keep: "x" }, diff: { n: 4 } });
      expect(events.length).toBe(3);
    } finally {
      await relay.close();
    }
  });

  it("sends no resync when nothing changed while away", async () => {
    const writer = await agentAt(hub.url, "quiet-writer");
    await writer.publish("state", { n: 1 });
    const reader = await agentAt(viaProxy(), "quiet-reader");
    const events: ChannelEvent[] = [];
    reader.subscribe("state", (e) => void events.push(e), { agentId: "quiet-writer" });
    await until(() => events.length === 1, 5000, "sync");
    proxy.setMode("down");
    await waitState(session(reader), "offline");
    proxy.setMode("up");
    await waitState(session(reader), "online");
    await writer.publish("state", { n: 2 });
    await until(() => events.length === 2, 5000, "next event");
    expect(events.map((e) => e.type)).toEqual(["sync", "aggregate"]);
  });

  it("answers reads made while offline once it is back", async () => {
    const a = await agentAt(viaProxy(), "offline-reader");
    await a.publish("state", { k: 1 });
    proxy.setMode("down");
    await waitState(session(a), "offline");
    const read = a.getAggregate("state");
    setTimeout(() => proxy.setMode("up"), 200);
    expect(await read).toEqual({ k: 1 });
  });
});

describe("offline outbox", () => {
  it("queues writes made offline and sends them in order, folded, on reconnect", async () => {
    const dev = await agentAt(viaProxy(), "ob-dev");
    const watcher = await agentAt(hub.url, "ob-watch");
    const events: ChannelEvent[] = [];
    watcher.subscribe("#", (e) => void events.push(e), { agentId: "ob-dev" });
    await dev.publish("state", { a: 1 });
    await until(() => events.length === 1, 5000, "first event");
    proxy.setMode("down");
    await waitState(session(dev), "offline");

    const r1 = await dev.publish("state", { a: 2 });
    expect(r1).toMatchObject({ version: -1, queued: true });
    await dev.publish("state", { b: { x: 1 } });
    await dev.publish("state", { b: { y: 2 } });
    const logged = await dev.publish("state", { a: 3 }, { log: true });
    expect(logged?.message?.id).toBeTruthy();
    await dev.publish("state", { c: true });
    for (let i = 0; i < 5; i++) await dev.createMessage("events", { i });
    // 3 folded publishes -> 1; the logged one; one after it; 5 messages.
    expect(session(dev).queuedWrites).toBe(8);
    expect(events.length).toBe(1);

    proxy.setMode("up");
    await session(dev).whenOnline(5000);
    expect(session(dev).queuedWrites).toBe(0);
    await until(() => events.length >= 9, 5000, "replayed events");
    const aggs = events.filter((e) => e.type === "aggregate");
    expect(aggs.map((e) => e.type === "aggregate" && e.diff)).toEqual([{ a: 1 }, { a: 2, b: { x: 1, y: 2 } }, { a: 3 }, { c: true }]);
    expect(await watcher.getAggregate("state", { agentId: "ob-dev" })).toEqual({ a: 3, b: { x: 1, y: 2 }, c: true });
    const msgs = await watcher.getMessages("events", { agentId: "ob-dev" });
    expect(msgs.map((m) => m.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    const stateLog = await watcher.getMessages("state", { agentId: "ob-dev" });
    expect(stateLog.map((m) => m.id)).toEqual([logged!.message!.id]);
    // Writes after the drain go direct again.
    const direct = await dev.publish("state", { d: 1 });
    expect(direct).toMatchObject({ version: 5 });
  });

  it("replays writes whose acks were lost exactly once", async () => {
    const dev = await agentAt(viaProxy(), "ob-lost-acks", { pingIntervalMs: 0 });
    await dev.publish("state", { warm: true });
    proxy.setMode("mute"); // the hub still gets and applies writes; its replies vanish
    const ids = ["lost-1", "lost-2", "lost-3"];
    const pending = [
      dev.createMessage("events", { n: 1 }, { messageId: ids[0] }),
      dev.publish("state", { n: 2 }, { log: true, messageId: ids[1] }),
      dev.createMessage("events", { n: 3 }, { messageId: ids[2] }),
    ];
    const reader = await agentAt(hub.url, "ob-lost-reader");
    // Wait until the hub really applied them (read through another connection).
    const deadline = Date.now() + 5000;
    while ((await reader.getMessages("events", { agentId: "ob-lost-acks" })).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    proxy.setMode("down"); // now the connection drops with three writes in doubt
    const results = await Promise.all(pending);
    expect(results.every((r) => r && (("queued" in r && r.queued) || "ts" in r))).toBe(true);
    expect(session(dev).queuedWrites).toBe(3);
    proxy.setMode("up");
    await session(dev).whenOnline(5000);
    const events = await reader.getMessages("events", { agentId: "ob-lost-acks" });
    expect(events.map((m) => m.id)).toEqual([ids[0], ids[2]]);
    const stateLog = await reader.getMessages("state", { agentId: "ob-lost-acks" });
    expect(stateLog.map((m) => m.id)).toEqual([ids[1]]);
  });

  it("survives a process killed while offline: a new session on the same outboxDir sends the writes", async () => {
    const dir = tempDir();
    proxy.setMode("down");
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [await buildForChild("test/fixtures/client-offline-writer.ts"), viaProxy(), dir, token("ob-crash")],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("queued all")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`child exited (${code}) before queueing: ${out}`)));
    });
    console.log(`offline writer queued after ${Date.now() - t0} ms`);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    proxy.setMode("up");
    const again = await connect(viaProxy(), { agentId: "ob-crash", token: token("ob-crash"), outboxDir: dir, ...FAST });
    open.push(again);
    await session(again).whenOnline(5000);
    expect(session(again).queuedWrites).toBe(0);
    const reader = await agentAt(hub.url, "ob-crash-reader");
    expect(await reader.getAggregate("state", { agentId: "ob-crash" })).toEqual({ step: 20, history: { last: 20 } });
    const msgs = await reader.getMessages("events", { agentId: "ob-crash" });
    expect(msgs.map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })));
  });

  it("drains a large durable outbox in order, exactly once", async () => {
    const dev = await agentAt(viaProxy(), "ob-large", { outboxDir: tempDir() });
    proxy.setMode("down");
    await waitState(session(dev), "offline");
    const n = 3000;
    for (let i = 0; i < n; i++) await dev.createMessage("seq", { i });
    for (let i = 0; i < 50; i++) await dev.publish("state", { [`k${i % 7}`]: i });
    expect(session(dev).queuedWrites).toBe(n + 1); // the 50 diffs folded into one entry
    proxy.setMode("up");
    await session(dev).whenOnline(20_000);
    const reader = await agentAt(hub.url, "ob-large-reader");
    const last = await reader.getMessages("seq", { agentId: "ob-large", limit: 1000 });
    expect(last.map((m) => (m.data as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => n - 1000 + i));
    const before = await reader.getMessages("seq", { agentId: "ob-large", before: last[0]!.ts + 1, limit: 1000 });
    expect(new Set(before.map((m) => m.id)).size).toBe(before.length);
    expect(await reader.getAggregate("state", { agentId: "ob-large" })).toEqual({ k0: 49, k1: 43, k2: 44, k3: 45, k4: 46, k5: 47, k6: 48 });
  });

  it("keeps 2000 direct writes in order", async () => {
    const dev = await agentAt(hub.url, "order-dev");
    const all = [];
    for (let i = 0; i < 2000; i++) all.push(dev.createMessage("seq", { i }));
    await Promise.all(all);
    const reader = await agentAt(hub.url, "order-reader");
    const msgs = await reader.getMessages("seq", { agentId: "order-dev", limit: 1000 });
    expect(msgs.map((m) => (m.data as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => 1000 + i));
  });
});
