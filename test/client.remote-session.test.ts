// The coordinator (RemoteSession) over the in-process transport with a scripted peer: the pieces
// wired together without a hub. A refused subscription as a typed event, backpressure surfacing
// as TAGWIRE_ERR_BACKPRESSURE, reconnect with resubscribe and outbox replay, keepalive drops.
import { afterEach, describe, expect, it } from "vitest";
import { RemoteSession, type RemoteSessionEvent } from "../bindings/client/remote-session.js";
import { LAZY, Packed } from "../bindings/client/lazy-doc.js";
import { connectMemory } from "../bindings/transports/memory.js";
import { TagwireError } from "../bindings/core/errors.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import type { ClientFrame } from "../bindings/protocol/frames.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";
import { scriptedEndpoint, until, type ScriptedPeer } from "./fixtures/client-peer.js";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

const WRITE_ACK = { version: 1, diff: new Uint8Array([0x80]), message: null };

function session(url: string, extra: Partial<ConstructorParameters<typeof RemoteSession>[0]> = {}) {
  const errors: string[] = [];
  const s = new RemoteSession({
    agentId: "dev",
    transport: () => connectMemory(url),
    backoff: { initialMs: 5, maxMs: 20 },
    onError: (e, context) => errors.push(`${context}: ${(e as Error).message}`),
    ...extra,
  });
  cleanup.push(() => s.close(0));
  return { s, errors };
}

function endpoint(setup?: (peer: ScriptedPeer, i: number) => void) {
  const ep = scriptedEndpoint(setup);
  cleanup.push(() => ep.close());
  return ep;
}

describe("remote session over a scripted peer", () => {
  it("reports a refused subscription as a typed event, or to onError when nobody listens", async () => {
    const ep = endpoint((peer) =>
      peer.onFrame((f) => {
        if (f.type === "subscribe") {
          if (f.pattern.startsWith("secret")) peer.refuse(f.reqId, "TAGWIRE_ERR_FORBIDDEN", "not yours");
          else peer.ack(f.reqId, { subId: f.subId });
        }
      }),
    );
    const { s, errors } = session(ep.url);
    await s.whenOnline(2_000);
    const events: RemoteSessionEvent[] = [];
    const off = s.onEvent((e) => events.push(e));
    s.subscribe("dev", "secret/#", () => {});
    s.subscribe("dev", "open/#", () => {});
    await until(() => events.length === 1);
    const e = events[0]!;
    expect(e.type).toBe("subscriptionRefused");
    expect(e.agentId).toBe("dev");
    expect(e.pattern).toBe("secret/#");
    expect(e.error).toBeInstanceOf(TagwireError);
    expect(e.error.code).toBe("TAGWIRE_ERR_FORBIDDEN");
    expect(errors).toEqual([]);

    off();
    s.subscribe("+", "secret/more", () => {});
    await until(() => errors.length === 1);
    expect(errors[0]).toBe("subscribe +/secret/more: not yours");
    expect(events.length).toBe(1);
  });

  it("refuses writes with TAGWIRE_ERR_BACKPRESSURE while the connection does not drain, and sends the accepted ones in order", async () => {
    const ep = endpoint((peer) => peer.onFrame((f) => f.type === "publish" && peer.ack(f.reqId, WRITE_ACK)));
    const { s } = session(ep.url, { highWaterBytes: 4_096, maxQueuedBytes: 16_384 });
    await s.whenOnline(2_000);
    const peer = ep.peers[0]!;
    peer.pause();
    const data = { blob: "z".repeat(1_000) };
    const results: Promise<string>[] = [];
    for (let i = 0; i < 40; i++) {
      results.push(
        s.publish("dev", `c${i}`, data).then(
          () => `ok ${i}`,
          (e: TagwireError) => e.code,
        ),
      );
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(s.queuedBytes).toBeGreaterThan(10_000);
    peer.resume();
    const outcome = await Promise.all(results);
    const accepted = outcome.filter((o) => o.startsWith("ok"));
    const refused = outcome.filter((o) => o === "TAGWIRE_ERR_BACKPRESSURE");
    expect(accepted.length + refused.length).toBe(40);
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(10);
    const sent = peer.received.filter((f): f is Extract<ClientFrame, { type: "publish" }> => f.type === "publish").map((f) => f.channel);
    expect(sent).toEqual(accepted.map((o) => `c${o.slice(3)}`));
    // Once drained, writes go through again.
    expect((await s.publish("dev", "after", { x: 1 })).version).toBe(1);
  });

  it("generates write ids that start with their time, carry the client id and never repeat", async () => {
    const ep = endpoint((peer) => peer.onFrame((f) => f.type === "publish" && peer.ack(f.reqId, WRITE_ACK)));
    const { s } = session(ep.url, { clientId: "cli" });
    await s.whenOnline(2_000);
    const before = Date.now();
    for (let i = 0; i < 50; i++) {
      await s.publish("dev", "c", { i });
      if (i === 24) await new Promise((r) => setTimeout(r, 5));
    }
    const after = Date.now();
    const ids = ep.peers[0]!.received.flatMap((f) => (f.type === "publish" ? [f.messageId!] : []));
    expect(ids.length).toBe(50);
    expect(new Set(ids).size).toBe(50);
    let lastMs = before;
    for (const id of ids) {
      const [ms, client, seq] = id.split("-");
      expect(client).toBe("cli");
      expect(seq).toMatch(/^[0-9a-z]+$/);
      // The hub keys its replay protection by id: ids that rise with time append there.
      const t = Number.parseInt(ms!, 36);
      expect(t).toBeGreaterThanOrEqual(lastMs);
      expect(t).toBeLessThanOrEqual(after);
      lastMs = t;
    }
    expect(lastMs).toBeGreaterThan(before);
  });

  it("resolves a publish with a result that reads as a plain object, its diff decoded once on first read", async () => {
    const diff = encodeValue({ temp: { value: 21.5 } });
    const ep = endpoint((peer) =>
      peer.onFrame((f) => {
        if (f.type === "publish") peer.ack(f.reqId, { version: 7, diff, message: f.log ? { id: f.messageId, ts: 1234 } : null });
      }),
    );
    const { s } = session(ep.url);
    await s.whenOnline(2_000);
    const r = await s.publish("dev", "tag_values", { temp: { value: 21.5 } }, { messageId: "m-1", log: true });
    // Many more acks before the first result's diff is read: its bytes are its own.
    for (let i = 0; i < 50; i++) await s.publish("dev", "tag_values", { i });
    expect(r).toEqual({
      version: 7,
      diff: { temp: { value: 21.5 } },
      message: { id: "m-1", agentId: "dev", channel: "tag_values", ts: 1234, data: { temp: { value: 21.5 } } },
    });
    expect(r.diff).toBe(r.diff); // decoded once, then kept
    expect({ ...r }.diff).toEqual({ temp: { value: 21.5 } });
    expect(Object.keys(r)).toEqual(["version", "diff", "message"]);
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ version: 7, diff: { temp: { value: 21.5 } } });
    expect("diff" in r).toBe(true);
    r.diff = { replaced: true }; // as writable as a plain result
    expect(r.diff).toEqual({ replaced: true });
    const plain = await s.publish("dev", "tag_values", { x: 1 });
    expect(plain.message).toBeUndefined();
  });

  it("decodes a Packed field on its first read only, in place", () => {
    const batch = new Uint8Array(64);
    const doc = encodeValue({ a: [1, 2] });
    batch.set(doc, 10);
    const target: Record<PropertyKey, unknown> = {
      version: 3,
      diff: new Packed(batch.subarray(10, 10 + doc.length)),
      bad: new Packed(new Uint8Array([0xc1])),
    };
    const lazy = new Proxy(target, LAZY) as { version: number; diff: unknown; bad: unknown };
    expect(lazy.version).toBe(3);
    expect(target.diff).toBeInstanceOf(Packed); // not decoded yet
    expect(lazy.diff).toEqual({ a: [1, 2] });
    expect(target.diff).toEqual({ a: [1, 2] }); // decoded in place, once
    expect(lazy.diff).toBe(target.diff);
    // A document that does not decode fails where it is read, not before.
    expect(() => lazy.bad).toThrow(/0xc1/);
  });

  it("checks the names of every write, also after a write whose names passed", async () => {
    const ep = endpoint((peer) =>
      peer.onFrame((f) => (f.type === "publish" || f.type === "createMessage") && peer.ack(f.reqId, WRITE_ACK)),
    );
    const { s } = session(ep.url);
    await s.whenOnline(2_000);
    await s.publish("dev", "c", { i: 1 });
    await s.publish("dev", "c", { i: 2 });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "sent",
        (e: TagwireError) => e.code,
      );
    expect(await code(s.publish("dev", "bad/+", { i: 3 }))).toBe("TAGWIRE_ERR_NAME");
    expect(await code(s.publish("bad agent", "c", { i: 4 }))).toBe("TAGWIRE_ERR_NAME");
    expect(await code(s.createMessage("dev", "", { i: 5 }))).toBe("TAGWIRE_ERR_NAME");
    expect(await code(s.publish("dev", "c", { i: 6 }))).toBe("sent");
    expect(await code(s.publish("dev", "c/+", { i: 7 }))).toBe("TAGWIRE_ERR_NAME");
    expect(ep.peers[0]!.received.filter((f) => f.type === "publish").length).toBe(3);
  });

  it("reconnects, resubscribes with the versions it holds, and replays writes made offline in order", async () => {
    const ep = endpoint((peer) =>
      peer.onFrame((f) => {
        if (f.type === "subscribe") {
          peer.ack(f.reqId, { subId: f.subId });
          peer.send({
            type: "sync",
            subId: f.subId,
            agentId: "dev",
            channel: "state",
            version: f.known ? 5 : 2,
            aggregate: encodeValue({ v: f.known ? 5 : 2 }),
          });
        } else if (f.type === "publish") peer.ack(f.reqId, WRITE_ACK);
      }),
    );
    const { s } = session(ep.url, { catchUpMessages: 0 });
    await s.whenOnline(2_000);
    const events: ChannelEvent[] = [];
    s.subscribe("dev", "state", (e) => events.push(e));
    await until(() => events.length === 1);
    const states: string[] = [];
    s.onState((st) => states.push(st));

    ep.peers[0]!.transport.close("hub restarts");
    await until(() => s.state === "offline");
    // Both made before either resolves: a kept write resolves after the event loop turns, and
    // by then the session may be back and have sent the first one on its own.
    const first = s.publish("dev", "state", { offline: 1 });
    const secondWrite = s.publish("dev", "state", { offline: 2 });
    const queued = await first;
    expect(queued).toMatchObject({ queued: true, version: -1 });
    await secondWrite;
    await s.whenOnline(2_000);
    await until(() => events.length === 2);
    expect(states).toEqual(["offline", "online"]);
    const second = ep.peers[1]!;
    const resub = second.received.find((f) => f.type === "subscribe") as Extract<ClientFrame, { type: "subscribe" }>;
    expect(resub.known).toEqual({ "dev/state": 2 });
    expect(events.map((e) => e.type)).toEqual(["sync", "resynced"]);
    expect(s.queuedWrites).toBe(0);
    // The two offline writes were folded into one (same channel, plain merge) and sent once.
    const writes = second.received.filter((f) => f.type === "publish");
    expect(writes.length).toBe(1);
  });

  it("lets a loop awaiting one offline write after another yield, so the session reconnects meanwhile", async () => {
    const ep = endpoint((peer) =>
      peer.onFrame((f) => {
        if (f.type === "publish") peer.ack(f.reqId, WRITE_ACK);
      }),
    );
    const { s } = session(ep.url);
    await s.whenOnline(2_000);
    ep.peers[0]!.transport.close("hub restarts");
    await until(() => s.state === "offline");
    // Each offline write is kept at once. Were it also resolved at once, this loop would run in
    // microtasks alone: the reconnect timer could never fire, and the loop would reach LIMIT.
    const LIMIT = 200_000;
    let n = 0;
    let queued = 0;
    while (s.state !== "online" && n < LIMIT) {
      const r = await s.publish("dev", "state", { n: n++ });
      if (r.queued) queued++;
    }
    expect(s.state).toBe("online");
    expect(n).toBeLessThan(LIMIT);
    expect(queued).toBe(n);
    // The writes kept meanwhile fold into one (same channel, plain merge) and reach the new peer.
    await until(() => s.queuedWrites === 0);
    const writes = ep.peers[1]!.received.filter((f) => f.type === "publish");
    expect(writes.length).toBeGreaterThanOrEqual(1);
  });

  it("drops a connection whose pings go unanswered and comes back on a new one", async () => {
    const ep = endpoint((peer, i) => {
      if (i === 0) peer.auto.ping = false;
    });
    const { s } = session(ep.url, { pingIntervalMs: 20, pingTimeoutMs: 30 });
    await s.whenOnline(2_000);
    const reasons: string[] = [];
    s.onState((st, detail) => {
      if (st === "offline") reasons.push(String((detail as { reason?: string } | undefined)?.reason));
    });
    await until(() => ep.peers.length === 2 && s.state === "online", 3_000);
    expect(reasons).toEqual(["ping unanswered for 30 ms"]);
    expect(ep.peers[0]!.transport.state).toBe("closed");
  });

  it("gives up on a hello refused for good and fails what waits", async () => {
    const ep = endpoint((peer) => {
      peer.auto.hello = false;
      peer.onFrame((f) => f.type === "hello" && peer.refuse(f.reqId, "TAGWIRE_ERR_AUTH", "bad token"));
    });
    const { s, errors } = session(ep.url);
    const reading = s.getAggregate("dev", "x").catch((e: TagwireError) => e.code);
    await expect(s.whenOnline(2_000)).rejects.toMatchObject({ code: "TAGWIRE_ERR_AUTH" });
    expect(await reading).toBe("TAGWIRE_ERR_AUTH");
    expect(errors).toEqual(["connecting to the hub: bad token"]);
    await new Promise((r) => setTimeout(r, 40));
    expect(ep.peers.length).toBe(1);
  });
});
