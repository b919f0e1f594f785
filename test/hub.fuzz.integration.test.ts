// Seeded WebSocket fuzz against an authenticating hub, bounded to a few seconds for CI: random
// bytes, truncated and mutated valid batches, msgpack bombs (huge declared lengths, deep nesting)
// from an authenticated device, and hellos with mangled tokens from anonymous sockets. The hub
// must not crash, must not report an internal error, and must keep serving a good client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { encodeFrames, type Frame } from "../bindings/protocol/index.js";
import { RawClient, doc, tempDir } from "./hub-helpers.js";
import { testSeed, xorshift32 } from "./support/seed.js";

const SECRET = "fuzz-secret";
const DURATION_MS = Number(process.env.TAGWIRE_FUZZ_MS ?? 3000);
const tok = (agentId: string) => createToken(SECRET, { agentId, role: "device" });

describe("WebSocket fuzz", () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tempDir>;
  const log: string[] = [];
  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({ dataDir: dir.dir, secret: SECRET, log: (l) => log.push(l), limits: { framesPerSecond: Infinity } });
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it("survives random, truncated, mutated and bomb messages and keeps serving", async () => {
    const rand = xorshift32(testSeed("hub.fuzz"));
    const int = (n: number) => Math.floor(rand() * n);
    const good = await RawClient.connect(hub.url, "good", tok("good"));
    const valid: Frame[][] = [
      [{ type: "publish", reqId: 1, agentId: "fuzz", channel: "a/b", diff: doc({ x: 1, y: { z: [1, 2, "s"] } }) }],
      [
        { type: "subscribe", reqId: 2, subId: 7, agentId: "fuzz", pattern: "#" },
        { type: "getAggregate", reqId: 3, agentId: "fuzz", channel: "a/b" },
      ],
      [{ type: "createMessage", reqId: 4, agentId: "fuzz", channel: "log", data: doc({ m: "hello" }), messageId: "m1" }],
      [
        { type: "getMessages", reqId: 5, agentId: "fuzz", channel: "log", limit: 10 } as Frame,
        { type: "listChannels", reqId: 6, agentId: "fuzz" },
      ],
      [{ type: "publish", reqId: 8, agentId: "fuzz", channel: "r", diff: doc({ k: null }), replace: true }],
    ].map((fs) => fs as Frame[]);
    const encoded = valid.map((fs) => encodeFrames(fs));
    const bombs: Uint8Array[] = [
      new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4 billion
      new Uint8Array([0x91, 0xdf, 0xff, 0xff, 0xff, 0xff]), // map32 of 4 billion inside
      new Uint8Array([0x91, 0x95, 0x03, 0x01, 0xa1, 0x61, 0xa1, 0x62, 0xc6, 0xff, 0xff, 0xff, 0xff]), // bin32 of 4 GB
      new Uint8Array([0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff]), // str32 of 2 GB
      (() => {
        const deep = new Uint8Array(200_000).fill(0x91);
        deep[deep.length - 1] = 0xc0;
        return deep;
      })(),
      (() => {
        // A publish whose document is a deeply nested map.
        const inner = new Uint8Array(10_000);
        for (let i = 0; i < inner.length - 1; i += 2) {
          inner[i] = 0x81;
          inner[i + 1] = 0xa0;
        }
        inner[inner.length - 1] = 0xc0;
        const head = encodeFrames([{ type: "publish", reqId: 9, agentId: "fuzz", channel: "d", diff: new Uint8Array(inner.length) }]);
        const out = new Uint8Array(head);
        out.set(inner, out.length - inner.length);
        return out;
      })(),
    ];

    let fuzz = await RawClient.connect(hub.url, "fuzz", tok("fuzz"));
    let sent = 0;
    let reconnects = 0;
    let goodOps = 0;
    const end = Date.now() + DURATION_MS;
    while (Date.now() < end) {
      if (fuzz.closeCode !== undefined || fuzz.ws.readyState !== WebSocket.OPEN) {
        reconnects++;
        fuzz = await RawClient.connect(hub.url, "fuzz", tok("fuzz"));
      }
      for (let k = 0; k < 50; k++) {
        const kind = int(6);
        let msg: Uint8Array;
        const base = encoded[int(encoded.length)]!;
        if (kind === 0) {
          msg = new Uint8Array(1 + int(64));
          for (let i = 0; i < msg.length; i++) msg[i] = int(256);
        } else if (kind === 1) msg = base.subarray(0, int(base.length));
        else if (kind === 2 || kind === 3) {
          msg = base.slice();
          for (let flips = 1 + int(4); flips > 0; flips--) msg[int(msg.length)] = int(256);
        } else if (kind === 4) msg = bombs[int(bombs.length)]!;
        else msg = base;
        if (msg.length === 0) continue;
        fuzz.sendBytes(msg);
        sent++;
      }
      // Anonymous sockets with mangled hellos now and then.
      if (int(10) === 0) {
        const anon = await RawClient.open(hub.url);
        const t = tok("fuzz");
        const mangled = t.slice(0, int(t.length)) + String.fromCharCode(33 + int(90)) + t.slice(int(t.length));
        anon.send([{ type: "hello", reqId: 1, protocol: 1, agentId: "fuzz", token: mangled }]);
        await anon.closed();
      }
      // The good client is served meanwhile.
      const r = await good.publish("good", "n", { n: ++goodOps });
      expect(r.version).toBe(goodOps);
    }
    console.log(`fuzz: ${sent} messages in ${DURATION_MS} ms, ${reconnects} reconnects, ${goodOps} good writes`);
    expect(sent).toBeGreaterThan(200);
    expect(log.filter((l) => /internal error|FATAL/.test(l))).toEqual([]);
    // Still whole: the fuzzing device and the good client both work.
    const after = await RawClient.connect(hub.url, "fuzz", tok("fuzz"));
    expect((await after.publish("fuzz", "after", { ok: true })).version).toBe(1);
    expect(await good.request({ type: "getAggregate", reqId: 0, agentId: "good", channel: "n" })).toMatchObject({ version: goodOps });
    await Promise.all([after.close(), good.close(), fuzz.close()]);
  }, 30_000);
});
