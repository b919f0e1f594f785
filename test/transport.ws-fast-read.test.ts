// readFramesFast (bindings/transports/ws-fast-read.ts) against ws alone: the same bytes, written
// by hand over a raw socket in chunks cut at random places (seeded), must give the same events
// on a ws server with the short cut as on one without: messages (payload and kind), pings,
// pongs, close codes and errors. Frames the short cut does not take (control frames, text,
// fragments, 64-bit lengths, large masked payloads, protocol errors, frames cut by a chunk) are
// ws's own; the counts show the short cut took the ones it should.
import { createConnection, type Socket } from "node:net";
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, WebSocket } from "ws";
import { MAX_MASKED_BYTES, readFramesFast } from "../bindings/transports/ws-fast-read.js";
import { seededRandom } from "./support/seed.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const MAX_PAYLOAD = 100_000;

/** A ws server logging what its connection sees; `fast` installs the short cut. */
async function server(fast: boolean) {
  const log: string[] = [];
  let taken = 0;
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  wss.on("connection", (ws) => {
    const hex = (b: Buffer) =>
      b.length > 40 ? `${b.length}:${b.subarray(0, 8).toString("hex")}..${b.subarray(-8).toString("hex")}` : b.toString("hex");
    ws.on("message", (data, isBinary) => void log.push(`message ${isBinary ? "bin" : "text"} ${hex(data as Buffer)}`));
    ws.on("ping", (d) => void log.push(`ping ${hex(d)}`));
    ws.on("pong", (d) => void log.push(`pong ${hex(d)}`));
    ws.on("error", (e) => void log.push(`error ${(e as { code?: string }).code}`));
    ws.on("close", (code, reason) => {
      log.push(`close ${code} ${reason.toString()}`);
      closed();
    });
    if (fast) {
      expect(
        readFramesFast(ws, (data) => {
          taken++;
          log.push(`message bin ${hex(data)}`);
        }),
      ).toBe(true);
    }
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => http.close(() => r())));
  cleanup.push(() => wss.close());
  const port = (http.address() as { port: number }).port;
  return { port, log, done, taken: () => taken };
}

/** A raw client socket past the opening handshake. */
async function dial(port: number): Promise<Socket> {
  const socket = createConnection({ port, host: "127.0.0.1" });
  socket.setNoDelay(true);
  cleanup.push(() => void socket.destroy());
  await new Promise<void>((r) => socket.once("connect", () => r()));
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    let got = "";
    const on = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        socket.off("data", on);
        resolve();
      }
    };
    socket.on("data", on);
  });
  socket.on("data", () => {}); // the server's frames (pongs, close): not looked at
  return socket;
}

interface FrameSpec {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  /** default true (a client must mask) */
  mask?: boolean;
  zeroKey?: boolean;
}

function frame(f: FrameSpec, rand: () => number): Buffer {
  const mask = f.mask ?? true;
  const n = f.payload.length;
  const len =
    n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const head = Buffer.from([((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode, (mask ? 0x80 : 0) | len[0]!, ...len.slice(1)]);
  if (!mask) return Buffer.concat([head, f.payload]);
  const key = f.zeroKey ? Buffer.alloc(4) : Buffer.from([0, 1, 2, 3].map(() => Math.floor(rand() * 256)));
  const body = Buffer.from(f.payload);
  for (let i = 0; i < n; i++) body[i] = body[i]! ^ key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/**
 * Sends `frames` in chunks: mostly cut between frames (as a peer writes batches), sometimes inside
 * one at a random byte; a short pause after some chunks so they arrive apart.
 */
async function send(socket: Socket, frames: Buffer[], rand: () => number, apart: boolean): Promise<void> {
  const flush = async (chunk: Buffer) => {
    if (chunk.length > 0) socket.write(chunk);
    if (apart || rand() < 0.5) await new Promise((r) => setTimeout(r, 2));
  };
  let pending: Buffer[] = [];
  for (const f of frames) {
    if (!apart && rand() < 0.2) {
      const cut = Math.floor(rand() * (f.length + 1));
      await flush(Buffer.concat([...pending, f.subarray(0, cut)]));
      pending = [f.subarray(cut)];
    } else pending.push(f);
    if (apart || rand() < 0.5) {
      await flush(Buffer.concat(pending));
      pending = [];
    }
  }
  await flush(Buffer.concat(pending));
}

/** `apart`: each frame in a chunk of its own. */
async function both(frames: FrameSpec[], seed: string, closeAfter = true, apart = false) {
  const a = await server(false);
  const b = await server(true);
  const bytes: Buffer[] = [];
  {
    const r = seededRandom(`${seed}-frames`);
    for (const f of frames) bytes.push(frame(f, r));
    if (closeAfter) bytes.push(frame({ opcode: 8, payload: Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65]) }, r)); // 4000 "bye"
  }
  for (const s of [a, b]) {
    const r = seededRandom(`${seed}-chunks`);
    const socket = await dial(s.port);
    await send(socket, bytes, r, apart);
    if (!closeAfter) socket.end();
    await Promise.race([s.done, new Promise((r) => setTimeout(r, 3000))]);
  }
  expect(b.log).toEqual(a.log);
  return { log: a.log, taken: b.taken() };
}

const bin = (n: number, fill = 7) => Buffer.alloc(n, fill);

describe("readFramesFast", () => {
  it("takes whole binary frames of every 7- and 16-bit length it may, as ws reads them", async () => {
    const sizes = [0, 1, 2, 3, 4, 5, 125, 126, 127, MAX_MASKED_BYTES - 1, MAX_MASKED_BYTES];
    const frames: FrameSpec[] = sizes.map((n, i) => ({
      opcode: 2,
      payload: Buffer.from(Array.from({ length: n }, (_, k) => (k * 31 + i) & 0xff)),
    }));
    frames.push({ opcode: 2, payload: bin(50), zeroKey: true });
    const { log, taken } = await both(frames, "fast-sizes");
    expect(log.filter((l) => l.startsWith("message bin"))).toHaveLength(frames.length);
    expect(log.at(-1)).toBe("close 4000 bye");
    // Frames cut by a chunk go to ws; most come whole.
    expect(taken).toBeGreaterThan(0);
  });

  it("leaves control frames, text, fragments, long and large masked payloads to ws, in order", async () => {
    const frames: FrameSpec[] = [
      { opcode: 2, payload: bin(10, 1) },
      { opcode: 9, payload: Buffer.from("ping!") },
      { opcode: 2, payload: bin(10, 2) },
      { opcode: 10, payload: Buffer.from("pong") },
      { opcode: 1, payload: Buffer.from("héllo") },
      { opcode: 2, payload: bin(MAX_MASKED_BYTES + 1, 3) },
      { opcode: 2, payload: bin(70_000, 4) }, // 64-bit length
      { opcode: 2, payload: bin(5, 5), fin: false },
      { opcode: 9, payload: Buffer.from("mid") }, // a control frame between fragments
      { opcode: 0, payload: bin(6, 6) },
      { opcode: 2, payload: bin(7, 7) }, // after the fragmented message: taken again
      { opcode: 1, payload: Buffer.from("a"), fin: false },
      { opcode: 0, payload: Buffer.from("b") },
      { opcode: 2, payload: bin(8, 8) },
    ];
    const { log } = await both(frames, "fast-others");
    expect(log).toEqual([
      `message bin ${bin(10, 1).toString("hex")}`,
      `ping ${Buffer.from("ping!").toString("hex")}`,
      `message bin ${bin(10, 2).toString("hex")}`,
      `pong ${Buffer.from("pong").toString("hex")}`,
      `message text ${Buffer.from("héllo").toString("hex")}`,
      expect.stringMatching(/^message bin 1025:/),
      expect.stringMatching(/^message bin 70000:/),
      `ping ${Buffer.from("mid").toString("hex")}`,
      `message bin ${Buffer.concat([bin(5, 5), bin(6, 6)]).toString("hex")}`,
      `message bin ${bin(7, 7).toString("hex")}`,
      `message text ${Buffer.from("ab").toString("hex")}`,
      `message bin ${bin(8, 8).toString("hex")}`,
      "close 4000 bye",
    ]);
  });

  it("leaves protocol errors to ws: the same error and close code, nothing read after them", async () => {
    const cases: [string, FrameSpec][] = [
      ["unmasked", { opcode: 2, payload: bin(4), mask: false }],
      ["rsv1", { opcode: 2, payload: bin(4), rsv: 4 }],
      ["rsv2", { opcode: 2, payload: bin(4), rsv: 2 }],
      ["opcode 3", { opcode: 3, payload: bin(4) }],
      ["continuation first", { opcode: 0, payload: bin(4) }],
      ["too long", { opcode: 2, payload: bin(MAX_PAYLOAD + 1) }],
    ];
    const sequences: [string, FrameSpec[]][] = cases.map(([name, bad]) => [name, [bad]]);
    // A new binary message while a fragmented one is under way.
    sequences.push([
      "binary inside a fragmented message",
      [
        { opcode: 2, payload: bin(4), fin: false },
        { opcode: 2, payload: bin(4) },
      ],
    ]);
    for (const [name, bad] of sequences) {
      const frames = [{ opcode: 2, payload: bin(3, 1) }, ...bad, { opcode: 2, payload: bin(3, 2) }];
      const { log } = await both(frames, `fast-error-${name}`, false, name.includes("fragmented"));
      expect(log[0], name).toBe("message bin 010101");
      expect(
        log.some((l) => l.startsWith("error WS_ERR_")),
        name,
      ).toBe(true);
      expect(
        log.some((l) => l === "message bin 020202"),
        name,
      ).toBe(false);
    }
  });

  it("reads nothing after a close frame, in the same chunk or a later one, as ws", async () => {
    for (const apart of [false, true]) {
      const close = { opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b]) }; // 1000 "ok"
      const { log } = await both(
        [{ opcode: 2, payload: bin(3, 1) }, close, { opcode: 2, payload: bin(3, 2) }],
        "fast-after-close",
        false,
        apart,
      );
      expect(log).toEqual(["message bin 010101", "close 1000 ok"]);
    }
  });

  it("reads seeded random streams of frames as ws does", async () => {
    const r = seededRandom("fast-random");
    let takenAll = 0;
    for (let round = 0; round < 6; round++) {
      const frames: FrameSpec[] = [];
      let fragmented = 0;
      for (let i = 0; i < 60; i++) {
        const k = r();
        const size = [0, 1, 20, 125, 126, 300, MAX_MASKED_BYTES, MAX_MASKED_BYTES + 1, 5000][Math.floor(r() * 9)]!;
        const payload = Buffer.from(Array.from({ length: size }, () => Math.floor(r() * 256)));
        if (fragmented) {
          const last = k < 0.4;
          frames.push({ opcode: 0, payload, fin: last });
          if (last) fragmented = 0;
        } else if (k < 0.7) frames.push({ opcode: 2, payload, zeroKey: r() < 0.1 });
        else if (k < 0.8) frames.push({ opcode: 9, payload: payload.subarray(0, 100) });
        else if (k < 0.85) frames.push({ opcode: 10, payload: payload.subarray(0, 100) });
        else if (k < 0.9) frames.push({ opcode: 1, payload: Buffer.from("é".repeat(size >> 1)) });
        else {
          fragmented = 2;
          frames.push({ opcode: 2, payload, fin: false });
        }
      }
      if (fragmented) frames.push({ opcode: 0, payload: bin(1) });
      const { log, taken } = await both(frames, `fast-random-${round}`);
      expect(log.at(-1)).toBe("close 4000 bye");
      takenAll += taken;
    }
    expect(takenAll).toBeGreaterThan(0);
  });

  it("changes nothing for a socket that is not an open ws WebSocket", async () => {
    expect(readFramesFast({}, () => {})).toBe(false);
    expect(readFramesFast({ readyState: 1 }, () => {})).toBe(false);
    const s = await server(false);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}`, { perMessageDeflate: true });
    cleanup.push(() => ws.terminate());
    expect(readFramesFast(ws, () => {})).toBe(false); // not open yet
    await new Promise((r) => ws.once("open", r));
    // The server offered no deflate: an open client socket without extensions is taken.
    expect(readFramesFast(ws, () => {})).toBe(true);
  });
});
