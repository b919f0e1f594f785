// The session's send queue alone, over a real in-process transport pair: batching per tick,
// batch size limits, the frame-rate bucket, and backpressure from the socket's bufferedAmount
// (the receiving end paused, as a reader that stopped reading).
import { afterEach, describe, expect, it } from "vitest";
import { SendQueue } from "../bindings/client/send-queue.js";
import { MemoryTransport } from "../bindings/transports/memory.js";
import { decodeBatch, LIMITS } from "../bindings/protocol/frames.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import { until } from "./fixtures/client-peer.js";

const queues: SendQueue[] = [];
afterEach(() => {
  for (const q of queues.splice(0)) q.close();
});

/** An open pair; `got` collects the frames (decoded numbers) the far end receives, per batch. */
async function setup(options: ConstructorParameters<typeof SendQueue>[0] = {}) {
  const [near, far] = MemoryTransport.pair();
  await new Promise<void>((r) => near.onState((c) => c.state === "open" && r()));
  const batches: number[][] = [];
  far.onFrame((bytes) => batches.push(decodeBatch(bytes).map((v) => (Array.isArray(v) ? v[0] : v) as number)));
  const q = new SendQueue(options);
  queues.push(q);
  q.attach(near);
  return { q, near, far, batches, got: () => batches.flat() };
}

/** A frame that is the msgpack encoding of `n`, padded with a string to about `size` bytes. */
function frame(n: number, size = 1): Uint8Array {
  return size <= 1 ? encodeValue(n) : encodeValue([n, "x".repeat(size - 8)]);
}

describe("send queue", () => {
  it("sends frames queued in one run as one batch, and a lone frame at once", async () => {
    const { q, batches } = await setup();
    for (let i = 0; i < 5; i++) q.enqueue(frame(i));
    await until(() => batches.length === 1);
    q.enqueue(frame(5));
    await until(() => batches.length === 2);
    expect(batches).toEqual([[0, 1, 2, 3, 4], [5]]);
    expect(q.queuedBytes).toBe(0);
  });

  it("splits batches at maxFramesPerBatch and at the hub's maxMessageBytes, in order", async () => {
    const { q, batches, got } = await setup();
    const n = LIMITS.maxFramesPerBatch + 10;
    for (let i = 0; i < n; i++) q.enqueue(frame(i));
    await until(() => got().length === n);
    expect(batches.map((b) => b.length)).toEqual([LIMITS.maxFramesPerBatch, 10]);
    expect(got()).toEqual(Array.from({ length: n }, (_, i) => i));

    q.setLimits({ framesPerSecond: LIMITS.framesPerSecond, maxMessageBytes: 1000 });
    for (let i = 0; i < 10; i++) q.enqueue(frame(i, 300));
    await until(() => got().length === n + 10);
    // 3 frames of ~300 bytes fit under 1000 with the batch header; never 4.
    expect(batches.slice(2).map((b) => b.length)).toEqual([3, 3, 3, 1]);
  });

  it("keeps to the frame rate: a full bucket at once, the rest as tokens come back", async () => {
    const { q, got } = await setup();
    q.setLimits({ framesPerSecond: 100, maxMessageBytes: LIMITS.maxMessageBytes });
    const start = Date.now();
    for (let i = 0; i < 150; i++) q.enqueue(frame(i));
    await until(() => got().length >= 100);
    await new Promise((r) => setTimeout(r, 100));
    // At 100/s the bucket refills one token per 10 ms: no more than that may have left.
    const elapsed = Date.now() - start;
    expect(got().length).toBeLessThanOrEqual(100 + Math.ceil(elapsed / 10) + 1);
    expect(got().length).toBeLessThan(150);
    await until(() => got().length === 150, 3_000);
    expect(Date.now() - start).toBeGreaterThanOrEqual(400);
    expect(got()).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it("stops at the socket's high water, bounds the queue, and resumes in order once it drains", async () => {
    const { q, near, far, got } = await setup({ highWaterBytes: 2_000, maxQueuedBytes: 5_000, pollMs: 2 });
    far.pause();
    // The first run goes out whole (nothing was buffered); the socket now holds ~4 KB.
    for (let i = 0; i < 10; i++) q.enqueue(frame(i, 400));
    await until(() => near.bufferedAmount > 2_000);
    expect(q.saturated).toBe(true);
    // The next ones wait in the queue, up to maxQueuedBytes; then tryEnqueue refuses.
    let accepted = 0;
    for (let i = 10; i < 30; i++) if (q.tryEnqueue(frame(i, 400))) accepted++;
    expect(accepted).toBe(12);
    await new Promise((r) => setTimeout(r, 20));
    expect(q.queuedBytes).toBeGreaterThan(4_000);
    // Control frames are never refused.
    q.enqueue(frame(99));

    far.resume();
    await until(() => got().length === 23);
    expect(got()).toEqual([...Array.from({ length: 22 }, (_, i) => i), 99]);
    await until(() => !q.saturated);
    expect(q.queuedBytes).toBe(0);
  });

  it("reads bufferedAmount between batches, so one burst stops at the high water", async () => {
    const { q, near, far, batches } = await setup({ highWaterBytes: 900, pollMs: 2 });
    q.setLimits({ framesPerSecond: LIMITS.framesPerSecond, maxMessageBytes: 1_200 });
    far.pause();
    for (let i = 0; i < 20; i++) q.enqueue(frame(i, 500));
    await until(() => near.bufferedAmount > 0);
    await new Promise((r) => setTimeout(r, 20));
    // One batch of two frames went out; the other 18 wait for the socket.
    expect(near.bufferedAmount).toBeLessThan(1_200);
    expect(q.queuedBytes).toBeGreaterThan(18 * 490);
    far.resume();
    await until(() => batches.flat().length === 20);
    expect(batches.flat()).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("drops what waits when the connection is gone, and never throws on a closed transport", async () => {
    const { q, near, far, got } = await setup({ highWaterBytes: 100, pollMs: 2 });
    far.pause();
    q.enqueue(frame(1, 300));
    await until(() => near.bufferedAmount > 0);
    q.enqueue(frame(2, 300));
    await new Promise((r) => setTimeout(r, 10));
    expect(q.queuedBytes).toBeGreaterThan(0);
    near.close("test");
    q.detach();
    expect(q.queuedBytes).toBe(0);
    expect(q.saturated).toBe(false);
    q.enqueue(frame(3));
    await new Promise((r) => setTimeout(r, 10));
    expect(got()).toEqual([1]);
  });
});
