// One socket write per outgoing batch. ws's `send` frames a message as two buffers (its header,
// then the payload) and writes them corked, which Node turns into a writev through its stream
// bookkeeping; with a thousand connections each getting a small batch of acks per tick, that
// bookkeeping around the syscall was a quarter of the hub's cost of writing them (fleet bench).
// Here a batch is joined behind room for its frame header (RFC 6455, 5.2: a server's frames
// are not masked, so the same bytes serve every connection a broadcast goes to) and handed to the
// socket as one buffer, while ws's sender is idle: nothing of its own queued, no fragmented
// message open, no extension negotiated. Otherwise ws sends the batch itself, as before.
//
// Layout: 0x82 (FIN, binary), then the payload length in 7 bits (< 126), or 126 and 16 bits, or
// 127 and 64 bits, big-endian; then the msgpack batch (array header, the frames).
import type { WebSocket } from "ws";
import { arrayHeaderSize, writeArrayHeader } from "../bindings/protocol/msgpack-bytes.js";

/** Bytes of an unmasked frame header for a payload of `n` bytes. */
export function frameHeaderSize(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10;
}

/**
 * A binary WebSocket frame (unmasked) whose payload is the batch of `frames`: what `joinFrames`
 * makes, behind its frame header. At least one frame.
 */
export function joinFramed(frames: readonly Uint8Array[]): Buffer {
  const count = frames.length;
  let size = arrayHeaderSize(count);
  for (let i = 0; i < count; i++) size += frames[i]!.length;
  const head = frameHeaderSize(size);
  const out = Buffer.allocUnsafe(head + size);
  out[0] = 0x82;
  if (head === 2) out[1] = size;
  else if (head === 4) {
    out[1] = 126;
    out[2] = size >>> 8;
    out[3] = size & 0xff;
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(size / 0x100000000), 2);
    out.writeUInt32BE(size >>> 0, 6);
  }
  let pos = writeArrayHeader(out, head, count);
  for (let i = 0; i < count; i++) {
    out.set(frames[i]!, pos);
    pos += frames[i]!.length;
  }
  return out;
}

/** The batch (payload) inside a frame from `joinFramed`. */
export function payloadOf(framed: Buffer): Buffer {
  const len7 = framed[1]! & 0x7f;
  return framed.subarray(len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}

/** The ws internals looked at; anything else found there means ws sends. */
interface SenderInternals {
  _sender?: { _state?: unknown; _queue?: unknown; _firstFragment?: unknown };
  _socket?: { write(data: Uint8Array): boolean };
  _extensions?: Record<string, unknown>;
}

/**
 * Sends a frame from `joinFramed` on `ws` (open): in one socket write when ws's sender is idle,
 * else through `ws.send` (its payload), so it queues behind what ws holds.
 */
export function sendFramed(ws: WebSocket, framed: Buffer): void {
  const w = ws as unknown as SenderInternals;
  const s = w._sender;
  if (
    s !== undefined &&
    s._state === 0 &&
    Array.isArray(s._queue) &&
    s._queue.length === 0 &&
    s._firstFragment === true &&
    w._socket !== undefined &&
    w._extensions !== undefined &&
    w._extensions["permessage-deflate"] === undefined
  ) {
    w._socket.write(framed);
    return;
  }
  ws.send(payloadOf(framed), { binary: true });
}
