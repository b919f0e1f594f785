// The socket floor for bench/fleet.bench.mjs: what Node's sockets alone cost under the fleet's
// flow control, with no protocol, storage or durability. A plain TCP server keeps each device's
// last sequence number in memory, answers every write with an ack and forwards it to a viewer
// (batched once per event-loop turn, as a hub batches its events); the devices are plain
// node:net sockets in the fleet's child process, each write a promise settled by its ack, as a
// client library's publish is. It is roughly what any Node server with Node clients pays per
// write under this flow control before doing any work of its own: a system's rate over the
// floor's, in the same run, is the share of the floor it reaches.
//
// Wire (fixed-size records, little-endian u32s):
//   device -> server  WRITE_BYTES: op (1 write, 2 query), device, seq, then padding to the size
//                     of a small tag diff
//   server -> device  ACK_BYTES: device, seq
//   server -> viewer  EVENT_BYTES: device, seq (the viewer connects with op 3)
//   query reply       u32 length, then JSON {device: seq}
import { connect, createServer } from "node:net";

const WRITE_BYTES = 40;
const ACK_BYTES = 8;
const EVENT_BYTES = 8;
const OP_WRITE = 1;
const OP_QUERY = 2;
const OP_VIEWER = 3;

/** Starts the floor's server on a loopback port; `url` is tcp://127.0.0.1:<port>. */
export async function startFloorServer() {
  /** @type {Map<number, number>} */
  const last = new Map();
  /** @type {import("node:net").Socket | undefined} */
  let viewer;
  /** @type {Buffer[]} */
  let events = [];
  const flushEvents = () => {
    const batch = events;
    events = [];
    if (viewer && batch.length) viewer.write(batch.length === 1 ? batch[0] : Buffer.concat(batch));
  };
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    /** @type {Buffer[]} */
    let acks = [];
    readRecords(
      socket,
      WRITE_BYTES,
      (op, device, seq) => {
        if (op === OP_VIEWER) {
          viewer = socket;
        } else if (op === OP_QUERY) {
          const json = Buffer.from(JSON.stringify(Object.fromEntries(last)));
          const head = Buffer.allocUnsafe(4);
          head.writeUInt32LE(json.length);
          socket.write(Buffer.concat([head, json]));
        } else {
          last.set(device, seq);
          const ack = Buffer.allocUnsafe(ACK_BYTES);
          ack.writeUInt32LE(device, 0);
          ack.writeUInt32LE(seq, 4);
          acks.push(ack);
          if (events.length === 0) setImmediate(flushEvents);
          events.push(ack);
        }
      },
      () => {
        // One socket write for every ack of a chunk.
        if (acks.length) socket.write(acks.length === 1 ? acks[0] : Buffer.concat(acks));
        acks = [];
      },
    );
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, "127.0.0.1", r)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `tcp://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        viewer?.destroy();
        server.close(() => r(undefined));
      }),
  };
}

/** A connected socket to the floor's server at `url`. */
async function open(url) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  return socket;
}

/** A record of WRITE_BYTES: op, device, seq. */
function record(op, device, seq) {
  const buf = Buffer.alloc(WRITE_BYTES);
  buf.writeUInt32LE(op, 0);
  buf.writeUInt32LE(device, 4);
  buf.writeUInt32LE(seq, 8);
  return buf;
}

/**
 * Reads fixed-size records off `socket`, whole ones only (a record cut by a chunk waits for the
 * rest): `onRecord` gets each record's first three u32s (a short record's third reads as 0), and
 * `onChunk`, if given, runs after each chunk's records.
 * @param {import("node:net").Socket} socket
 * @param {number} size
 * @param {(a: number, b: number, c: number) => void} onRecord
 * @param {() => void} [onChunk]
 */
function readRecords(socket, size, onRecord, onChunk) {
  let rest = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const whole = buf.length - (buf.length % size);
    for (let at = 0; at < whole; at += size) {
      onRecord(buf.readUInt32LE(at), buf.readUInt32LE(at + 4), size > 8 ? buf.readUInt32LE(at + 8) : 0);
    }
    rest = whole < buf.length ? Buffer.from(buf.subarray(whole)) : Buffer.alloc(0);
    onChunk?.();
  });
}

/**
 * A device of the floor: `write(seq)` sends a write and resolves on its ack (acks come back in
 * order on a connection).
 */
export async function floorDevice(url, device) {
  const socket = await open(url);
  /** @type {(((value: void) => void) | undefined)[]} */
  const waiting = [];
  let head = 0;
  readRecords(socket, ACK_BYTES, () => {
    const resolve = waiting[head];
    waiting[head++] = undefined;
    if (head === waiting.length) waiting.length = head = 0;
    resolve?.();
  });
  return {
    write: (seq) =>
      /** @type {Promise<void>} */ (
        new Promise((resolve) => {
          waiting.push(resolve);
          socket.write(record(OP_WRITE, device, seq));
        })
      ),
    close: () => {
      socket.destroy();
    },
  };
}

/** The floor's viewer: `onEvent(device, seq)` for every write the server forwards. */
export async function floorViewer(url, onEvent) {
  const socket = await open(url);
  readRecords(socket, EVENT_BYTES, onEvent);
  socket.write(record(OP_VIEWER, 0, 0));
  return {
    close: () => {
      socket.destroy();
    },
  };
}

/** Every device's last sequence number as the server holds it, on a fresh connection. */
export async function floorLastSeqs(url) {
  const socket = await open(url);
  const chunks = [];
  const reply = new Promise((resolve) => {
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      const buf = Buffer.concat(chunks);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0))
        resolve(JSON.parse(buf.subarray(4, 4 + buf.readUInt32LE(0)).toString()));
    });
  });
  socket.write(record(OP_QUERY, 0, 0));
  const last = /** @type {Record<string, number>} */ (await reply);
  socket.destroy();
  return new Map(Object.entries(last).map(([device, seq]) => [Number(device), seq]));
}
