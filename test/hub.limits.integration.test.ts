// Bad input over real sockets: malformed, truncated, oversize, too deep and too fast frames get
// an error frame with a stable code, write nothing, and leave the connection (and everyone else)
// working. Only a message above the hard size limit closes its connection (1009).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHub, type RunningHub } from "../hub/index.js";
import { encodeFrames, encodeValue, type AckFrame, type ErrorFrame } from "../bindings/protocol/index.js";
import { RawClient, doc, tempDir, val } from "./hub-helpers.js";
import { testSeed, xorshift32 } from "./support/seed.js";

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

describe("hub limits", () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tempDir>;
  let bystander: RawClient;
  let watcher: RawClient;
  let stop = false;
  let bystanderCount = 0;
  let loop: Promise<void>;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({
      dataDir: dir.dir,
      auth: false,
      log: () => {},
      limits: {
        maxMessageBytes: 64 * 1024,
        hardMaxMessageBytes: 256 * 1024,
        maxPayloadBytes: 16 * 1024,
        framesPerSecond: 200,
        maxSubscriptions: 3,
      },
    });
    // Someone else publishing all along; their every write must be acked and seen.
    bystander = await RawClient.connect(hub.url, "bystander");
    watcher = await RawClient.connect(hub.url, "watcher");
    await watcher.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "bystander", pattern: "#" });
    loop = (async () => {
      while (!stop) {
        const r = await bystander.publish("bystander", "counter", { n: ++bystanderCount });
        expect(r.version).toBe(bystanderCount);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
  });
  afterAll(async () => {
    stop = true;
    await loop;
    // the bystander's updates all arrived, in order
    await watcher.waitFor((f) => f.type === "aggregate" && f.version === bystanderCount);
    const versions = watcher.received.filter((f) => f.type === "aggregate").map((f) => (f as any).version);
    expect(versions).toEqual(Array.from({ length: bystanderCount }, (_, i) => i + 1));
    expect(bystanderCount).toBeGreaterThan(5);
    await Promise.all([bystander.close(), watcher.close()]);
    await hub.close();
    dir.remove();
  });

  async function stillWorks(c: RawClient) {
    expect(await c.request({ type: "ping", reqId: 0 })).toHaveProperty("ts");
  }

  test("malformed, truncated, empty, text and non-batch messages: error with reqId 0, connection stays", async () => {
    const c = await RawClient.connect(hub.url, "bad-1");
    const good = encodeFrames([{ type: "publish", reqId: 7, agentId: "bad-1", channel: "x", diff: doc({ a: 1 }) }]);
    const cases: [Uint8Array | string, string][] = [
      [new Uint8Array([0x91, 0x92, 0x09, 0xc1]), "TAGWIRE_ERR_MSGPACK"], // 0xc1 (never used) where a reqId belongs
      [good.subarray(0, good.length - 3), "TAGWIRE_ERR_INCOMPLETE"],
      [new Uint8Array([0xc1]), "TAGWIRE_ERR_MSGPACK"],
      [new Uint8Array([0x90]), "TAGWIRE_ERR_PROTOCOL"],
      [encodeValue({ type: "publish" }), "TAGWIRE_ERR_PROTOCOL"],
      [new Uint8Array([0x91, 0x92, 0x09, 0x01, 0x00]), "TAGWIRE_ERR_MSGPACK"], // trailing byte
      ["[[9, 1]]", "TAGWIRE_ERR_PROTOCOL"], // text frame
    ];
    for (const [bytes, code] of cases) {
      const n = c.received.length;
      c.sendBytes(bytes);
      const err = await c.waitFor((f) => c.received.indexOf(f) >= n && f.type === "error");
      expect(err, String(code)).toMatchObject({ type: "error", code, reqId: 0 });
    }
    await stillWorks(c);
    // none of the broken messages wrote anything
    expect((await c.request({ type: "listChannels", reqId: 0, agentId: "bad-1" })).channels).toEqual([]);
    await c.close();
  });

  test("bad frames inside a good batch: each refused with its reqId, the others applied", async () => {
    const c = await RawClient.connect(hub.url, "bad-2");
    await c.publish("bad-2", "agg", { keep: 1 });
    c.send([
      { type: "publish", reqId: 11, agentId: "bad-2", channel: "agg", diff: doc(nested(80)) },
      { type: "publish", reqId: 12, agentId: "bad-2", channel: "agg", diff: new Uint8Array([0x81, 0xa1, 0x61]) }, // cut short
      { type: "publish", reqId: 13, agentId: "bad-2", channel: "agg", diff: new Uint8Array([0x81, 0xa1, 0x61, 0xc1]) },
      { type: "publish", reqId: 14, agentId: "bad-2", channel: "agg", diff: doc([1, 2, 3]) },
      { type: "publish", reqId: 15, agentId: "bad-2", channel: "agg", diff: doc({ big: "x".repeat(20_000) }) },
      { type: "publish", reqId: 16, agentId: "bad-2", channel: "new-one", diff: doc(nested(80)) },
      { type: "createMessage", reqId: 17, agentId: "bad-2", channel: "log", data: doc(nested(80)) },
      { type: "publish", reqId: 18, agentId: "bad-2", channel: "agg", diff: doc({ ok: 2 }) },
      { type: "ack", reqId: 19, result: null },
    ]);
    await c.waitFor((f) => (f.type === "ack" || f.type === "error") && f.reqId === 19);
    const replies = c.received.filter((f): f is AckFrame | ErrorFrame => (f.type === "ack" || f.type === "error") && f.reqId >= 11);
    expect(replies.map((f) => [f.reqId, f.type === "error" ? f.code : "ok"])).toEqual([
      [11, "TAGWIRE_ERR_DEPTH"],
      [12, "TAGWIRE_ERR_INCOMPLETE"],
      [13, "TAGWIRE_ERR_MSGPACK"],
      [14, "TAGWIRE_ERR_PAYLOAD"],
      [15, "TAGWIRE_ERR_SIZE"],
      [16, "TAGWIRE_ERR_DEPTH"],
      [17, "TAGWIRE_ERR_DEPTH"],
      [18, "ok"],
      [19, "TAGWIRE_ERR_PROTOCOL"],
    ]);
    const agg = await c.request({ type: "getAggregate", reqId: 0, agentId: "bad-2", channel: "agg" });
    expect(agg.version).toBe(2);
    expect(val(agg.aggregate)).toEqual({ keep: 1, ok: 2 });
    // the refused writes to new channels created nothing
    expect((await c.request({ type: "listChannels", reqId: 0, agentId: "bad-2" })).channels).toEqual(["agg"]);
    await c.close();
  });

  test("a message over maxMessageBytes is refused; over the hard limit the socket is closed (1009)", async () => {
    const c = await RawClient.connect(hub.url, "big");
    const over = encodeFrames([{ type: "publish", reqId: 5, agentId: "big", channel: "x", diff: doc({ s: "y".repeat(100_000) }) }]);
    c.sendBytes(over);
    expect(await c.waitFor((f) => f.type === "error")).toMatchObject({ code: "TAGWIRE_ERR_SIZE", reqId: 0 });
    await stillWorks(c);
    const huge = encodeFrames([{ type: "publish", reqId: 6, agentId: "big", channel: "x", diff: doc({ s: "y".repeat(300_000) }) }]);
    c.sendBytes(huge);
    expect(await c.closed()).toBe(1009);
    const check = await RawClient.connect(hub.url, "big");
    expect((await check.request({ type: "listChannels", reqId: 0, agentId: "big" })).channels).toEqual([]);
    await check.close();
  });

  test("frames beyond framesPerSecond get TAGWIRE_ERR_RATE and are not applied", async () => {
    const c = await RawClient.connect(hub.url, "fast");
    const frames = Array.from({ length: 400 }, (_, i) => ({
      type: "publish" as const,
      reqId: 1000 + i,
      agentId: "fast",
      channel: "n",
      diff: doc({ n: i }),
    }));
    c.send(frames);
    await c.waitFor((f) => (f.type === "ack" || f.type === "error") && f.reqId === 1399);
    const replies = c.received.filter((f) => (f.type === "ack" || f.type === "error") && f.reqId >= 1000);
    const acked = replies.filter((f) => f.type === "ack").length;
    const limited = replies.filter((f) => f.type === "error" && f.code === "TAGWIRE_ERR_RATE").length;
    expect(acked + limited).toBe(400);
    // the bucket holds one second's worth (200, minus the hello) plus what refilled meanwhile
    expect(acked).toBeGreaterThanOrEqual(150);
    expect(acked).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1100));
    const agg = await c.request({ type: "getAggregate", reqId: 0, agentId: "fast", channel: "n" });
    expect(agg.version).toBe(acked);
    await c.close();
  });

  test("seeded fuzz: mutated batches never break the hub; every message is answered or ignored cleanly", async () => {
    const rand = xorshift32(testSeed("hub.limits fuzz"));
    // A hub of its own without a rate limit, so every mutated frame reaches its handler.
    const fuzzDir = tempDir();
    const fuzzHub = await startHub({ dataDir: fuzzDir.dir, auth: false, log: () => {}, limits: { framesPerSecond: Infinity } });
    const c = await RawClient.connect(fuzzHub.url, "fuzz");
    // Mutations can forge any small reqId: the checks use reqIds far above the templates'.
    let check = 3_000_000_000;
    const answers = async () => {
      const reqId = check++;
      c.send([{ type: "ping", reqId }]);
      await c.waitFor((f) => (f.type === "ack" || f.type === "error") && f.reqId === reqId);
    };
    const templates = [
      encodeFrames([{ type: "publish", reqId: 1, agentId: "fuzz", channel: "a/b", diff: doc({ x: 1, y: { z: [1, 2] } }) }]),
      encodeFrames([
        { type: "publish", reqId: 2, agentId: "fuzz", channel: "a", diff: doc({ k: "v" }), replaceKeys: ["k"] },
        { type: "publish", reqId: 3, agentId: "fuzz", channel: "b", diff: doc({ n: null }), replace: true },
      ]),
      encodeFrames([{ type: "createMessage", reqId: 4, agentId: "fuzz", channel: "log", data: doc({ m: 1 }), messageId: "id" }]),
      encodeFrames([{ type: "subscribe", reqId: 5, subId: 9, agentId: "fuzz", pattern: "a/#", known: { "fuzz/a": 1 } }]),
      encodeFrames([{ type: "getMessages", reqId: 6, agentId: "fuzz", channel: "log", before: 5, after: 1, limit: 3 }]),
    ];
    for (let i = 0; i < Number(process.env.TAGWIRE_FUZZ_ROUNDS ?? 400); i++) {
      const bytes = new Uint8Array(templates[Math.floor(rand() * templates.length)]!);
      for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      c.sendBytes(rand() < 0.1 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes);
      if (i % 50 === 49) await answers();
    }
    await answers();
    // whatever was applied reads back: every listed channel's aggregate and history
    const reader = await RawClient.connect(fuzzHub.url, "reader");
    for (const name of (await reader.request({ type: "listChannels", reqId: 0, agentId: "fuzz" })).channels) {
      await reader.request({ type: "getAggregate", reqId: 0, agentId: "fuzz", channel: name });
      await reader.request({ type: "getMessages", reqId: 0, agentId: "fuzz", channel: name });
    }
    expect(c.closeCode).toBeUndefined();
    // every refusal had a specific code: no unexpected exception inside the hub
    const internal = c.received.filter((f) => f.type === "error" && f.code === "TAGWIRE_ERR_INTERNAL");
    expect(internal).toEqual([]);
    const applied = c.received.filter((f) => f.type === "ack").length;
    console.log(`fuzz: ${applied} frames acknowledged, ${c.received.filter((f) => f.type === "error").length} refused`);
    await Promise.all([c.close(), reader.close()]);
    await fuzzHub.close();
    fuzzDir.remove();
  });

  test("protocol errors: wrong version closes (4400), second hello, subscription limits", async () => {
    const old = await RawClient.open(hub.url);
    expect(await old.reply({ type: "hello", reqId: 0, protocol: 2, agentId: "x" })).toMatchObject({ code: "TAGWIRE_ERR_PROTOCOL" });
    expect(await old.closed()).toBe(4400);

    const c = await RawClient.connect(hub.url, "subs");
    expect(await c.reply({ type: "hello", reqId: 0, protocol: 1, agentId: "subs" })).toMatchObject({ code: "TAGWIRE_ERR_PROTOCOL" });
    for (let i = 1; i <= 3; i++) await c.request({ type: "subscribe", reqId: 0, subId: i, agentId: "subs", pattern: `p${i}` });
    expect(await c.reply({ type: "subscribe", reqId: 0, subId: 2, agentId: "subs", pattern: "q" })).toMatchObject({
      code: "TAGWIRE_ERR_PROTOCOL",
    });
    expect(await c.reply({ type: "subscribe", reqId: 0, subId: 4, agentId: "subs", pattern: "q" })).toMatchObject({
      code: "TAGWIRE_ERR_SIZE",
    });
    expect(await c.reply({ type: "subscribe", reqId: 0, subId: 5, agentId: "subs", pattern: "a/#/b" })).toMatchObject({
      code: "TAGWIRE_ERR_NAME",
    });
    await stillWorks(c);
    await c.close();
  });
});
