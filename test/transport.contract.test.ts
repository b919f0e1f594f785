// One contract suite, run against every transport: in-process pair, WebSocket (ws server on
// loopback), MQTT (a frame pipe through the real Mosquitto at 127.0.0.1:1883) and a deferred
// transport (what connect() hands out while it imports the MQTT pipe) over a memory pair. Each case
// builds a fresh connected pair [a, b] and checks what the contract in
// bindings/transports/contract.ts promises: state transitions, ordering, byte integrity, large
// frames, close semantics.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { AddressInfo } from "node:net";
import {
  acceptWebSocket,
  connectMemory,
  connectMqtt,
  connectWebSocket,
  createMemoryPair,
  listenMemory,
  MemoryTransport,
  type Transport,
  type TransportStateChange,
  type WebSocketClass,
  type WebSocketLike,
} from "../bindings/transports/index.js";
import { TagwireError } from "../bindings/core/errors.js";
import { DeferredTransport } from "../bindings/transports/deferred.js";
import { mulberry32, testSeed } from "./support/seed.js";

const SEED = testSeed("transport.contract");
const RUN = `tw-test-${process.pid}-${Date.now().toString(36)}`;
const MQTT_URL = "mqtt://127.0.0.1:1883";

function randomFrame(next: () => number, size: number, tag: number): Uint8Array {
  const f = new Uint8Array(size);
  for (let i = 0; i < size; i++) f[i] = (next() * 256) | 0;
  // The first 4 bytes carry a sequence number so an ordering failure names the frame.
  if (size >= 4) new DataView(f.buffer).setUint32(0, tag);
  return f;
}

function bytesEqual(x: Uint8Array, y: Uint8Array): boolean {
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

function waitState(t: Transport, state: string, timeoutMs = 10_000): Promise<TransportStateChange> {
  if (t.state === state) return Promise.resolve({ state } as TransportStateChange);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${state} (is ${t.state})`)), timeoutMs);
    const off = t.onState((c) => {
      if (c.state === state) {
        clearTimeout(timer);
        off();
        resolve(c);
      }
    });
  });
}

function collect(t: Transport): Uint8Array[] {
  const got: Uint8Array[] = [];
  t.onFrame((f) => got.push(f));
  return got;
}

async function until(cond: () => boolean, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Kind {
  name: string;
  /** A pair whose ends are both still "connecting" or just opened. */
  pair(created?: (dialler: Transport) => void): Promise<[Transport, Transport]>;
  /** A transport aimed at nothing: it must go connecting -> closed. */
  unreachable(): Transport;
  bigFrameBytes: number;
  /**
   * A burst of sends shows in bufferedAmount before the next tick. Not so for a dialled ws
   * socket: on loopback the kernel takes a 1 MiB burst synchronously.
   */
  burstBuffered: boolean;
}

let wss: WebSocketServer;
let wsPort = 0;
const wsAccepted: Transport[] = [];
const wsWaiters: ((t: Transport) => void)[] = [];
let stopMemory: () => void;
let memoryAccepted: Transport[] = [];
let pipeCount = 0;

beforeAll(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wsPort = (wss.address() as AddressInfo).port;
  wss.on("connection", (socket) => {
    const t = acceptWebSocket(socket as any);
    const w = wsWaiters.shift();
    if (w) w(t);
    else wsAccepted.push(t);
  });
  stopMemory = listenMemory(`${RUN}-endpoint`, (t) => memoryAccepted.push(t));
});

afterAll(async () => {
  stopMemory?.();
  await new Promise<void>((r) => wss.close(() => r()));
});

function nextWsServerSide(): Promise<Transport> {
  const t = wsAccepted.shift();
  if (t) return Promise.resolve(t);
  return new Promise((r) => wsWaiters.push(r));
}

const kinds: Kind[] = [
  {
    name: "memory pair",
    pair: async (created) => {
      const p = createMemoryPair();
      created?.(p[0]);
      return p;
    },
    unreachable: () => connectMemory(`memory://${RUN}-nobody`),
    bigFrameBytes: 16 << 20,
    burstBuffered: true,
  },
  {
    name: "memory endpoint",
    pair: async (created) => {
      memoryAccepted = [];
      const a = connectMemory(`memory://${RUN}-endpoint`);
      created?.(a);
      expect(memoryAccepted.length).toBe(1);
      return [a, memoryAccepted[0]!];
    },
    unreachable: () => connectMemory(`memory://${RUN}-nobody`),
    bigFrameBytes: 4 << 20,
    burstBuffered: true,
  },
  {
    name: "websocket",
    pair: async (created) => {
      const a = connectWebSocket(`ws://127.0.0.1:${wsPort}/`);
      created?.(a);
      const b = await nextWsServerSide();
      return [a, b];
    },
    unreachable: () => connectWebSocket("ws://127.0.0.1:1/"),
    bigFrameBytes: 16 << 20,
    burstBuffered: false,
  },
  {
    name: "deferred (memory pair behind a dynamic import)",
    pair: async (created) => {
      const p = createMemoryPair();
      // Loads after a few ticks, as a real chunk would: the memory end has opened by then.
      const a = new DeferredTransport(async () => {
        await new Promise((r) => setTimeout(r, 5));
        return () => p[0];
      }, "a test transport");
      created?.(a);
      return [a, p[1]];
    },
    unreachable: () => new DeferredTransport(() => Promise.reject(new Error("chunk not found")), "a test transport"),
    bigFrameBytes: 16 << 20,
    burstBuffered: true,
  },
  {
    name: "mqtt",
    pair: async (created) => {
      const n = pipeCount++;
      const up = `${RUN}/pipe${n}/up`;
      const down = `${RUN}/pipe${n}/down`;
      const a = connectMqtt(MQTT_URL, { inTopic: down, outTopic: up });
      created?.(a);
      return [a, connectMqtt(MQTT_URL, { inTopic: up, outTopic: down })];
    },
    unreachable: () => connectMqtt("mqtt://127.0.0.1:1", { inTopic: "x/in", outTopic: "x/out", connectTimeoutMs: 2000 }),
    bigFrameBytes: 4 << 20,
    burstBuffered: true,
  },
];

describe.each(kinds)("transport contract: $name", (kind) => {
  it("goes connecting -> open, announced to handlers attached after creation", async () => {
    // pair() is async (a server side must be accepted first), so attach in the same
    // synchronous run as the creation of the dialling side, which pair() starts first.
    const seen: string[] = [];
    const pending = kind.pair((first) => {
      expect(first.state).toBe("connecting");
      first.onState((c) => seen.push(c.state));
    });
    const [a, b] = await pending;
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    expect(seen).toEqual(["open"]);
    expect(a.state).toBe("open");
    a.close();
    b.close();
  });

  it("refuses send before open and empty frames, with typed errors", async () => {
    const [a, b] = await kind.pair();
    if (a.state === "connecting") {
      expect(() => a.send(new Uint8Array([1]))).toThrow(TagwireError);
      try {
        a.send(new Uint8Array([1]));
      } catch (e) {
        expect((e as TagwireError).code).toBe("TAGWIRE_ERR_CLOSED");
      }
    }
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    expect(() => a.send(new Uint8Array(0))).toThrow(/at least one byte/);
    // The refused sends left the pipe usable.
    const got = collect(b);
    a.send(new Uint8Array([7, 8, 9]));
    await until(() => got.length === 1, 10_000, "frame after refused sends");
    expect([...got[0]!]).toEqual([7, 8, 9]);
    a.close();
    b.close();
  });

  it("delivers frames in order and byte for byte, both directions at once", async () => {
    const next = mulberry32(SEED);
    const [a, b] = await kind.pair();
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    const atB = collect(b);
    const atA = collect(a);
    const count = 600;
    const sentAB: Uint8Array[] = [];
    const sentBA: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      // Sizes from 1 byte to ~3 KiB; every byte value occurs.
      const f1 = randomFrame(next, 1 + ((next() * 3000) | 0), i);
      const f2 = randomFrame(next, 1 + ((next() * 3000) | 0), i);
      sentAB.push(f1.slice());
      sentBA.push(f2.slice());
      a.send(f1);
      b.send(f2);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => atB.length === count && atA.length === count, 20_000, `${count} frames each way`);
    for (let i = 0; i < count; i++) {
      expect(bytesEqual(atB[i]!, sentAB[i]!), `a->b frame ${i}`).toBe(true);
      expect(bytesEqual(atA[i]!, sentBA[i]!), `b->a frame ${i}`).toBe(true);
      expect(atB[i]).toBeInstanceOf(Uint8Array);
    }
    a.close();
    b.close();
  });

  it("carries a large frame intact", async () => {
    const next = mulberry32(SEED + 1);
    const [a, b] = await kind.pair();
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    const got = collect(b);
    const big = randomFrame(next, kind.bigFrameBytes, 42);
    const copy = big.slice();
    a.send(big);
    a.send(new Uint8Array([1]));
    await until(() => got.length === 2, 30_000, "large frame");
    expect(got[0]!.byteLength).toBe(copy.byteLength);
    expect(bytesEqual(got[0]!, copy)).toBe(true);
    expect([...got[1]!]).toEqual([1]);
    a.close();
    b.close();
  });

  it("closes once on both sides: local flag, reason, frames sent before close arrive first", async () => {
    const [a, b] = await kind.pair();
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    const atB = collect(b);
    const aEvents: TransportStateChange[] = [];
    const bEvents: TransportStateChange[] = [];
    a.onState((c) => aEvents.push(c));
    let framesAtBClose = -1;
    b.onState((c) => {
      bEvents.push(c);
      if (c.state === "closed") framesAtBClose = atB.length;
    });
    for (let i = 0; i < 20; i++) a.send(new Uint8Array([i + 1]));
    a.close("done here");
    a.close("again"); // idempotent
    expect(a.state).toBe("closed");
    expect(aEvents).toHaveLength(1);
    expect(aEvents[0]).toMatchObject({ state: "closed", local: true, reason: "done here" });
    await waitState(b, "closed");
    expect(bEvents).toHaveLength(1);
    expect(bEvents[0]!.local).toBe(false);
    expect(typeof bEvents[0]!.reason).toBe("string");
    expect(framesAtBClose).toBe(20);
    expect(atB.map((f) => f[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Nothing after close: send throws a typed error on both ends.
    for (const t of [a, b]) {
      try {
        t.send(new Uint8Array([1]));
        expect.unreachable("send after close must throw");
      } catch (e) {
        expect((e as TagwireError).code).toBe("TAGWIRE_ERR_CLOSED");
      }
    }
  });

  it("reports bufferedAmount: 0 when idle, a burst the wire has not taken yet, back to 0 after", async () => {
    const [a, b] = await kind.pair();
    try {
      await Promise.all([waitState(a, "open"), waitState(b, "open")]);
      expect(a.bufferedAmount).toBe(0);
      const got = collect(b);
      const frame = new Uint8Array(64 * 1024).fill(7);
      for (let i = 0; i < 16; i++) a.send(frame);
      // Read in the same synchronous run: nothing has reached the peer yet.
      if (kind.burstBuffered) expect(a.bufferedAmount).toBeGreaterThan(0);
      else expect(a.bufferedAmount).toBeGreaterThanOrEqual(0);
      await until(() => got.length === 16, 20_000, "burst delivered");
      await until(() => a.bufferedAmount === 0, 10_000, "bufferedAmount back to 0");
    } finally {
      a.close();
      b.close();
    }
  });

  it("removes handlers when asked", async () => {
    const [a, b] = await kind.pair();
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    const first: number[] = [];
    const second: number[] = [];
    const off = b.onFrame((f) => first.push(f[0]!));
    b.onFrame((f) => second.push(f[0]!));
    a.send(new Uint8Array([1]));
    await until(() => second.length === 1, 10_000, "first frame");
    off();
    a.send(new Uint8Array([2]));
    await until(() => second.length === 2, 10_000, "second frame");
    expect(first).toEqual([1]);
    expect(second).toEqual([1, 2]);
    a.close();
    b.close();
  });

  it("goes connecting -> closed, never open, when nothing answers", async () => {
    const t = kind.unreachable();
    const seen: TransportStateChange[] = [];
    t.onState((c) => seen.push(c));
    expect(t.state).toBe("connecting");
    await waitState(t, "closed", 15_000);
    expect(seen.map((c) => c.state)).toEqual(["closed"]);
    expect(seen[0]!.local).toBeFalsy();
    expect(seen[0]!.reason).toBeTruthy();
  });

  it("can be closed while still connecting", async () => {
    const [a, b] = await kind.pair();
    const seen: string[] = [];
    a.onState((c) => seen.push(c.state));
    a.close("changed my mind");
    expect(a.state).toBe("closed");
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["closed"]);
    b.close();
  });
});

describe("memory transport: a paused reader", () => {
  it("holds frames, counts their bytes in the sender's bufferedAmount, and delivers them in order on resume", async () => {
    const [a, b] = MemoryTransport.pair();
    await Promise.all([waitState(a, "open"), waitState(b, "open")]);
    const got = collect(b);
    b.pause();
    a.send(new Uint8Array(100).fill(1));
    a.send(new Uint8Array(50).fill(2));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    expect(a.bufferedAmount).toBe(150);
    expect(b.bufferedAmount).toBe(0);
    b.resume();
    await until(() => got.length === 2, 1_000, "frames after resume");
    expect(got.map((f) => [f[0], f.length])).toEqual([
      [1, 100],
      [2, 50],
    ]);
    expect(a.bufferedAmount).toBe(0);
    // A close from the sender still delivers what was in flight to a paused reader, then closes.
    b.pause();
    a.send(new Uint8Array([3]));
    a.close("bye");
    await waitState(b, "closed");
    expect(got.map((f) => f[0])).toEqual([1, 2, 3]);
  });
});

describe("websocket transport: message kinds", () => {
  // The WHATWG surface alone (as in browsers), over ws: the transport then reads `onmessage`.
  class WhatwgOnly {
    readonly #ws: WebSocket;
    constructor(url: string, protocols?: string | string[]) {
      this.#ws = new WebSocket(url, protocols);
    }
    get binaryType(): string {
      return this.#ws.binaryType;
    }
    set binaryType(v: string) {
      this.#ws.binaryType = v as "nodebuffer";
    }
    get readyState(): number {
      return this.#ws.readyState;
    }
    get bufferedAmount(): number {
      return this.#ws.bufferedAmount;
    }
    set onopen(h: WebSocketLike["onopen"]) {
      this.#ws.onopen = h;
    }
    set onmessage(h: WebSocketLike["onmessage"]) {
      this.#ws.onmessage = h;
    }
    set onclose(h: WebSocketLike["onclose"]) {
      this.#ws.onclose = h;
    }
    set onerror(h: WebSocketLike["onerror"]) {
      this.#ws.onerror = h;
    }
    send(data: Uint8Array): void {
      this.#ws.send(data);
    }
    close(code?: number, reason?: string): void {
      this.#ws.close(code, reason);
    }
  }

  for (const [name, options] of [
    ["ws's own message event", {}],
    ["the WHATWG onmessage", { WebSocket: WhatwgOnly as unknown as WebSocketClass }],
  ] as const) {
    it(`delivers binary messages and refuses a text one with 1003 (${name})`, async () => {
      const a = connectWebSocket(`ws://127.0.0.1:${wsPort}/`, options);
      const b = await nextWsServerSide();
      await waitState(a, "open");
      const got = collect(a);
      const raw = (b as unknown as { socket: WebSocket }).socket;
      const peerClosed = new Promise<number>((r) => raw.once("close", (code: number) => r(code)));
      b.send(Uint8Array.of(1, 2, 3));
      await until(() => got.length === 1, 2_000, "a binary message");
      expect([...got[0]!]).toEqual([1, 2, 3]);
      raw.send("text", { binary: false });
      const change = await waitState(a, "closed");
      expect((change.error as TagwireError).code).toBe("TAGWIRE_ERR_PROTOCOL");
      expect(await peerClosed).toBe(1003);
    });
  }
});

describe("deferred transport: loading", () => {
  it("reports a failed load as TAGWIRE_ERR_UNAVAILABLE", async () => {
    const t = new DeferredTransport(() => Promise.reject(new Error("chunk not found")), "the MQTT transport");
    const change = await waitState(t, "closed");
    expect(change.error).toBeInstanceOf(TagwireError);
    expect((change.error as TagwireError).code).toBe("TAGWIRE_ERR_UNAVAILABLE");
    expect(change.reason).toMatch(/cannot load the MQTT transport: chunk not found/);
    expect(() => t.send(new Uint8Array([1]))).toThrow(/closed/);
  });

  it("closed while loading: closes at once and never builds the real transport", async () => {
    let release!: (f: () => Transport) => void;
    let built = 0;
    const t = new DeferredTransport(() => new Promise((r) => (release = r)), "x");
    const seen: TransportStateChange[] = [];
    t.onState((c) => seen.push(c));
    t.close("user");
    release(() => {
      built++;
      return createMemoryPair()[0];
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(built).toBe(0);
    expect(seen).toEqual([{ state: "closed", reason: "user", local: true }]);
  });

  it("a factory that throws after loading closes the transport with its error", async () => {
    const t = new DeferredTransport(
      async () => () => {
        throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "bad broker");
      },
      "x",
    );
    const change = await waitState(t, "closed");
    expect((change.error as TagwireError).code).toBe("TAGWIRE_ERR_ARGUMENT");
  });
});
