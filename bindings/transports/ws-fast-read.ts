// A short cut in front of the `ws` package's frame reader (Node only). ws reads every socket chunk
// through its Receiver, a Writable stream per socket (buffer list, state machine, one event per
// message): with a thousand sockets each sending a small batch per round trip, that machinery
// costs more than the batch. Almost every chunk here is one or a few whole, final, binary frames,
// so this reads exactly those and leaves everything else to ws:
//
//   taken here   FIN set, RSV clear, opcode 2 (binary), the mask bit the role requires, payload
//                length in 7 or 7+16 bits, at most ws's maxPayload (and, when masked, at most
//                MAX_MASKED_BYTES: larger payloads are unmasked faster by ws's native helper),
//                the whole frame inside the chunk, while the socket is open and ws's Receiver is
//                idle at a frame boundary (nothing buffered, no fragmented message under way);
//   left to ws   everything from the first frame that is anything else (control frames: ping,
//                pong, close; text; fragments; 64-bit lengths; errors; a frame cut by the chunk)
//                to the end of the chunk, and whole chunks while its Receiver is not idle;
//   dropped      what arrives after ws's Receiver took a close frame or failed: ws stops
//                listening to the socket then, and lets the rest go.
//
// ws's Receiver, handed the rest of a chunk at a frame boundary, reads it exactly as if it had
// come alone, so every case this does not take is ws's own behaviour; the ones it takes are
// delivered as ws would (a view of the chunk, unmasked in place, synchronously, in order).
// Frame layout (RFC 6455, 5.2): byte 0 FIN|RSV1-3|opcode, byte 1 MASK|len7, then len16 when
// len7 = 126, then the 4-byte masking key when MASK, then the payload.

/** Masked payloads above this go to ws, whose native unmask beats a byte loop there. */
export const MAX_MASKED_BYTES = 1024;

/** The ws internals this relies on, checked before anything is taken over. */
interface WsInternals {
  readyState: number;
  _closeFrameReceived: boolean;
  _socket?: {
    listeners(event: "data"): ((chunk: Buffer) => void)[];
    removeListener(event: "data", listener: (chunk: Buffer) => void): unknown;
    on(event: "data", listener: (chunk: Buffer) => void): unknown;
  };
  _receiver?: {
    _state: number;
    _bufferedBytes: number;
    _fragmented: number;
    _errored: boolean;
    _isServer: boolean;
    _maxPayload: number;
  };
  _extensions?: Record<string, unknown>;
}

const OPEN = 1;

/**
 * Reads whole binary frames of `ws` (an open `ws` WebSocket) off its socket and hands each
 * payload to `onBinary`, as ws's own "message" listener would get it; ws keeps reading the rest
 * (see above). Returns false, changing nothing, when `ws` is not an open ws WebSocket of the
 * expected shape (another version or implementation, an extension negotiated): ws then reads
 * everything, as before.
 */
export function readFramesFast(ws: unknown, onBinary: (data: Buffer) => void): boolean {
  const w = ws as WsInternals;
  const socket = w._socket;
  const r = w._receiver;
  if (w.readyState !== OPEN || !socket || !r || typeof socket.listeners !== "function") return false;
  if (typeof w._closeFrameReceived !== "boolean") return false;
  if (typeof r._state !== "number" || typeof r._bufferedBytes !== "number" || typeof r._fragmented !== "number") return false;
  if (typeof r._isServer !== "boolean" || typeof r._maxPayload !== "number" || typeof r._errored !== "boolean") return false;
  // A negotiated extension (permessage-deflate) gives RSV1 a meaning: all of it stays with ws.
  if (!w._extensions || Object.keys(w._extensions).length > 0) return false;
  const listeners = socket.listeners("data");
  if (listeners.length !== 1) return false;
  const wsOnData = listeners[0]!;
  const masked = r._isServer;
  const maxPayload = r._maxPayload > 0 ? r._maxPayload : Number.POSITIVE_INFINITY;
  const maxBytes = masked ? Math.min(MAX_MASKED_BYTES, maxPayload) : maxPayload;
  const wantB1 = masked ? 0x80 : 0;
  const onData = function (this: unknown, chunk: Buffer): void {
    // ws stops listening to the socket after a close frame or an error (and lets what still
    // arrives go): so does this.
    if (w._closeFrameReceived || r._errored) return;
    let p = 0;
    const n = chunk.length;
    // ws holds part of a frame or a message, or the socket is closing: all ws's.
    if (r._state === 0 && r._bufferedBytes === 0 && r._fragmented === 0) {
      while (n - p >= 2 && w.readyState === OPEN) {
        const b1 = chunk[p + 1]!;
        if (chunk[p] !== 0x82 || (b1 & 0x80) !== wantB1) break;
        let len = b1 & 0x7f;
        let at = p + 2;
        if (len === 126) {
          if (n - at < 2) break;
          len = (chunk[at]! << 8) | chunk[at + 1]!;
          at += 2;
        } else if (len === 127) break;
        if (len > maxBytes) break;
        const keyAt = at;
        if (masked) at += 4;
        const end = at + len;
        if (end > n) break;
        const data = chunk.subarray(at, end);
        if (masked) {
          const k0 = chunk[keyAt]!;
          const k1 = chunk[keyAt + 1]!;
          const k2 = chunk[keyAt + 2]!;
          const k3 = chunk[keyAt + 3]!;
          if ((k0 | k1 | k2 | k3) !== 0) {
            let i = 0;
            for (; i + 3 < len; i += 4) {
              data[i] = data[i]! ^ k0;
              data[i + 1] = data[i + 1]! ^ k1;
              data[i + 2] = data[i + 2]! ^ k2;
              data[i + 3] = data[i + 3]! ^ k3;
            }
            for (; i < len; i++) data[i] = data[i]! ^ (i % 4 === 0 ? k0 : i % 4 === 1 ? k1 : i % 4 === 2 ? k2 : k3);
          }
        }
        p = end;
        onBinary(data);
      }
    }
    if (p < n) wsOnData.call(this, p === 0 ? chunk : chunk.subarray(p));
  };
  socket.removeListener("data", wsOnData);
  socket.on("data", onData);
  return true;
}
