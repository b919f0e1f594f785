// The outbox drain alone: a MemoryOutbox drained through Requests and a SendQueue over a real
// in-process transport to a scripted peer that acks or refuses each write. Order, the window,
// refusals (dropped or replayed), a connection lost mid-drain, and holding back on backpressure.
import { afterEach, describe, expect, it } from "vitest";
import { OutboxDrain } from "../bindings/client/outbox-drain.js";
import { MemoryOutbox, type OutboxWrite } from "../bindings/client/outbox.js";
import { Requests } from "../bindings/client/requests.js";
import { SendQueue } from "../bindings/client/send-queue.js";
import { receiveBatch } from "../bindings/client/inbound.js";
import { MemoryTransport } from "../bindings/transports/memory.js";
import type { ClientFrame } from "../bindings/protocol/frames.js";
import { ScriptedPeer, until } from "./fixtures/client-peer.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

type Publish = Extract<ClientFrame, { type: "publish" }>;

function harness(options: { window?: number; queue?: ConstructorParameters<typeof SendQueue>[0] } = {}) {
  const outbox = new MemoryOutbox();
  const q = new SendQueue(options.queue);
  const r = new Requests({ sink: q, timeoutMs: 5_000 });
  const errors: string[] = [];
  const drops: string[] = [];
  const state = { near: undefined as MemoryTransport | undefined, peer: undefined as ScriptedPeer | undefined };
  // The drain ends a connection through this; here it is the test's transport.
  const connection = {
    drop: (reason: string) => {
      drops.push(reason);
      state.near?.close(reason);
    },
  };
  const drain = new OutboxDrain(
    outbox,
    r,
    q,
    connection,
    (e, context) => errors.push(`${context}: ${(e as Error).message}`),
    options.window,
  );
  cleanup.push(() => {
    q.close();
    state.near?.close();
  });

  async function connect(): Promise<ScriptedPeer> {
    const [near, far] = MemoryTransport.pair();
    const peer = new ScriptedPeer(far);
    await until(() => near.state === "open");
    const noEvents = { onSync() {}, onAggregate() {}, onMessage() {} };
    near.onFrame((bytes) => receiveBatch(bytes, r, noEvents, () => {}));
    near.onState((c) => {
      if (c.state !== "closed") return;
      q.detach();
      drain.reset();
      r.connectionLost(c.reason ?? "");
    });
    q.attach(near);
    state.near = near;
    state.peer = peer;
    r.connected();
    return peer;
  }

  const add = (i: number, channel = "c"): void => {
    const w: OutboxWrite = { kind: "publish", id: `w${i}`, agentId: "a", channel, data: { i } };
    outbox.add(w);
  };
  return { outbox, drain, connect, add, errors, drops, state };
}

const ids = (frames: ClientFrame[]) => frames.filter((f): f is Publish => f.type === "publish").map((f) => f.messageId);

describe("outbox drain", () => {
  it("sends entries in order within its window and empties the outbox", async () => {
    const h = harness({ window: 8 });
    // Different channels, so the outbox does not fold them.
    for (let i = 0; i < 40; i++) h.add(i, `c${i}`);
    const peer = await h.connect();
    let inFlight = 0;
    let maxInFlight = 0;
    const acking: number[] = [];
    peer.onFrame((f) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      acking.push(f.reqId);
      // Ack a little later, a few at a time, as a hub's tick would.
      setTimeout(() => {
        inFlight--;
        peer.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null });
      }, 2);
    });
    let drained = 0;
    h.drain.onDrained(() => drained++);
    h.drain.kick();
    expect(h.drain.draining).toBe(true);
    await until(() => drained === 1);
    expect(ids(peer.received)).toEqual(Array.from({ length: 40 }, (_, i) => `w${i}`));
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(h.outbox.size).toBe(0);
    expect(h.drain.draining).toBe(false);
  });

  it("drops an entry the hub refuses for good, and replays the outbox after a transient refusal", async () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.add(i, `c${i}`);
    let peer = await h.connect();
    peer.onFrame((f) => {
      const id = (f as Publish).messageId;
      if (id === "w1") peer.refuse(f.reqId, "TAGWIRE_ERR_FORBIDDEN", "not yours");
      else if (id === "w2") peer.refuse(f.reqId, "TAGWIRE_ERR_RATE", "slow down");
      else peer.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null });
    });
    h.drain.kick();
    await until(() => h.drops.length === 1);
    expect(h.drops[0]).toBe("outbox entry refused for now: TAGWIRE_ERR_RATE");
    expect(h.errors).toEqual(["queued publish to a/c1 refused; dropped: not yours"]);
    await until(() => h.state.near?.state === "closed");
    // w2 and w3 (whose ack may have been lost with the connection) are still there; w0, w1 not.
    expect(h.outbox.peek().map((e) => e.id)).toEqual(expect.arrayContaining(["w2"]));
    expect(h.outbox.peek().map((e) => e.id)).not.toContain("w1");
    expect(h.outbox.peek().every((e) => e.attempted)).toBe(true);

    peer = await h.connect();
    peer.onFrame((f) => peer.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null }));
    h.drain.kick();
    await until(() => h.outbox.size === 0);
    expect(ids(peer.received)[0]).toBe("w2");
  });

  it("ignores answers of a connection lost mid-drain and sends the unacknowledged entries again", async () => {
    const h = harness();
    for (let i = 0; i < 6; i++) h.add(i, `c${i}`);
    const first = await h.connect();
    h.drain.kick();
    await until(() => first.received.length === 6);
    // Ack the first two, then lose the connection before the rest are answered.
    first.ack(first.received[0]!.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null });
    first.ack(first.received[1]!.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null });
    await until(() => h.outbox.size === 4);
    h.state.near!.close("cut");
    expect(h.drain.draining).toBe(false);
    expect(h.drain.inFlightCount).toBe(0);

    const second = await h.connect();
    second.onFrame((f) => second.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null }));
    h.drain.kick();
    await until(() => h.outbox.size === 0);
    expect(ids(second.received)).toEqual(["w2", "w3", "w4", "w5"]);
  });

  it("holds back while the send queue is saturated and resumes when the socket drains", async () => {
    const h = harness({ window: 4, queue: { highWaterBytes: 200, pollMs: 2 } });
    for (let i = 0; i < 12; i++) h.add(i, `c${i}`);
    const peer = await h.connect();
    peer.onFrame((f) => peer.ack(f.reqId, { version: 1, diff: new Uint8Array([0x80]), message: null }));
    peer.pause();
    // Something else fills the socket first.
    h.state.near!.send(new Uint8Array(1000).fill(0x90));
    h.drain.kick();
    await new Promise((r) => setTimeout(r, 30));
    expect(h.drain.inFlightCount).toBe(0); // nothing read from the outbox while saturated
    expect(h.outbox.size).toBe(12);
    peer.resume();
    await until(() => h.outbox.size === 0);
    expect(ids(peer.received)).toEqual(Array.from({ length: 12 }, (_, i) => `w${i}`));
  });
});
