// Inbound dispatch alone: batches a scripted peer sends over a real in-process transport, decoded
// by receiveBatch. The message fast path must see exactly what the general path sees; malformed
// frames are reported and skipped without losing the rest of the batch.
import { afterEach, describe, expect, it } from "vitest";
import { receiveBatch, type AnswerSink, type EventSink } from "../bindings/client/inbound.js";
import { MemoryTransport } from "../bindings/transports/memory.js";
import { encodeAggregateEvent, encodeFrames, encodeMessageEvent, eventPrefix, FrameType, joinFrames } from "../bindings/protocol/frames.js";
import { decodeValue, encodeValue } from "../bindings/protocol/msgpack.js";
import { Packr } from "msgpackr";
import { until } from "./fixtures/client-peer.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function pipe() {
  const [near, far] = MemoryTransport.pair();
  cleanup.push(() => near.close());
  await until(() => near.state === "open");
  const log: string[] = [];
  // Every answer is matched except reqId 0 (an error about a frame the hub dropped).
  const answers: AnswerSink = {
    settle: (reqId, result) => {
      log.push(`ack ${reqId} ${JSON.stringify(result)}`);
      return reqId !== 0;
    },
    refuse: (reqId, code, message) => {
      log.push(`error ${reqId} ${code} ${message}`);
      return reqId !== 0;
    },
  };
  const events: EventSink = {
    onSync: (subId, a, c, v) => void log.push(`sync ${subId} ${a}/${c} v${v}`),
    onAggregate: (f) => void log.push(`aggregate ${f.agentId}/${f.channel} v${f.version} ${JSON.stringify(decodeValue(f.diff))}`),
    onMessage: (a, c, id, ts, bytes, start, end) =>
      void log.push(`message ${a}/${c} ${id} ${ts} ${end - start} ${JSON.stringify(decodeValue(bytes.subarray(start, end)))}`),
  };
  const onError = (e: unknown, context: string) => void log.push(`reported ${context}: ${(e as { code?: string }).code}`);
  near.onFrame((bytes) => receiveBatch(bytes, answers, events, onError));
  return { far, log };
}

describe("inbound dispatch", () => {
  it("hands each frame family to its handler, in batch order, the message fast path included", async () => {
    const { far, log } = await pipe();
    const data = encodeValue({ t: 1 });
    far.send(
      joinFrames([
        encodeMessageEvent(eventPrefix(FrameType.message as 20, "dev", "log"), "m1", 5, data),
        encodeFrames([{ type: "ack", reqId: 7, result: { ok: true } }]).subarray(1),
        encodeFrames([{ type: "sync", subId: 2, agentId: "dev", channel: "s", version: 3, aggregate: encodeValue({}) }]).subarray(1),
        encodeFrames([{ type: "aggregate", agentId: "dev", channel: "s", version: 4, diff: encodeValue({ a: 1 }) }]).subarray(1),
        encodeFrames([{ type: "error", reqId: 9, code: "TAGWIRE_ERR_RATE", message: "slow" }]).subarray(1),
        encodeFrames([{ type: "error", reqId: 0, code: "TAGWIRE_ERR_SIZE", message: "too big" }]).subarray(1),
      ]),
    );
    // The same message through the general path (encodeFrames builds it from a frame object).
    far.send(encodeFrames([{ type: "message", agentId: "dev", channel: "log", id: "m1", ts: 5, data }]));
    await until(() => log.length === 8);
    expect(log).toEqual([
      `message dev/log m1 5 ${data.length} {"t":1}`,
      'ack 7 {"ok":true}',
      "sync 2 dev/s v3",
      'aggregate dev/s v4 {"a":1}',
      "error 9 TAGWIRE_ERR_RATE slow",
      // An error no request waits for (reqId 0: a dropped frame) is reported.
      "error 0 TAGWIRE_ERR_SIZE too big",
      "reported error from the hub: TAGWIRE_ERR_SIZE",
      `message dev/log m1 5 ${data.length} {"t":1}`,
    ]);
  });

  it("acks: one that settles a request skips the frame checks; unmatched and malformed ones take the full path", () => {
    const log: string[] = [];
    // Requests 7 and 8 wait; nothing else does (as client/requests.ts answers).
    const answers: AnswerSink = {
      settle: (reqId, result) => (reqId === 7 || reqId === 8) && log.push(`ack ${reqId} ${JSON.stringify(result)}`) > 0,
      refuse: () => false,
    };
    const events: EventSink = { onSync: () => {}, onAggregate: () => {}, onMessage: () => {} };
    const onError = (e: unknown, context: string) => void log.push(`reported ${context}: ${(e as { code?: string }).code}`);
    const packr = new Packr({ useRecords: false });
    // matched; unmatched (dropped quietly, offered once); an extra element on a waiting reqId; a
    // reqId that is not a uint32; a string reqId; matched again
    const frames = [
      [16, 7, { v: 1 }],
      [16, 5, null],
      [16, 8, null, 1],
      [16, -3, null],
      [16, "8", null],
      [16, 8, "ok"],
    ];
    receiveBatch(packr.pack(frames), answers, events, onError);
    expect(log).toEqual([
      'ack 7 {"v":1}',
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      'ack 8 "ok"',
    ]);
  });

  it("reports what it cannot read and keeps the rest of the batch", async () => {
    const { far, log } = await pipe();
    const packr = new Packr({ useRecords: false });
    far.send(new Uint8Array([0xc1])); // not msgpack
    far.send(
      joinFrames([
        packr.pack([FrameType.message, "dev", "log", "m1", -1, encodeValue(1)]), // negative ts: not a message
        encodeFrames([{ type: "ack", reqId: 3, result: { fine: 1 } }]).subarray(1),
        encodeFrames([{ type: "hello", reqId: 1, protocol: 1, agentId: "dev" }]).subarray(1), // a client frame from the hub
      ]),
    );
    await until(() => log.length === 4);
    // Which code a batch that is not msgpack gets is the codec's (docs/PROTOCOL.md); either way it is reported.
    expect(log[0]).toMatch(/^reported undecodable message from the hub: TAGWIRE_ERR_(MSGPACK|PROTOCOL)$/);
    expect(log.slice(1)).toEqual([
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      'ack 3 {"fine":1}',
      "reported receiving: TAGWIRE_ERR_PROTOCOL",
    ]);
  });

  it("reads acks and events in the hub's encodings exactly as in msgpackr's (other headers, same values)", async () => {
    const { far, log } = await pipe();
    const packr = new Packr({ useRecords: false, variableMapSize: true });
    const long = "x".repeat(300);
    const cases: [string, string, string, number, unknown][] = [
      ["dev", "log", "m1", 0, 1],
      ["dev", "log", "m2", 0x7f, { a: [1, 2.5, "é"] }],
      ["dev", "log", "m3", 0x80, "s"],
      ["dev", "other", "m4", 0xffff, null],
      ["dev-2", "log", "m5", 0x10000, true],
      ["dev-2", "log", "m6", 1_796_000_000_123, { big: long }], // ts as float64, data as bin16
      [`agent-${"a".repeat(40)}`, `ch/${"c".repeat(300)}`, `id-${"i".repeat(40)}`, 2 ** 40, [long, long]], // str8 and str16 names
      ["dev", "log", "ü-id", 7, 0],
    ];
    const wire = (hand: boolean) =>
      cases.flatMap(([a, c, id, ts, v], i) => {
        const doc = encodeValue(v);
        const version = [1, 0x80, 0x100, 0x10000, 2 ** 32 - 1][i % 5]!;
        const ack = {
          type: "ack" as const,
          reqId: [1, 0xff, 0xffff, 0xffffffff][i % 4]!,
          result: i % 2 ? { version, diff: doc, message: null } : [v],
        };
        if (!hand) {
          // msgpackr's own encoding of the same frames (other headers, same values).
          return [
            packr.pack([FrameType.message, a, c, id, ts, doc]),
            packr.pack([FrameType.aggregate, a, c, version, doc]),
            packr.pack([FrameType.ack, ack.reqId, ack.result]),
          ];
        }
        return [
          encodeMessageEvent(eventPrefix(FrameType.message as 20, a, c), id, ts, doc),
          encodeAggregateEvent(eventPrefix(FrameType.aggregate as 19, a, c), version, doc),
          encodeFrames([ack]).subarray(1),
        ];
      });
    far.send(joinFrames(wire(true)));
    far.send(joinFrames(wire(false)));
    await until(() => log.length === 6 * cases.length);
    const expected = cases.flatMap(([a, c, id, ts, v], i) => {
      const doc = encodeValue(v);
      const json = JSON.stringify(decodeValue(doc));
      const version = [1, 0x80, 0x100, 0x10000, 2 ** 32 - 1][i % 5]!;
      const reqId = [1, 0xff, 0xffff, 0xffffffff][i % 4]!;
      const result = i % 2 ? { version, diff: doc, message: null } : [v];
      return [
        `message ${a}/${c} ${id} ${ts} ${doc.length} ${json}`,
        `aggregate ${a}/${c} v${version} ${json}`,
        `ack ${reqId} ${JSON.stringify(result)}`,
      ];
    });
    expect(log).toEqual([...expected, ...expected]);
  });

  it("reports a malformed message event and keeps the rest of the batch", async () => {
    const { far, log } = await pipe();
    const packr = new Packr({ useRecords: false });
    const ok = encodeMessageEvent(eventPrefix(FrameType.message as 20, "dev", "log"), "m1", 5, encodeValue(1));
    far.send(joinFrames([ok, packr.pack([FrameType.message, "dev", "log", "m2", 5, new Uint8Array(0)])])); // empty data
    far.send(joinFrames([ok, packr.pack([FrameType.message, "dev", "log", "m3", 1.5, encodeValue(2)])])); // ts not an integer
    far.send(joinFrames([ok, packr.pack([FrameType.message, "dev", "log", "m4", 5, encodeValue(3), 0])])); // 7 elements
    far.send(joinFrames([ok, ok]).subarray(0, 2 + ok.length)); // cut short
    await until(() => log.length === 7);
    expect(log).toEqual([
      "message dev/log m1 5 1 1",
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      "message dev/log m1 5 1 1",
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      "message dev/log m1 5 1 1",
      "reported malformed frame from the hub: TAGWIRE_ERR_PROTOCOL",
      "reported undecodable message from the hub: TAGWIRE_ERR_INCOMPLETE",
    ]);
  });
});
