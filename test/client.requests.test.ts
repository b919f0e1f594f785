// Request/reply matching alone: Requests sending through a SendQueue over a real in-process
// transport to a scripted peer, whose answers come back through the client's inbound decoder.
import { afterEach, describe, expect, it } from "vitest";
import { Requests } from "../bindings/client/requests.js";
import { SendQueue } from "../bindings/client/send-queue.js";
import { receiveBatch } from "../bindings/client/inbound.js";
import { MemoryTransport } from "../bindings/transports/memory.js";
import { TagwireError } from "../bindings/core/errors.js";
import type { ClientFrame } from "../bindings/protocol/frames.js";
import type { OutboxWrite } from "../bindings/client/outbox.js";
import { writeFrame } from "../bindings/client/wire.js";
import { ScriptedPeer, until } from "./fixtures/client-peer.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** One connection: a queue attached to a fresh pair, the client end's answers wired to `r`. */
async function connection(r: Requests, q: SendQueue): Promise<{ peer: ScriptedPeer; near: MemoryTransport }> {
  const [near, far] = MemoryTransport.pair();
  const peer = new ScriptedPeer(far);
  await new Promise<void>((res) => near.onState((c) => c.state === "open" && res()));
  const noEvents = { onSync() {}, onAggregate() {}, onMessage() {} };
  near.onFrame((bytes) =>
    receiveBatch(bytes, r, noEvents, (e) => {
      throw e;
    }),
  );
  q.attach(near);
  cleanup.push(() => near.close());
  return { peer, near };
}

function setup(timeoutMs = 2_000, queue: ConstructorParameters<typeof SendQueue>[0] = {}) {
  const q = new SendQueue(queue);
  cleanup.push(() => q.close());
  const r = new Requests({ sink: q, timeoutMs });
  return { q, r };
}

const read = (channel: string): ClientFrame => ({ type: "getAggregate", reqId: 0, agentId: "a", channel });
const write = (id: string): OutboxWrite => ({ kind: "publish", id, agentId: "a", channel: "c", data: { id } });

describe("request matching", () => {
  it("numbers requests uniquely and matches answers given out of order", async () => {
    const { q, r } = setup();
    const { peer } = await connection(r, q);
    r.connected();
    const replies = ["x", "y", "z"].map((c) => r.request("read", read(c)));
    await until(() => peer.received.length === 3);
    const reqIds = peer.received.map((f) => f.reqId);
    expect(new Set(reqIds).size).toBe(3);
    // Answer in reverse order; each caller gets its own answer.
    for (const f of [...peer.received].reverse()) peer.ack(f.reqId, { channel: (f as { channel: string }).channel });
    expect(await Promise.all(replies)).toEqual([{ channel: "x" }, { channel: "y" }, { channel: "z" }]);
    expect(r.size).toBe(0);
    // An answer nobody waits for is not matched.
    expect(r.settle(reqIds[0]!, {})).toBe(false);
  });

  it("rejects with the hub's code as a TagwireError", async () => {
    const { q, r } = setup();
    const { peer } = await connection(r, q);
    r.connected();
    const p = r.request("subscribe", { type: "subscribe", reqId: 0, subId: 1, agentId: "a", pattern: "secret/#" });
    const f = await peer.nextOfType("subscribe");
    peer.refuse(f.reqId, "TAGWIRE_ERR_FORBIDDEN", "not yours");
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TagwireError);
    expect((err as TagwireError).code).toBe("TAGWIRE_ERR_FORBIDDEN");
    expect((err as TagwireError).message).toBe("not yours");
  });

  it("holds reads until connected, and times them out when nothing answers", async () => {
    const { q, r } = setup(150);
    const { peer } = await connection(r, q);
    const early = r.request("read", read("early"));
    await new Promise((res) => setTimeout(res, 20));
    expect(peer.received).toEqual([]);
    r.connected();
    const f = await peer.nextOfType("getAggregate");
    expect(f.channel).toBe("early");
    peer.ack(f.reqId, { ok: 1 });
    expect(await early).toEqual({ ok: 1 });

    const start = Date.now();
    const err = await r.request("read", read("silent")).catch((e: TagwireError) => e);
    expect((err as TagwireError).code).toBe("TAGWIRE_ERR_TIMEOUT");
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    expect(r.size).toBe(0);
  });

  it("on a lost connection: reads go again on the next one, direct writes come back in doubt, the rest end", async () => {
    const { q, r } = setup();
    const first = await connection(r, q);
    first.peer.auto.ping = false;
    r.connected();
    const reading = r.request("read", read("again"));
    const direct = r.request("write", writeFrame(write("w1")), write("w1"));
    const fromOutbox = r.request("write", writeFrame(write("w2")));
    const ping = r.request("ping", { type: "ping", reqId: 0 });
    await until(() => first.peer.received.length === 4);

    first.near.close("cut");
    q.detach();
    const inDoubt = r.connectionLost("cut");
    expect(inDoubt.map((d) => d.write.id)).toEqual(["w1"]);
    inDoubt[0]!.settle("kept");
    expect(await direct).toBe("kept");
    expect(((await ping.catch((e: unknown) => e)) as TagwireError).code).toBe("TAGWIRE_ERR_CLOSED");
    let settled = false;
    void fromOutbox.then(() => (settled = true));
    expect(r.size).toBe(0);

    const second = await connection(r, q);
    r.connected();
    const again = await second.peer.nextOfType("getAggregate");
    expect(again.channel).toBe("again");
    second.peer.ack(again.reqId, { v: 2 });
    expect(await reading).toEqual({ v: 2 });
    expect(settled).toBe(false); // the outbox entry is the drain's to send again
  });

  it("refuses frames over the hub's size limit, and writes and reads when the queue is full", async () => {
    const { q, r } = setup(2_000, { highWaterBytes: 100, maxQueuedBytes: 1_000, pollMs: 2 });
    const { peer, near } = await connection(r, q);
    r.connected();
    r.maxMessageBytes = 200;
    const big: OutboxWrite = { kind: "publish", id: "big", agentId: "a", channel: "c", data: { s: "x".repeat(300) } };
    expect(((await r.request("write", writeFrame(big), big).catch((e: unknown) => e)) as TagwireError).code).toBe("TAGWIRE_ERR_SIZE");
    r.maxMessageBytes = 1 << 20;

    peer.pause();
    const w = (i: number): OutboxWrite => ({ kind: "publish", id: `w${i}`, agentId: "a", channel: "c", data: { s: "y".repeat(150) } });
    const first = r.request("write", writeFrame(w(0)), w(0));
    await until(() => near.bufferedAmount > 100);
    const results = Array.from({ length: 10 }, (_, i) =>
      r.request("write", writeFrame(w(i + 1)), w(i + 1)).then(
        () => "ok",
        (e: TagwireError) => e.code,
      ),
    );
    // A read bigger than the room left is refused too.
    const readResult = r.request("read", read("l".repeat(240))).then(
      () => "ok",
      (e: TagwireError) => e.code,
    );
    // Control frames still go into the queue.
    const ping = r.request("ping", { type: "ping", reqId: 0 });
    const refused = (await Promise.race([Promise.all(results), new Promise((res) => setTimeout(res, 100, "pending"))])) as
      | string[]
      | string;
    expect(refused).toBe("pending"); // the accepted ones wait for acks
    peer.resume();
    peer.onFrame((f) => peer.ack(f.reqId, { ts: 1, version: 1, diff: new Uint8Array([0x80]), message: null }));
    for (const f of peer.received) peer.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null });
    const codes = await Promise.all(results);
    await first;
    await ping;
    const accepted = codes.filter((c) => c === "ok").length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(10);
    expect(codes.slice(accepted).every((c) => c === "TAGWIRE_ERR_BACKPRESSURE")).toBe(true);
    expect(await readResult).toBe("TAGWIRE_ERR_BACKPRESSURE");
  });
});
