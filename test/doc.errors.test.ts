// Bad input gets a typed error and loses nothing: for every kind of bad frame the channel's
// aggregate and version are exactly as before, other channels are untouched, and the core keeps
// working. Each kind has its own code.
import { pack, unpack } from "msgpackr";
import { beforeEach, describe, expect, it } from "vitest";
import { createCore, TagwireError, type ChannelStore, type Core } from "../bindings/index.js";

// ---- a small msgpack writer that picks exact encodings ----
type Bytes = number[];
const cat = (...parts: Bytes[]): Uint8Array => Uint8Array.from(parts.flat());
const be = (v: bigint, n: number): Bytes => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * (n - 1 - i))) & 0xffn));
const utf8 = (s: string): Bytes => [...new TextEncoder().encode(s)];
function str(s: string): Bytes {
  const b = utf8(s);
  if (b.length < 32) return [0xa0 | b.length, ...b];
  if (b.length < 256) return [0xd9, b.length, ...b];
  return [0xda, ...be(BigInt(b.length), 2), ...b];
}
const map = (n: number): Bytes => (n < 16 ? [0x80 | n] : [0xde, ...be(BigInt(n), 2)]);
const arr = (n: number): Bytes => (n < 16 ? [0x90 | n] : [0xdc, ...be(BigInt(n), 2)]);
const f32 = (v: number): Bytes => {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, v);
  return [0xca, ...new Uint8Array(dv.buffer)];
};
const f64 = (v: number): Bytes => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return [0xcb, ...new Uint8Array(dv.buffer)];
};

/** A frame using every encoding the core accepts (one key per kind). */
function richFrame(): Uint8Array {
  const entries: Bytes[] = [
    [...str("a"), 0x02], // changes an existing scalar (written during the plan, undone on error)
    [...str("nested"), ...map(1), ...str("x"), ...map(2), ...str("y"), 0x05, ...str("z"), 0xc0],
    [...str("arr"), ...arr(3), 0x01, ...str("x"), ...arr(2), 0x02, ...map(1), ...str("k"), ...str("v")],
    [...str("s"), ...str("hello, a longer string")],
    [...str("f32"), ...f32(1.5)],
    [...str("f64"), ...f64(-2.25)],
    [...str("u8"), 0xcc, 200],
    [...str("u16"), 0xcd, ...be(60000n, 2)],
    [...str("u32"), 0xce, ...be(4000000000n, 4)],
    [...str("u64"), 0xcf, ...be(2n ** 63n + 5n, 8)],
    [...str("i8"), 0xd0, ...be(BigInt.asUintN(8, -100n), 1)],
    [...str("i16"), 0xd1, ...be(BigInt.asUintN(16, -30000n), 2)],
    [...str("i32"), 0xd2, ...be(BigInt.asUintN(32, -2000000000n), 4)],
    [...str("i64"), 0xd3, ...be(BigInt.asUintN(64, -(2n ** 40n)), 8)],
    [...str("neg"), 0xe0],
    [...str("nil"), 0xc0],
    [...str("t"), 0xc3],
    [...str("f"), 0xc2],
    [...str("str8"), ...str("x".repeat(40))],
    [...str("str16"), ...str("y".repeat(300))],
    [...str("m16"), ...map(20), ...Array.from({ length: 20 }, (_, i) => [...str(`k${i}`), i]).flat()],
    [...str("a16"), ...arr(20), ...Array.from({ length: 20 }, (_, i) => i)],
    [...str("a32"), 0xdd, ...be(2n, 4), 0x01, 0x02],
    [...str("m32"), 0xdf, ...be(1n, 4), ...str("q"), 0x01],
    [...str("s32"), 0xdb, ...be(3n, 4), ...utf8("abc")],
  ];
  return cat(map(entries.length), ...entries);
}

let core: Core;
let store: ChannelStore;
let victim: number;
let bystander: number;

const initialVictim = { a: 1, nested: { x: { y: 0, w: 1 } }, arr: [1], keep: "me" };

beforeEach(async () => {
  core = await createCore();
  store = core.createChannelStore();
  victim = store.open("test/victim");
  bystander = store.open("test/bystander");
  store.applyValue(victim, initialVictim);
  store.applyValue(bystander, { other: true });
});

function snapshot() {
  return {
    victim: store.get(victim),
    victimVersion: store.version(victim),
    bystander: store.get(bystander),
    bystanderVersion: store.version(bystander),
  };
}

/** Runs `fn`, expects a TagwireError with `code`, and checks nothing changed and all still works. */
function expectRejected(fn: () => unknown, code: string, incomplete = false): void {
  const before = snapshot();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(TagwireError);
  expect((error as TagwireError).code).toBe(code);
  expect((error as TagwireError).incomplete).toBe(incomplete);
  expect(snapshot()).toEqual(before);
  expect(core.instance.dead).toBeUndefined();
}

function stillWorks(): void {
  const v = store.version(victim);
  const r = store.applyValue(victim, { after: "error" });
  expect(r.changed).toBe(true);
  expect(r.version).toBe(v + 1);
  expect(store.getValue(victim)).toMatchObject({ after: "error", a: 1 });
}

describe("truncated frames", () => {
  it("every cut of a valid frame is TAGWIRE_ERR_INCOMPLETE, merged or replaced", () => {
    const frame = richFrame();
    for (const replace of [false, true]) {
      for (let cut = 0; cut < frame.length; cut++) {
        expectRejected(() => store.apply(victim, frame.subarray(0, cut), { replace }), "TAGWIRE_ERR_INCOMPLETE", true);
      }
    }
    stillWorks();
    // and the whole frame is accepted
    const r = store.apply(victim, frame);
    expect(r.changed).toBe(true);
    const agg = store.getValue(victim) as Record<string, unknown>;
    expect(agg.a).toBe(2);
    expect(agg.u64).toBe(2n ** 63n + 5n); // beyond 2^53: a BigInt, exact
    expect(agg.i64).toBe(-(2 ** 40));
    expect((unpack(store.get(victim)) as Record<string, unknown>).u64).toBe(2n ** 63n + 5n);
    expect(agg.f32).toBe(1.5);
    expect(agg.nested).toEqual({ x: { y: 5, w: 1 } }); // z: null removed (doDelete)
    expect(agg.keep).toBe("me");
  });

  it("an error after earlier keys changed rolls those back", () => {
    // "a" and "keep" change first, then the frame breaks
    const bad = cat(map(3), str("a"), [0x07], str("keep"), str("other"), str("b"), [0xc1]);
    expectRejected(() => store.apply(victim, bad), "TAGWIRE_ERR_MSGPACK");
    expect(store.getValue(victim)).toEqual(initialVictim);
  });
});

describe("malformed frames", () => {
  const cases: [string, Uint8Array][] = [
    ["reserved byte 0xc1", Uint8Array.of(0xc1)],
    ["0xc1 as a value", cat(map(1), str("a"), [0xc1])],
    ["bin 8", cat(map(1), str("a"), [0xc4, 0x01, 0x00])],
    ["bin 16", cat(map(1), str("a"), [0xc5, 0x00, 0x01, 0x00])],
    ["ext 8", cat(map(1), str("a"), [0xc7, 0x01, 0x05, 0x00])],
    ["fixext (msgpackr's undefined)", cat(map(1), str("a"), [0xd4, 0x00, 0x00])],
    ["timestamp ext", cat(map(1), str("a"), [0xd6, 0xff, 0, 0, 0, 1])],
    ["bytes after the value", cat(map(1), str("a"), [0x01, 0x00])],
    ["integer key", cat(map(1), [0x01, 0x01])],
    ["nil key", cat(map(1), [0xc0, 0x01])],
    ["array key", cat(map(1), arr(0), [0x01])],
    ["integer key, nested under a new key", cat(map(1), str("new"), map(1), [0x05, 0x01])],
    ["integer key, nested under an existing map", cat(map(1), str("nested"), map(1), [0x05, 0x01])],
    ["integer key inside an array", cat(map(1), str("z"), arr(1), map(1), [0x05, 0x01])],
    ["duplicate new key", cat(map(2), str("n"), [0x01], str("n"), [0x02])],
    ["duplicate existing key", cat(map(2), str("a"), [0x01], str("a"), [0x02])],
    ["duplicate existing key, nested", cat(map(1), str("nested"), map(1), str("x"), map(2), str("y"), [0x01], str("y"), [0x02])],
    ["duplicate key in a new subtree", cat(map(1), str("new"), map(2), str("q"), [0x01], str("q"), [0x01])],
    ["duplicate key inside an array", cat(map(1), str("z"), arr(1), map(2), str("q"), [0x01], str("q"), [0x01])],
  ];
  it.each(cases)("%s -> TAGWIRE_ERR_MSGPACK", (_name, bytes) => {
    expectRejected(() => store.apply(victim, bytes), "TAGWIRE_ERR_MSGPACK");
    expectRejected(() => store.apply(victim, bytes, { replace: true }), "TAGWIRE_ERR_MSGPACK");
    stillWorks();
  });

  it("the codec rejects JS values with no JSON equivalent", () => {
    for (const bad of [new Map<unknown, unknown>([[1, 2]]), { b: new Uint8Array(2) }, { d: new Date(0) }, { u: undefined }]) {
      expect(() => core.applyDiff({}, bad)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
      expect(() => core.generateDiff({}, bad)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
      expect(core.validatePayload(bad)).toBe(false);
      expectRejected(() => store.applyValue(victim, bad), "TAGWIRE_ERR_MSGPACK");
    }
    expect(core.applyDiff({ a: 1 }, { b: 2 })).toEqual({ a: 1, b: 2 });
  });
});

function nested(depth: number, leaf: unknown = 1, kind: "map" | "array" = "map"): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = kind === "map" ? { d: v } : [v];
  return v;
}

describe("nesting depth", () => {
  it("64 levels pass and 65 fail with the default limit", () => {
    // depth counts containers: the top-level map is level 1
    const ok = nested(64) as object;
    const tooDeep = nested(65) as object;
    expect(store.applyValue(victim, ok).changed).toBe(true);
    store.applyValue(victim, { d: null });
    expectRejected(() => store.applyValue(victim, tooDeep), "TAGWIRE_ERR_DEPTH");
    expectRejected(() => store.applyValue(victim, { x: nested(64, 1, "array") }), "TAGWIRE_ERR_DEPTH");
    expect(store.applyValue(victim, { x: nested(63, 1, "array") }).changed).toBe(true);
    // the codec enforces the same default
    expect(core.applyDiff({}, ok)).toEqual(ok);
    expect(() => core.applyDiff({}, tooDeep)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
    expect(() => core.generateDiff(tooDeep, {})).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
    stillWorks();
  });

  it("honours a configured limit, also deep inside an existing subtree", async () => {
    const s = core.createChannelStore({ maxDepth: 4 });
    const c = s.open("deep");
    s.applyValue(c, nested(4) as object);
    const before = s.get(c);
    for (const diff of [nested(5), { d: { d: { d: { d: { e: 1 } } } } }, { d: { d: { d: [[1]] } } }]) {
      expect(() => s.applyValue(c, diff)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
      expect(() => s.applyValue(c, diff, { replace: true })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
      expect(s.get(c)).toEqual(before);
      expect(s.version(c)).toBe(1);
    }
    expect(s.applyValue(c, { d: { d: { d: { d: 2 } } } }).changed).toBe(true);
    const limited = await createCore({ maxDepth: 3 });
    expect(limited.applyDiff({}, nested(3))).toEqual(nested(3));
    expect(() => limited.applyDiff({}, nested(4))).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
  });
});

describe("payload size", () => {
  it("rejects a payload over the configured limit, in the binding and in the core", () => {
    const s = core.createChannelStore({ maxPayloadBytes: 100 });
    const c = s.open("small");
    const sized = (n: number) => {
      let len = 0;
      while (pack({ k: "x".repeat(len) }).length < n) len++;
      return pack({ k: "x".repeat(len) });
    };
    const fits = sized(100);
    expect(fits.length).toBe(100);
    expect(s.apply(c, fits).changed).toBe(true);
    const over = sized(101);
    expect(over.length).toBe(101);
    const before = s.get(c);
    expect(() => s.apply(c, over)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_SIZE" }));
    // the core re-checks what the binding checked
    const ex = core.instance.exports;
    core.instance.writeIn(over);
    const handle = (s as unknown as { handle: number }).handle;
    expect(ex.storeApply(handle, c, over.length, 1, 0)).toBe(4 /* ERR_SIZE */);
    expect(s.get(c)).toEqual(before);
    expect(s.version(c)).toBe(1);
  });

  it("defaults to 1 MiB", async () => {
    const big = pack({ k: "z".repeat(1024 * 1024) });
    expectRejected(() => store.apply(victim, big), "TAGWIRE_ERR_SIZE");
    const limited = await createCore({ maxPayloadBytes: 64 });
    expect(() => limited.applyDiff({}, { k: "q".repeat(64) })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_SIZE" }));
    expect(limited.applyDiff({}, { k: "q" })).toEqual({ k: "q" });
  });

  it("rejects nonsense limits", () => {
    expect(() => core.createChannelStore({ maxDepth: 0 })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    expect(() => core.createChannelStore({ maxPayloadBytes: -1 })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
  });
});

describe("channel names", () => {
  const bad = ["", "/", "a/", "/a", "a//b", "a b", "a+b", "a#", "ä", "a\u0000", "x".repeat(256), "a/" + "b".repeat(254)];
  const good = ["a", "sensors/temperature/indoor", "tag_values", "a.b:c-d_E9", "x".repeat(255), "a/b/c/d/e/f"];

  it.each(bad.map((n) => [JSON.stringify(n).slice(0, 40), n]))("rejects %s", (_label, name) => {
    expectRejected(() => store.open(name), "TAGWIRE_ERR_NAME");
    expect(store.slotOf(name)).toBeUndefined();
    // the core checks too
    const len = core.instance.writeInString(name);
    expect(core.instance.exports.storeOpen((store as unknown as { handle: number }).handle, len)).toBe(-5 /* ERR_NAME */);
  });

  it("accepts valid names", () => {
    for (const name of good) {
      const slot = store.open(name);
      expect(store.slotOf(name)).toBe(slot);
      expect(store.version(name)).toBe(0);
    }
    expect(store.names()).toEqual(expect.arrayContaining(good));
    stillWorks();
  });
});

describe("unknown channels", () => {
  it("apply, get and version on a removed or unknown slot are TAGWIRE_ERR_NOT_FOUND", () => {
    const slot = store.open("gone");
    store.remove(slot);
    expectRejected(() => store.apply(slot, pack({ a: 1 })), "TAGWIRE_ERR_NOT_FOUND");
    expectRejected(() => store.get(slot), "TAGWIRE_ERR_NOT_FOUND");
    expectRejected(() => store.version(slot), "TAGWIRE_ERR_NOT_FOUND");
    expectRejected(() => store.apply(9999, pack({ a: 1 })), "TAGWIRE_ERR_NOT_FOUND");
    expectRejected(() => store.apply("never/opened", pack({ a: 1 })), "TAGWIRE_ERR_NOT_FOUND");
    expect(store.remove("never/opened")).toBe(false);
    stillWorks();
  });

  it("a disposed store refuses work", () => {
    store.dispose();
    expect(() => store.apply(victim, pack({ a: 1 }))).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
    expect(() => store.open("x")).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
  });
});
