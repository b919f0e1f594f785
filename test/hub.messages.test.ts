// The message log's small pieces on the hot path: the message id check, and the float64 header
// every event and message ack writes for its timestamp (hand-written, read back by msgpackr).
import { expect, test } from "vitest";
import { decodeValue } from "../bindings/protocol/msgpack.js";
import { uintSize, writeUint } from "../bindings/protocol/msgpack-bytes.js";
import { checkMessageId, ownBytes } from "../hub/messages.js";

test("checkMessageId: 1..128 printable characters, control characters and DEL refused", () => {
  for (const ok of [undefined, "a", "x".repeat(128), "client-1f-zz", "ünïcödé ok", "tab\u00a0nbsp"])
    expect(() => checkMessageId(ok)).not.toThrow();
  for (const bad of ["", "x".repeat(129), "a\u0000b", "line\n", "\u001f", "del\u007f", 42 as unknown as string]) {
    expect(() => checkMessageId(bad)).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
  }
});

test("writeUint: integers past 2^32 (timestamps) as float64 that msgpack readers decode exactly", () => {
  for (const n of [2 ** 32, Date.now(), 1_764_900_000_123, 2 ** 53 - 1, 4_102_444_800_000]) {
    const out = new Uint8Array(uintSize(n) + 3).fill(0xee);
    // At an odd offset inside a larger buffer, as in a frame.
    expect(writeUint(out, 1, n)).toBe(10);
    expect(out[0]).toBe(0xee);
    expect(out[1]).toBe(0xcb);
    expect(out[10]).toBe(0xee);
    expect(decodeValue(out.subarray(1, 10))).toBe(n);
  }
});

test("ownBytes: a plain array is copied (its caller may reuse it), a decoded Buffer kept as it is", () => {
  const plain = new Uint8Array([0x81, 0xa1, 0x61, 0x01]);
  const kept = ownBytes(plain);
  plain[3] = 0x02;
  expect([...kept]).toEqual([0x81, 0xa1, 0x61, 0x01]);
  const batch = Buffer.from([0x91, 0x81, 0xa1, 0x61, 0x01]);
  const view = batch.subarray(1);
  expect(ownBytes(view)).toBe(view);
});
