// The hub's one-write batches (hub/ws-batch-write.ts): the bytes are ws's own frame of the batch
// joinFrames makes, for every length encoding; over a real connection a ws client gets every
// batch whole and in order, mixed with ws's own sends, pings and close; while ws's sender holds
// something, the batch goes through ws.send instead.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { joinFrames } from "../bindings/protocol/frames.js";
import { frameHeaderSize, joinFramed, payloadOf, sendFramed } from "../hub/ws-batch-write.js";

// ws's own framing (exported by ws, not by its type definitions).
const { Sender } = createRequire(import.meta.url)("ws") as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

const cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Frames (msgpack bytes, any content here) adding up to a batch of about `size` bytes. */
function framesOf(size: number, count: number): Uint8Array[] {
  const each = Math.max(1, Math.floor(size / count));
  return Array.from({ length: count }, (_, i) => Buffer.alloc(i === count - 1 ? Math.max(1, size - each * (count - 1)) : each, i + 1));
}

describe("ws batch write", () => {
  it("makes ws's frame of the joined batch, for 7-, 16- and 64-bit lengths", () => {
    for (const [size, count] of [
      [1, 1],
      [40, 3],
      [124, 1],
      [125, 2],
      [126, 17],
      [127, 1],
      [65_534, 1],
      [65_535, 20],
      [65_536, 1],
      [200_000, 70_000],
    ] as const) {
      const frames = framesOf(size, count);
      const batch = joinFrames(frames);
      const framed = joinFramed(frames);
      const ws = Sender.frame(Buffer.from(batch), { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false });
      expect(framed.equals(Buffer.concat(ws)), `${size} bytes in ${count} frames`).toBe(true);
      expect(framed.length).toBe(frameHeaderSize(batch.length) + batch.length);
      expect(payloadOf(framed).equals(batch)).toBe(true);
    }
  });

  it("delivers batches whole and in order, among ws's own sends, pings and close", async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise<void>((r) => http.close(() => r())));
    cleanup.push(() => wss.close());
    const accepted = new Promise<WebSocket>((r) => wss.once("connection", r));
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as { port: number }).port}`);
    cleanup.push(() => client.terminate());
    const got: string[] = [];
    client.on("message", (data) => got.push((data as Buffer).toString("hex")));
    client.on("ping", () => got.push("ping"));
    const closed = new Promise<number>((r) => client.once("close", r));
    const server = await accepted;
    const expected: string[] = [];
    for (const [i, size] of [3, 125, 126, 1000, 65_535, 65_536, 300_000, 7].entries()) {
      const frames = framesOf(size, 1 + (i % 4));
      sendFramed(server, joinFramed(frames));
      expected.push(Buffer.from(joinFrames(frames)).toString("hex"));
      if (i % 3 === 1) {
        const own = Buffer.from([i, i, i]);
        server.send(own);
        expected.push(own.toString("hex"));
      }
      if (i % 3 === 2) {
        server.ping();
        expected.push("ping");
      }
    }
    server.close(4000, "done");
    expect(await closed).toBe(4000);
    expect(got).toEqual(expected);
  });

  it("leaves the batch to ws.send while ws's sender holds something", () => {
    const framed = joinFramed(framesOf(40, 2));
    const sent: Uint8Array[] = [];
    const written: Uint8Array[] = [];
    const fake = (sender: object) =>
      ({
        _sender: { _state: 0, _queue: [], _firstFragment: true, ...sender },
        _socket: { write: (b: Uint8Array) => written.push(b) },
        _extensions: {},
        send: (b: Uint8Array) => sent.push(b),
      }) as unknown as WebSocket;
    sendFramed(fake({}), framed);
    expect(written).toEqual([framed]);
    sendFramed(fake({ _state: 1 }), framed);
    sendFramed(fake({ _queue: [[]] }), framed);
    sendFramed(fake({ _firstFragment: false }), framed);
    expect(sent).toHaveLength(3);
    for (const s of sent) expect(Buffer.from(s).equals(payloadOf(framed))).toBe(true);
    expect(written).toHaveLength(1);
  });
});
