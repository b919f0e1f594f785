// The frame codec against docs/PROTOCOL.md: golden bytes for every frame type, batches cut at
// every byte (always "incomplete", never fewer frames), malformed input with stable codes, the
// hand-written event encoders at every msgpack size boundary, and seeded random round trips.
import { describe, expect, test } from "vitest";
import {
  FrameError,
  FrameType,
  PROTOCOL_VERSION,
  decodeBatch,
  decodeFrames,
  decodeValue,
  encodeAggregateEvent,
  encodeFrame,
  encodeFrames,
  encodeMessageEvent,
  encodeMessageAck,
  encodePublishAck,
  isPlainPublishBatch,
  packr,
  encodeValue,
  eventPrefix,
  joinFrames,
  toFrame,
  type Frame,
} from "../bindings/protocol/index.js";
import { testSeed, xorshift32 } from "./support/seed.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
/** msgpack fixstr of an ASCII string, as hex. */
const s = (text: string) => (0xa0 | text.length).toString(16) + Buffer.from(text).toString("hex");

// {t: 21.5} as a msgpack document: fixmap(1) "t" float64 21.5
const DOC = "81" + s("t") + "cb4035800000000000";
const DOC_BIN = "c40c" + DOC;
const doc = fromHex(DOC);

// Each golden is one frame in a batch of one (0x91). Written from the grammar, not from the codec.
const GOLDEN: [Frame, string][] = [
  [{ type: "hello", reqId: 1, protocol: 1, agentId: "pump-1", token: "tw1.x.y" }, "95 01 01 01" + s("pump-1") + s("tw1.x.y")],
  [
    { type: "subscribe", reqId: 2, subId: 7, agentId: "+", pattern: "sensors/#", known: { "pump-1/sensors/a": 3 } },
    "96 02 02 07" + s("+") + s("sensors/#") + "81" + s("pump-1/sensors/a") + "03",
  ],
  [{ type: "unsubscribe", reqId: 3, subId: 7 }, "93 03 03 07"],
  [
    { type: "publish", reqId: 4, agentId: "pump-1", channel: "tag_values", diff: doc, log: true, replaceKeys: ["a"], messageId: "m1" },
    "98 04 04" + s("pump-1") + s("tag_values") + DOC_BIN + "01" + "91" + s("a") + s("m1"),
  ],
  [
    { type: "publish", reqId: 0, agentId: "p", channel: "c", diff: doc, replace: true },
    "98 04 00" + s("p") + s("c") + DOC_BIN + "02 c0 c0",
  ],
  [
    { type: "createMessage", reqId: 5, agentId: "pump-1", channel: "notifications", data: doc },
    "96 05 05" + s("pump-1") + s("notifications") + DOC_BIN + "c0",
  ],
  [{ type: "getAggregate", reqId: 6, agentId: "pump-1", channel: "ui_state" }, "94 06 06" + s("pump-1") + s("ui_state")],
  [
    { type: "getMessages", reqId: 7, agentId: "pump-1", channel: "log", before: 1700000000000, limit: 10 },
    // 1700000000000 does not fit 32 bits: float64 0x4278bcfe56800000
    "97 07 07" + s("pump-1") + s("log") + "cb4278bcfe56800000 c0 0a",
  ],
  [{ type: "listChannels", reqId: 8, agentId: "pump-1" }, "93 08 08" + s("pump-1")],
  [{ type: "ping", reqId: 9 }, "92 09 09"],
  [{ type: "ack", reqId: 3, result: null }, "93 10 03 c0"],
  [{ type: "ack", reqId: 70000, result: { version: 3, synced: 2 } }, "93 10 ce00011170 82" + s("version") + "03" + s("synced") + "02"],
  [
    { type: "error", reqId: 5, code: "TAGWIRE_ERR_FORBIDDEN", message: "no" },
    "94 11 05" + "b5" + Buffer.from("TAGWIRE_ERR_FORBIDDEN").toString("hex") + s("no"),
  ],
  [
    { type: "sync", subId: 7, agentId: "pump-1", channel: "sensors/a", version: 3, aggregate: doc },
    "96 12 07" + s("pump-1") + s("sensors/a") + "03" + DOC_BIN,
  ],
  [
    { type: "aggregate", agentId: "pump-1", channel: "sensors/a", version: 300, diff: doc },
    "95 13" + s("pump-1") + s("sensors/a") + "cd012c" + DOC_BIN,
  ],
  [
    { type: "message", agentId: "pump-1", channel: "log", id: "m2", ts: 1700000000001, data: doc },
    "96 14" + s("pump-1") + s("log") + s("m2") + "cb4278bcfe56801000" + DOC_BIN,
  ],
];

/** Frames compare with documents as plain byte arrays (decoding yields views of the input). */
function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bin: hex(value) };
  if (Array.isArray(value)) return value.map(normal);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, normal(v)]),
    );
  }
  return value;
}

describe("golden frames", () => {
  for (const [frame, body] of GOLDEN) {
    const label = `${frame.type} ${"reqId" in frame ? frame.reqId : ""}`;
    test(`${label} encodes to the grammar's bytes`, () => {
      expect(hex(encodeFrames([frame]))).toBe(("91" + body).replace(/\s+/g, ""));
      expect(hex(encodeFrame(frame))).toBe(body.replace(/\s+/g, ""));
    });
    test(`${label} decodes from them`, () => {
      const [decoded] = decodeFrames(fromHex("91" + body));
      expect(normal(decoded!)).toEqual(normal(frame));
    });
  }

  test("type numbers are the documented ones", () => {
    expect(FrameType).toEqual({
      hello: 1,
      subscribe: 2,
      unsubscribe: 3,
      publish: 4,
      createMessage: 5,
      getAggregate: 6,
      getMessages: 7,
      listChannels: 8,
      ping: 9,
      ack: 16,
      error: 17,
      sync: 18,
      aggregate: 19,
      message: 20,
    });
    expect(PROTOCOL_VERSION).toBe(1);
  });
});

describe("batches", () => {
  const frames = GOLDEN.map(([f]) => f);
  const batch = encodeFrames(frames);

  test("a batch of every frame type round-trips in order", () => {
    expect(decodeFrames(batch).map(normal)).toEqual(frames.map(normal));
  });

  test("joinFrames builds the same batch as encodeFrames", () => {
    expect(hex(joinFrames(frames.map(encodeFrame)))).toBe(hex(batch));
    // 16 frames need an array16 header (dc 0010)
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ type: "ping", reqId: i + 1 }) as Frame);
    const joined = joinFrames(sixteen.map(encodeFrame));
    expect(hex(joined.subarray(0, 3))).toBe("dc0010");
    expect(hex(joined)).toBe(hex(encodeFrames(sixteen)));
  });

  test("every strict prefix of a batch is rejected as incomplete, never misread", () => {
    for (let cut = 0; cut < batch.length; cut++) {
      let caught: unknown;
      try {
        decodeFrames(batch.subarray(0, cut));
      } catch (err) {
        caught = err;
      }
      expect(caught, `cut at ${cut}`).toBeInstanceOf(FrameError);
      expect((caught as FrameError).code, `cut at ${cut}`).toBe("TAGWIRE_ERR_INCOMPLETE");
      expect((caught as FrameError).incomplete).toBe(true);
    }
  });

  test("a prefix that ends exactly between frames is still incomplete", () => {
    const two = encodeFrames([
      { type: "ping", reqId: 1 },
      { type: "ping", reqId: 2 },
    ]);
    // 92 | 92 09 01 | 92 09 02: the first 4 bytes hold one whole frame
    expect(hex(two)).toBe("92920901920902");
    expect(() => decodeBatch(two.subarray(0, 4))).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_INCOMPLETE" }));
  });

  test("bytes after the batch are malformed", () => {
    const extra = new Uint8Array([...encodeFrames([{ type: "ping", reqId: 1 }]), 0x01]);
    expect(() => decodeBatch(extra)).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
  });

  test("a message that is not an array of frames, or an empty one, is a protocol error", () => {
    for (const bad of ["81a161a162", "a3616263", "c0", "90", "dc0000"]) {
      expect(() => decodeBatch(fromHex(bad)), bad).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_PROTOCOL" }));
    }
  });

  test("more than 1024 frames is refused by the header, before decoding", () => {
    const header = fromHex("dc0401"); // claims 1025 frames, the rest is absent
    expect(() => decodeBatch(header)).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_SIZE" }));
    const ok = joinFrames(Array.from({ length: 1024 }, (_, i) => encodeFrame({ type: "ping", reqId: i + 1 })));
    expect(decodeBatch(ok)).toHaveLength(1024);
  });

  test("garbage bytes inside a batch are refused, never read as a frame", () => {
    // 0xc1 is never used by msgpack; d5 01 is a fixext2 of a type nobody registered.
    for (const bad of ["91 92 09 c1", "91 c1", "91 92 c1 09", "91 92 09 d5010203"]) {
      let caught: unknown;
      try {
        decodeFrames(fromHex(bad));
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(FrameError);
      expect(["TAGWIRE_ERR_MSGPACK", "TAGWIRE_ERR_PROTOCOL"], bad).toContain((caught as FrameError).code);
    }
  });

  test("a deeply nested envelope is refused, not a crash", () => {
    const deep = new Uint8Array(200_000).fill(0x91);
    let caught: unknown;
    try {
      decodeBatch(deep);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FrameError);
    expect(["TAGWIRE_ERR_DEPTH", "TAGWIRE_ERR_INCOMPLETE"]).toContain((caught as FrameError).code);
  });
});

describe("frame checks", () => {
  const bad = (raw: unknown) => {
    try {
      toFrame(raw);
    } catch (err) {
      return err as FrameError;
    }
    throw new Error(`accepted ${JSON.stringify(raw)}`);
  };

  test("unknown types and non-arrays are protocol errors", () => {
    expect(bad([99, 5]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([99, 5]).reqId).toBe(5);
    expect(bad("hello").code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([]).code).toBe("TAGWIRE_ERR_PROTOCOL");
  });

  test("missing or mistyped fields name the request", () => {
    expect(bad([4, 11, "a", "c"]).reqId).toBe(11);
    expect(bad([4, 12, "a", "c", doc, 0, null]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    const notBin = bad([4, 13, "a", "c", { t: 1 }, 0, null, null]);
    expect(notBin.code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(notBin.reqId).toBe(13);
    expect(bad([4, 14, "a", "c", new Uint8Array(0), 0, null, null]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([6, 15, 7, "c"]).reqId).toBe(15);
    expect(bad([2, 16, -1, "a", "p", null]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([2, 17, 1, "a", "p", { k: "x" }]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([4, 18, "a", "c", doc, 4, null, null]).code).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(bad([1, 2 ** 32, 1, "a", null]).reqId).toBe(0);
  });

  test("a frame has exactly its listed elements", () => {
    expect(toFrame([9, 1])).toEqual({ type: "ping", reqId: 1 });
    expect(bad([9, 1, "extra"]).code).toBe("TAGWIRE_ERR_PROTOCOL");
    expect(bad([9, 1, "extra"]).reqId).toBe(1);
  });
});

describe("hand-written event encoders", () => {
  const boundaries = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER];
  const sizes = [1, 255, 256, 65535, 65536, 70000];

  test("aggregate events decode to what they encode, at every uint and bin size boundary", () => {
    const prefix = eventPrefix(19, "agent-9", "a/b/c");
    for (const version of boundaries) {
      for (const size of sizes) {
        const diff = new Uint8Array(size).map((_, i) => (i * 7) & 0x7f); // positive fixints: opaque here
        const bytes = encodeAggregateEvent(prefix, version, diff);
        const [f] = decodeFrames(joinFrames([bytes]));
        expect(f).toMatchObject({ type: "aggregate", agentId: "agent-9", channel: "a/b/c", version });
        expect(hex((f as { diff: Uint8Array }).diff)).toBe(hex(diff));
        // Same value as the generic encoder produces.
        const generic = encodeFrame({ type: "aggregate", agentId: "agent-9", channel: "a/b/c", version, diff });
        expect(normal(decodeFrames(joinFrames([generic]))[0]!)).toEqual(normal(f!));
      }
    }
  });

  test("message events, with long names (str8/str16 headers)", () => {
    const agent = "a".repeat(40);
    const channel = "c".repeat(255);
    const prefix = eventPrefix(20, agent, channel);
    const data = encodeValue({ level: "warn", text: "x".repeat(300) });
    const [f] = decodeFrames(joinFrames([encodeMessageEvent(prefix, "id-1", 1_700_000_000_123, data)]));
    expect(f).toMatchObject({ type: "message", agentId: agent, channel, id: "id-1", ts: 1_700_000_000_123 });
    expect(decodeValue((f as { data: Uint8Array }).data)).toEqual({ level: "warn", text: "x".repeat(300) });
  });
});

describe("hub hot-path helpers", () => {
  test("encodePublishAck writes exactly what encodeFrame writes", () => {
    for (const reqId of [1, 127, 128, 70000, 2 ** 32 - 1]) {
      for (const version of [0, 1, 300, 2 ** 32, 2 ** 53 - 1]) {
        for (const diff of [fromHex("80"), doc, encodeValue({ s: "x".repeat(300) })]) {
          const generic = encodeFrame({ type: "ack", reqId, result: { version, diff, message: null } });
          expect(hex(encodePublishAck(reqId, version, diff))).toBe(hex(generic));
        }
      }
    }
  });

  // Strings at every str size boundary, ASCII and not (the hand-written writer has an ASCII path).
  const strs = [
    "",
    "a",
    "x".repeat(31),
    "x".repeat(32),
    "y".repeat(255),
    "y".repeat(256),
    "z".repeat(70_000),
    "ç",
    "température/intérieure",
    "😀".repeat(20),
  ];
  const docs = [fromHex("80"), doc, encodeValue({ s: "x".repeat(300) }), encodeValue({ s: "x".repeat(70_000) })];

  test("encodeMessageAck writes exactly what msgpackr writes for the ack", () => {
    for (const reqId of [1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1]) {
      for (const ts of [0, 127, 128, 2 ** 32 - 1, 2 ** 32, 1_700_000_000_001, 2 ** 53 - 1]) {
        for (const id of strs) {
          expect(hex(encodeMessageAck(reqId, id, ts))).toBe(hex(packr.pack([16, reqId, { id, ts }])));
        }
      }
    }
  });

  test("encodeMessageEvent writes exactly what encodeFrame writes, ids ASCII or not", () => {
    const prefix = eventPrefix(20, "dev-1", "logs/été");
    for (const ts of [0, 128, 2 ** 32, 1_700_000_000_001]) {
      for (const id of strs) {
        for (const data of docs) {
          const generic = encodeFrame({ type: "message", agentId: "dev-1", channel: "logs/été", id, ts, data });
          expect(hex(encodeMessageEvent(prefix, id, ts, data))).toBe(hex(generic));
        }
      }
    }
  });

  test("createMessage and publish frames: the hand-written encoder equals msgpackr's", () => {
    const generic = (f: Frame) =>
      f.type === "createMessage"
        ? packr.pack([5, f.reqId, f.agentId, f.channel, f.data, f.messageId ?? null])
        : f.type === "publish"
          ? packr.pack([
              4,
              f.reqId,
              f.agentId,
              f.channel,
              f.diff,
              (f.log ? 1 : 0) | (f.replace ? 2 : 0),
              f.replaceKeys ?? null,
              f.messageId ?? null,
            ])
          : new Uint8Array();
    for (const reqId of [0, 1, 128, 65536, 2 ** 32 - 1]) {
      for (const text of strs) {
        for (const d of docs) {
          const frames: Frame[] = [
            { type: "createMessage", reqId, agentId: text, channel: "c", data: d },
            { type: "createMessage", reqId, agentId: "pump-1", channel: text, data: d, messageId: text },
            { type: "publish", reqId, agentId: text, channel: "c", diff: d, messageId: text },
            { type: "publish", reqId, agentId: "a", channel: text, diff: d, log: true, replace: true },
            { type: "publish", reqId, agentId: "a", channel: "c", diff: d, replaceKeys: [text], messageId: "m" },
            // only the last string off ASCII: the one-pass writer finds out at the end
            { type: "publish", reqId, agentId: "a", channel: "c", diff: d, messageId: text },
          ];
          for (const f of frames) {
            const bytes = encodeFrame(f);
            expect(hex(bytes)).toBe(hex(generic(f)));
            expect(normal(toFrame(decodeValue(bytes)))).toEqual(normal(f));
          }
        }
      }
    }
  });

  test("isPlainPublishBatch: only publishes without log and without message ids", () => {
    const pub = (extra: Partial<Extract<Frame, { type: "publish" }>> = {}): Frame => ({
      type: "publish",
      reqId: 5,
      agentId: "a",
      channel: "b/c",
      diff: doc,
      ...extra,
    });
    expect(isPlainPublishBatch(encodeFrames([pub()]))).toBe(true);
    expect(isPlainPublishBatch(encodeFrames([pub({ replace: true, replaceKeys: ["x", "y"], reqId: 70000 })]))).toBe(true);
    // A message id asks for replay protection, checked in storage on the per-frame path.
    expect(isPlainPublishBatch(encodeFrames([pub({ messageId: "m-1" })]))).toBe(false);
    expect(
      isPlainPublishBatch(encodeFrames(Array.from({ length: 300 }, () => pub({ diff: encodeValue({ s: "x".repeat(70_000) }) })))),
    ).toBe(true);
    expect(isPlainPublishBatch(encodeFrames([pub(), pub({ log: true })]))).toBe(false);
    expect(isPlainPublishBatch(encodeFrames([pub(), { type: "ping", reqId: 1 }]))).toBe(false);
    expect(isPlainPublishBatch(encodeFrames([pub({ messageId: "x".repeat(129) })]))).toBe(false);
    expect(isPlainPublishBatch(encodeFrames([pub({ messageId: "bad\nid" })]))).toBe(false);
    const ok = encodeFrames([pub(), pub()]);
    for (let cut = 0; cut < ok.length; cut++) expect(isPlainPublishBatch(ok.subarray(0, cut))).toBe(false);
    expect(isPlainPublishBatch(new Uint8Array([...ok, 0]))).toBe(false);
  });
});

describe("seeded random round trips", () => {
  const rand = xorshift32(testSeed("protocol.test"));
  const int = (n: number) => Math.floor(rand() * n);
  const name = () => Array.from({ length: 1 + int(12) }, () => "abcxyz019_.:-"[int(13)]).join("");
  const uintv = () => [0, 1, 127, 128, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, int(1e6)][int(10)]!;
  const value = (depth: number): unknown => {
    const k = int(depth > 3 ? 5 : 7);
    if (k === 0) return null;
    if (k === 1) return rand() < 0.5;
    if (k === 2) return rand() * 1e6 - 5e5;
    if (k === 3) return name();
    if (k === 4) return int(1e9);
    if (k === 5) return Array.from({ length: int(4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: int(5) }, () => [name(), value(depth + 1)]));
  };
  const docOf = () => encodeValue(Object.fromEntries(Array.from({ length: 1 + int(4) }, () => [name(), value(1)])));
  const randomFrame = (): Frame => {
    switch (int(8)) {
      case 0:
        return {
          type: "publish",
          reqId: int(2 ** 32),
          agentId: name(),
          channel: `${name()}/${name()}`,
          diff: docOf(),
          log: true,
          messageId: name(),
        };
      case 1:
        return { type: "aggregate", agentId: name(), channel: name(), version: uintv(), diff: docOf() };
      case 2:
        return { type: "message", agentId: name(), channel: name(), id: name(), ts: uintv(), data: docOf() };
      case 3:
        return { type: "sync", subId: int(2 ** 32), agentId: name(), channel: name(), version: uintv(), aggregate: docOf() };
      case 4:
        return { type: "error", reqId: int(1000), code: "TAGWIRE_ERR_RATE", message: name() };
      case 5:
        return { type: "getMessages", reqId: 1 + int(1000), agentId: name(), channel: name(), after: uintv(), limit: 1 + int(1000) };
      case 6:
        return { type: "ack", reqId: int(1000), result: { version: uintv(), diff: docOf() } };
      default:
        return { type: "subscribe", reqId: 1, subId: int(100), agentId: "+", pattern: `${name()}/#`, known: { [name()]: uintv() } };
    }
  };

  test("1000 random batches survive encode/decode and every cut is incomplete", () => {
    for (let i = 0; i < 1000; i++) {
      const frames = Array.from({ length: 1 + int(20) }, randomFrame);
      const bytes = i % 2 ? encodeFrames(frames) : joinFrames(frames.map(encodeFrame));
      expect(decodeFrames(bytes).map(normal)).toEqual(frames.map(normal));
      if (i < 50) {
        for (let cut = 0; cut < bytes.length; cut++) {
          expect(() => decodeBatch(bytes.subarray(0, cut))).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_INCOMPLETE" }));
        }
      }
    }
  });
});
