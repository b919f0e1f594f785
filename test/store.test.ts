// ChannelStore: versions, effective diffs, replace / replaceKeys, removal and reuse, flat memory
// under overwrite-heavy traffic, and a seeded random comparison with a plain-TS reference model.
import { pack, unpack } from "msgpackr";
import { beforeEach, describe, expect, it } from "vitest";
import { createCore, type ChannelStore, type Core } from "../bindings/index.js";
import { seededRandom } from "./support/seed.js";
import { packr, unpackr } from "../bindings/core/doc.js";
import { packSimple } from "../bindings/sdk/msgpack-simple.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---- the reference model: pydoover's apply_diff and strict value equality, in plain TS ----

function refApply(data: Json, diff: Json, doDelete: boolean): Json {
  if (!isObject(diff) || !isObject(data)) return structuredClone(diff);
  const out: Record<string, Json> = { ...data };
  for (const [k, v] of Object.entries(diff)) {
    if (isObject(v)) out[k] = refApply(k in out ? out[k]! : {}, v, doDelete);
    else if (v === null) {
      if (doDelete) delete out[k];
      else out[k] = null;
    } else out[k] = structuredClone(v);
  }
  return out;
}

/** refApply, except that listed top-level keys with a non-null value are replaced, not merged. */
function refApplyReplacing(data: Json, diff: Json, doDelete: boolean, replaceKeys: string[]): Json {
  if (!isObject(diff) || !isObject(data) || replaceKeys.length === 0) return refApply(data, diff, doDelete);
  const merged: Record<string, Json> = {};
  const replaced: Record<string, Json> = {};
  for (const [k, v] of Object.entries(diff)) {
    if (replaceKeys.includes(k) && v !== null) replaced[k] = v;
    else merged[k] = v;
  }
  return { ...(refApply(data, merged, doDelete) as Record<string, Json>), ...structuredClone(replaced) };
}

/** Numbers by value (1 === 1.0 in JS anyway), booleans apart from numbers; NaN equals NaN. */
function refEqual(a: Json, b: Json): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => refEqual(x, b[i]!));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && refEqual(a[k]!, b[k]!));
  }
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

let core: Core;
let store: ChannelStore;
beforeEach(async () => {
  core = await createCore();
  store = core.createChannelStore();
});

describe("channels", () => {
  it("open is idempotent and starts at {} version 0", () => {
    const a = store.open("agent/a");
    expect(store.open("agent/a")).toBe(a);
    const b = store.open("agent/b");
    expect(b).not.toBe(a);
    expect(store.slotOf("agent/a")).toBe(a);
    expect(store.slotOf("agent/none")).toBeUndefined();
    expect(store.version(a)).toBe(0);
    expect(store.get(a)).toEqual(Uint8Array.of(0x80));
    expect(store.getValue("agent/b")).toEqual({});
    expect(store.size).toBe(2);
    expect(store.names().sort()).toEqual(["agent/a", "agent/b"]);
  });

  it("a second store object sees the same channel through the core", () => {
    const a = store.open("shared/x");
    store.applyValue(a, { v: 1 });
    const other = core.createChannelStore();
    expect(other.slotOf("shared/x")).toBeUndefined(); // stores are separate
    other.dispose();
  });
});

describe("packing a value into the input region (packSimple, applyValueViewWith)", () => {
  /** packSimple's bytes as hex, or undefined when it leaves the value to msgpackr. */
  const simple = (value: unknown, room = 1 << 16): string | undefined => {
    const region = new Uint8Array(room);
    const len = packSimple(value, region);
    return len < 0 ? undefined : Buffer.from(region.subarray(0, len)).toString("hex");
  };
  const msgpackr = (value: unknown): string => Buffer.from(packr.pack(value)).toString("hex");

  it("writes msgpackr's bytes for telemetry values", () => {
    const fifty: Record<string, number> = {};
    for (let i = 0; i < 50; i++) fifty[`tag_${i}`] = i % 3 === 0 ? i : i * 0.5 - 7;
    const values: unknown[] = [
      {},
      { a: 1 },
      {
        app: { tag_0: 1.5, tag_1: -3, tag_2: 300, t: 70000, u: -200, v: -40000, w: -3e9, x: 5e9, y: Number.NaN, z: -0, i: Infinity },
        s: "hi",
        b: true,
        f: false,
        n: null,
      },
      Object.fromEntries(
        [127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1].map(
          (v, i) => [`e${i}`, v],
        ),
      ),
      { app: fifty },
      { [`k${"x".repeat(40)}`]: "y".repeat(31), short: "y".repeat(32), long: "z".repeat(255) },
      "top-level string",
      42,
      -1.25,
      null,
      true,
    ];
    // Map sizes at the header boundaries (fixmap, map 16).
    for (const n of [15, 16, 17]) values.push(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    for (const v of values) expect(simple(v), JSON.stringify(v)).toBe(msgpackr(v));
  });

  it("leaves every other value to msgpackr", () => {
    const others: unknown[] = [
      { nest: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }, // deeper than it goes
      { long: "z".repeat(256) },
      { e: "é" },
      { ключ: 1 },
      { arr: [1, 2] },
      { bin: new Uint8Array([1, 2]) },
      { big: 2n ** 70n },
      { u: undefined },
      Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
      Object.assign(Object.create(null), { bare: 3 }),
      new Map([["m", 1]]),
      new Date(0),
    ];
    for (const [i, v] of others.entries()) expect(simple(v), `value ${i}`).toBeUndefined();
    expect(simple({ a: 1.5, b: "x" }, 12)).toBeUndefined(); // no room
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 1; // for-in would list it; Object.keys (msgpackr's) does not
    try {
      expect(simple({ a: 1 })).toBeUndefined();
    } finally {
      delete proto.polluted;
    }
  });

  it("applyValueViewWith stores what the packer writes, and what msgpackr packs when it declines", () => {
    const slot = store.open("pack/simple");
    let view = store.applyValueViewWith(slot, { app: { t: 21.5, n: -3, ok: true, s: "on", none: null } }, packSimple);
    expect(view.changed).toBe(true);
    expect(unpack(view.diff)).toEqual({ app: { t: 21.5, n: -3, ok: true, s: "on" } });
    view = store.applyValueViewWith(slot, { app: { list: [1, 2], t: 21.5 } }, packSimple);
    expect(unpack(view.diff)).toEqual({ app: { list: [1, 2] } });
    expect(store.getValue(slot)).toEqual({ app: { t: 21.5, n: -3, ok: true, s: "on", list: [1, 2] } });
    expect(store.version(slot)).toBe(2);
  });
});

describe("versions and effective diffs", () => {
  it("rise only on real change; the effective diff is {} when nothing changed", () => {
    const c = store.open("v");
    const steps: [Json, boolean, Json][] = [
      [{ a: 1, b: "x" }, true, { a: 1, b: "x" }],
      [{ a: 1 }, false, {}],
      [{ a: 1.0 }, false, {}], // same number
      [{ b: "x", a: 1 }, false, {}],
      [{ a: true }, true, { a: true }], // a boolean is not the number 1 in a merge
      [{ a: true }, false, {}],
      [{ zz: null }, false, {}], // removing what is not there
      [{ a: null }, true, { a: null }],
      [{ n: { x: 1 } }, true, { n: { x: 1 } }],
      [{ n: { x: 1, y: null } }, false, {}],
      [{ n: { x: 2, y: 3 } }, true, { n: { x: 2, y: 3 } }],
      [{ n: { x: 2, y: 3, z: {} } }, true, { n: { z: {} } }],
      [{ n: { z: {} } }, false, {}],
      [{ l: [1, 2, { q: 1 }] }, true, { l: [1, 2, { q: 1 }] }],
      [{ l: [1, 2, { q: 1.0 }] }, false, {}],
      [{ l: [1, 2] }, true, { l: [1, 2] }],
      [{ s: "a long string value over eight bytes" }, true, { s: "a long string value over eight bytes" }],
      [{ s: "a long string value over eight bytes" }, false, {}],
    ];
    let version = 0;
    for (const [diff, changed, effective] of steps) {
      const bytes = pack(diff);
      const r = store.apply(c, bytes);
      expect({ diff, changed: r.changed }).toEqual({ diff, changed });
      if (changed) version++;
      expect(r.version).toBe(version);
      expect(store.version(c)).toBe(version);
      if (!changed) expect([...r.diff]).toEqual([0x80]);
      expect(unpack(r.diff)).toEqual(effective);
    }
    expect(store.getValue(c)).toEqual({
      b: "x",
      n: { x: 2, y: 3, z: {} },
      l: [1, 2],
      s: "a long string value over eight bytes",
    });
  });

  it("applyView gives apply's result in place, in one reused object", () => {
    const a = store.open("view/a");
    const other = core.createChannelStore();
    const r1 = store.applyView(a, pack({ x: 1, y: { z: 2 } }));
    expect({ version: r1.version, changed: r1.changed }).toEqual({ version: 1, changed: true });
    expect(unpack(r1.diff)).toEqual({ x: 1, y: { z: 2 } });
    expect(unpack(r1.bytes.subarray(r1.diffStart, r1.diffStart + r1.diffLength))).toEqual({ x: 1, y: { z: 2 } });
    const r2 = store.applyView(a, pack({ x: 1 }));
    expect(r2).toBe(r1);
    expect({ version: r2.version, changed: r2.changed, diff: [...r2.diff] }).toEqual({ version: 1, changed: false, diff: [0x80] });
    // Same answers as apply on a twin channel in another store, through a sequence of changes.
    const c = store.open("view/c");
    const b = other.open("view/d");
    for (let i = 0; i < 200; i++) {
      const d = pack({ [`k${i % 7}`]: i % 3 === 0 ? null : i, n: { [`m${i % 5}`]: i % 4 } });
      const copy = other.apply(b, d);
      const view = store.applyView(c, d);
      expect({ version: view.version, changed: view.changed, diff: [...view.diff] }).toEqual({
        version: copy.version,
        changed: copy.changed,
        diff: [...copy.diff],
      });
    }
  });

  it("with doDelete false, null is stored and is itself a value", () => {
    const c = store.open("nd");
    store.applyValue(c, { a: 1, m: { k: 1 } });
    const r = store.applyValue(c, { a: null, m: { k: null, j: null } }, { doDelete: false });
    expect(r.changed).toBe(true);
    expect(r.diff).toEqual({ a: null, m: { k: null, j: null } });
    expect(store.getValue(c)).toEqual({ a: null, m: { k: null, j: null } });
    expect(store.applyValue(c, { a: null }, { doDelete: false }).changed).toBe(false);
    expect(store.applyValue(c, { a: null }).changed).toBe(true); // now removed
    expect(store.getValue(c)).toEqual({ m: { k: null, j: null } });
  });

  it("a map merged onto a scalar replaces it whole, nulls included (pydoover)", () => {
    const c = store.open("ms");
    store.applyValue(c, { a: 5 });
    const r = store.applyValue(c, { a: { x: null, y: 1 } });
    expect(r.diff).toEqual({ a: { x: null, y: 1 } });
    expect(store.getValue(c)).toEqual({ a: { x: null, y: 1 } });
  });

  it("keeps int64 values exact", () => {
    const c = store.open("big");
    const big = 2n ** 62n + 1n;
    store.applyValue(c, { big, neg: -big, u: 2n ** 64n - 1n });
    expect(store.getValue(c)).toEqual({ big, neg: -big, u: 2n ** 64n - 1n });
    expect(store.applyValue(c, { big }).changed).toBe(false);
    expect(store.applyValue(c, { big: big + 1n }).changed).toBe(true);
  });
});

describe("replace and replaceKeys", () => {
  it("replace makes the aggregate exactly the new value; the diff is generate_diff(old, new)", () => {
    const c = store.open("r");
    store.applyValue(c, { a: 1, b: { x: 1, y: 2 }, c: "keep?", t: true });
    const r = store.applyValue(c, { a: 1, b: { x: 1, z: 3 }, t: 1 }, { replace: true });
    expect(r.changed).toBe(true);
    expect(r.diff).toEqual({ b: { y: null, z: 3 }, c: null }); // t: true == 1 for generate_diff
    expect(store.getValue(c)).toEqual({ a: 1, b: { x: 1, z: 3 }, t: 1 });
    const same = store.applyValue(c, { a: 1, b: { x: 1, z: 3 }, t: 1 }, { replace: true });
    expect(same.changed).toBe(false);
    expect(same.diff).toEqual({});
    expect(same.version).toBe(r.version);
    // without doDelete the dropped keys go, but the diff does not list them (pydoover)
    const nd = store.applyValue(c, { a: 2 }, { replace: true, doDelete: false });
    expect(nd.diff).toEqual({ a: 2 });
    expect(store.getValue(c)).toEqual({ a: 2 });
  });

  it("replaceKeys replaces the listed top-level subtrees and merges the rest", () => {
    const c = store.open("rk");
    store.applyValue(c, { cfg: { x: 0, y: 2 }, ui: { p: 1, q: 2 }, other: 1 });
    const r = store.applyValue(c, { cfg: { x: 1 }, ui: { p: 5 } }, { replaceKeys: ["cfg", "absent"] });
    expect(r.changed).toBe(true);
    expect(r.diff).toEqual({ cfg: { x: 1, y: null }, ui: { p: 5 } });
    expect(store.getValue(c)).toEqual({ cfg: { x: 1 }, ui: { p: 5, q: 2 }, other: 1 });
    // a null under a listed key still removes it
    store.applyValue(c, { cfg: null }, { replaceKeys: ["cfg"] });
    expect(store.getValue(c)).toEqual({ ui: { p: 5, q: 2 }, other: 1 });
    // and the same subtree again is no change
    store.applyValue(c, { ui: { p: 5, q: 2 } }, { replaceKeys: ["ui"] });
    expect(store.applyValue(c, { ui: { p: 5, q: 2 } }, { replaceKeys: ["ui"] }).changed).toBe(false);
  });

  it("a non-object diff replaces the aggregate whole (apply_diff returns it)", () => {
    const c = store.open("scalar");
    store.applyValue(c, { a: 1 });
    expect(store.applyValue(c, 42).diff).toBe(42);
    expect(store.getValue(c)).toBe(42);
    expect(store.applyValue(c, 42).changed).toBe(false);
    expect(store.applyValue(c, { b: null, c: 1 }).diff).toEqual({ b: null, c: 1 });
    expect(store.getValue(c)).toEqual({ b: null, c: 1 });
  });
});

describe("removal", () => {
  it("frees a channel and reuses its slot and memory", () => {
    const mem = core.instance.exports.memory;
    const big: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) big[`key_${i}`] = `value number ${i} with some padding`;
    const payload = pack(big);
    // warm up: fill and remove once so the heap has grown to its working size
    for (let round = 0; round < 3; round++) {
      const slots = Array.from({ length: 10 }, (_, i) => store.open(`bulk/${round}/${i}`));
      for (const s of slots) store.apply(s, payload);
      for (const s of slots) expect(store.remove(s)).toBe(true);
    }
    const settled = mem.buffer.byteLength;
    for (let round = 3; round < 15; round++) {
      const slots = Array.from({ length: 10 }, (_, i) => store.open(`bulk/${round}/${i}`));
      expect(Math.max(...slots)).toBeLessThan(10 + 2); // freed slots are handed out again
      for (const s of slots) store.apply(s, payload);
      for (const s of slots) store.remove(`bulk/${round}/${slots.indexOf(s)}`);
    }
    expect(mem.buffer.byteLength).toBe(settled);
    expect(store.size).toBe(0);
    const again = store.open("bulk/0/0");
    expect(store.getValue(again)).toEqual({});
    expect(store.version(again)).toBe(0);
  });
});

describe("memory stays flat", () => {
  it("overwriting the same 50 keys a million times does not grow linear memory", () => {
    const c = store.open("telemetry/flat");
    const keys = Array.from({ length: 50 }, (_, i) => `sensor_${i}`);
    // Rotating diffs: numbers, short and long strings, a nested map and an array change each
    // time, so values are freed and allocated on every apply.
    const diffs = Array.from({ length: 1000 }, (_, i) => {
      const d: Record<string, Json> = {};
      for (let j = 0; j < 5; j++) {
        const k = keys[(i * 5 + j) % 50]!;
        const kind = (i + j) % 5;
        d[k] =
          kind === 0
            ? i * 0.5 + j
            : kind === 1
              ? `s${i}`
              : kind === 2
                ? `a longer string that lives in its own block ${i}`
                : kind === 3
                  ? { reading: i, unit: "C", history: [i, i + 1, i + 2] }
                  : [i, `x${j}`, { deep: i }];
      }
      if (i % 10 === 0) d[keys[(i + 7) % 50]!] = null; // and a delete now and then
      return pack(d);
    });
    const mem = core.instance.exports.memory;
    const N = 1_000_000;
    const WARMUP = 20_000;
    let settled = 0;
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      store.apply(c, diffs[i % 1000]!);
      if (i === WARMUP) settled = mem.buffer.byteLength;
    }
    console.log(`1M overwrites in ${Date.now() - t0} ms; memory ${settled} -> ${mem.buffer.byteLength} bytes`);
    expect(mem.buffer.byteLength).toBe(settled);
    expect(Object.keys(store.getValue(c) as object).length).toBeLessThanOrEqual(50);
  }, 60_000);
});

describe("map layout (open addressing, order cells, tombstones)", () => {
  it("keeps keys of every length, insertion order and flat memory through delete and re-insert churn", () => {
    const rand = seededRandom("store map-churn");
    const int = (n: number) => Math.floor(rand() * n);
    // Key lengths around the layout's edges: empty, inline (<= 8 bytes), out of line, and the
    // 255-byte boundary of the length kept in the hash word; UTF-8 too. None looks like an array
    // index, so a JS object keeps their insertion order as the Map model does.
    const special = ["", "a", "abcdefgh", "abcdefghi", "é".repeat(4), "x".repeat(40), "y".repeat(254), "z".repeat(255), "w".repeat(300)];
    const pool = [...special, ...Array.from({ length: 200 }, (_, i) => `k${i}_${"q".repeat(i % 12)}`)];
    const c = store.open("layout/churn");
    const model = new Map<string, number>();
    const mem = core.instance.exports.memory;
    let settled = 0;
    for (let step = 0; step < 3000; step++) {
      const diff: Record<string, Json> = {};
      const n = 1 + int(12);
      for (let i = 0; i < n; i++) {
        const k = pool[int(pool.length)]!;
        diff[k] = rand() < 0.35 ? null : step * 100 + i;
      }
      store.apply(c, pack(diff));
      for (const [k, v] of Object.entries(diff)) {
        if (v === null) model.delete(k);
        else if (model.has(k)) model.set(k, v as number);
        else model.set(k, v as number);
      }
      if (step % 50 === 0 || step === 2999) {
        const got = store.getValue(c) as Record<string, Json>;
        expect({ step, keys: Object.keys(got) }).toEqual({ step, keys: [...model.keys()] });
        expect({ step, got }).toEqual({ step, got: Object.fromEntries(model) });
      }
      if (step === 1000) settled = mem.buffer.byteLength;
    }
    // Every key deleted and put back, over and over: tombstones are dropped by rebuilds.
    for (let round = 0; round < 200; round++) {
      store.apply(c, pack(Object.fromEntries(pool.map((k) => [k, null]))));
      expect(store.getValue(c)).toEqual({});
      store.apply(c, pack(Object.fromEntries(pool.map((k, i) => [k, round + i]))));
    }
    expect(Object.keys(store.getValue(c) as object)).toEqual(pool);
    expect(mem.buffer.byteLength).toBe(settled);
    // A replace updates surviving keys where they are (as before this layout), drops the rest and
    // appends new ones.
    const next: Record<string, Json> = Object.fromEntries(
      [...pool]
        .reverse()
        .slice(0, 50)
        .map((k, i) => [k, i]),
    );
    next["fresh key"] = 1;
    store.apply(c, pack(next), { replace: true });
    expect(Object.keys(store.getValue(c) as object)).toEqual([...pool.filter((k) => k in next), "fresh key"]);
    // A duplicate key of every length is still refused, and the aggregate is left as it was.
    for (const k of special) {
      const dup = new Uint8Array([0x82, ...pack(k), 0x01, ...pack(k), 0x02]);
      expect(() => store.apply(c, dup)).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
    }
    expect(store.getValue(c)).toEqual(next);
  }, 60_000);
});

describe("epoch wrap-around", () => {
  it("clears stale marks so no valid frame looks like a duplicate key", () => {
    const ex = core.instance.exports;
    const c = store.open("wrap");
    const all: Record<string, number> = {};
    for (let i = 0; i < 20; i++) all[`k${i}`] = i;
    store.applyValue(c, all);
    ex.docSetEpoch(0);
    // Each apply visits (marks) one existing key with the then-current epoch (1, 2, 3, ...).
    for (let i = 0; i < 20; i++) store.applyValue(c, { [`k${i}`]: i });
    // Wrap the epoch with applies elsewhere, leaving the marks above untouched.
    ex.docSetEpoch(0xffffffff - 3);
    const elsewhere = store.open("wrap/elsewhere");
    for (let i = 0; i < 5; i++) store.applyValue(elsewhere, { i });
    for (let round = 0; round < 30; round++) {
      // touches every key; after the wrap the epoch runs through 1.. again
      const r = store.applyValue(c, { ...all, round }, { replace: true });
      expect(r.changed).toBe(true);
      expect(store.getValue(c)).toEqual({ ...all, round });
    }
  });
});

describe("against the reference model (seeded random)", () => {
  it("merges and replaces like apply_diff, with versions and effective diffs to match", () => {
    const rand = seededRandom("store reference-model");
    const int = (n: number) => Math.floor(rand() * n);
    const keys = ["a", "b", "c", "d", "temperature", "status_message"];
    const scalar = (): Json => {
      switch (int(9)) {
        case 0:
          return null;
        case 1:
          return rand() < 0.5;
        case 2:
          return int(5);
        case 3:
          return int(5) + 0.5;
        case 4:
          return -int(100000);
        case 5:
          return int(2 ** 31) * 4; // beyond 32 bits
        case 6:
          return ["ok", "on", ""][int(3)]!;
        case 7:
          return "a string longer than eight bytes " + int(4);
        default:
          return int(2) === 0 ? 1 : 1.0;
      }
    };
    const value = (depth: number): Json => {
      const r = rand();
      if (depth < 3 && r < 0.25) return obj(depth + 1);
      if (depth < 3 && r < 0.35) return Array.from({ length: int(4) }, () => value(depth + 1));
      return scalar();
    };
    const obj = (depth: number): Record<string, Json> => {
      const o: Record<string, Json> = {};
      const n = int(4);
      for (let i = 0; i < n; i++) o[keys[int(keys.length)]!] = value(depth);
      return o;
    };

    const channels = Array.from({ length: 3 }, (_, i) => ({ slot: store.open(`rand/${i}`), ref: {} as Json, version: 0 }));
    for (let step = 0; step < 5000; step++) {
      const ch = channels[int(channels.length)]!;
      const doDelete = rand() < 0.8;
      const replace = rand() < 0.15;
      const diff: Json = rand() < 0.97 ? obj(0) : scalar();
      const replaceKeys = !replace && rand() < 0.2 ? [keys[int(keys.length)]!, keys[int(keys.length)]!] : undefined;
      const before = ch.ref;
      const after = replace ? structuredClone(diff) : refApplyReplacing(before, diff, doDelete, replaceKeys ?? []);
      const r = store.apply(ch.slot, pack(diff), { doDelete, replace, replaceKeys });
      const changed = !refEqual(before, after);
      const ctx = { step, diff, doDelete, replace, replaceKeys, before };
      expect({ ...ctx, changed: r.changed }).toEqual({ ...ctx, changed });
      if (changed) ch.version++;
      expect(r.version).toBe(ch.version);
      const got = store.getValue(ch.slot) as Json;
      expect({ ...ctx, got }).toEqual({ ...ctx, got: after });
      const effective = unpack(r.diff) as Json;
      if (!changed) expect(effective).toEqual({});
      else if (replaceKeys) {
        // replaced keys carry generate_diff's view of their change, merged keys the change itself
      } else if (!replace) {
        // the effective diff carries the whole change: applying it to the old state gives the new
        expect({ ...ctx, replay: refApply(before, effective, doDelete) }).toEqual({ ...ctx, replay: after });
        // and the stateless codec agrees with the model
        expect({ ...ctx, codec: core.applyDiff(before, diff, { doDelete }) }).toEqual({ ...ctx, codec: after });
      } else {
        expect({ ...ctx, effective }).toEqual({ ...ctx, effective: core.generateDiff(before, after, { doDelete }) });
      }
      ch.ref = after;
    }
  }, 60_000);
});

// ---- scalars overwritten in place (the merge's fast path in assembly/doc.ts) ----

/** A msgpack value in an encoding of our choosing (msgpackr always picks the smallest). */
type Enc = { bytes: number[]; value: Json };
const utf8 = new TextEncoder();
const encStr = (s: string): number[] => {
  const b = [...utf8.encode(s)];
  return b.length < 32 ? [0xa0 | b.length, ...b] : [0xd9, b.length, ...b];
};
const encBytes = (head: number, size: number, write: (d: DataView) => void): number[] => {
  const d = new DataView(new ArrayBuffer(1 + size));
  d.setUint8(0, head);
  write(d);
  return [...new Uint8Array(d.buffer)];
};
const enc = {
  f64: (x: number): Enc => ({ bytes: encBytes(0xcb, 8, (d) => d.setFloat64(1, x)), value: x }),
  f32: (x: number): Enc => ({ bytes: encBytes(0xca, 4, (d) => d.setFloat32(1, x)), value: Math.fround(x) }),
  /** x in the given int encoding: "fix" (a positive or negative fixint) or a msgpack type byte. */
  int: (x: number, code: "fix" | 0xcc | 0xcd | 0xce | 0xcf | 0xd0 | 0xd1 | 0xd2 | 0xd3): Enc => {
    const bytes =
      code === "fix"
        ? [x & 0xff]
        : code === 0xcc
          ? encBytes(code, 1, (d) => d.setUint8(1, x))
          : code === 0xcd
            ? encBytes(code, 2, (d) => d.setUint16(1, x))
            : code === 0xce
              ? encBytes(code, 4, (d) => d.setUint32(1, x))
              : code === 0xcf
                ? encBytes(code, 8, (d) => d.setBigUint64(1, BigInt(x)))
                : code === 0xd0
                  ? encBytes(code, 1, (d) => d.setInt8(1, x))
                  : code === 0xd1
                    ? encBytes(code, 2, (d) => d.setInt16(1, x))
                    : code === 0xd2
                      ? encBytes(code, 4, (d) => d.setInt32(1, x))
                      : encBytes(code, 8, (d) => d.setBigInt64(1, BigInt(x)));
    return { bytes, value: x };
  },
  str: (s: string): Enc => ({ bytes: encStr(s), value: s }),
  bool: (b: boolean): Enc => ({ bytes: [b ? 0xc3 : 0xc2], value: b }),
  nil: (): Enc => ({ bytes: [0xc0], value: null }),
  /** Any JS value, through msgpackr. */
  js: (v: Json): Enc => ({ bytes: [...pack(v)], value: v }),
};
/** A map of the given pairs; `wide` uses a map16 header even when a fixmap would do. */
const encMap = (pairs: [string, Enc][], wide = false): Uint8Array =>
  new Uint8Array([
    ...(wide || pairs.length > 15 ? [0xde, pairs.length >> 8, pairs.length & 0xff] : [0x80 | pairs.length]),
    ...pairs.flatMap(([k, v]) => [...encStr(k), ...v.bytes]),
  ]);

describe("scalars overwritten in place", () => {
  it("same size, other size, other type, equal by value, null, nested: like the general merge", () => {
    const c = store.open("inplace/steps");
    store.applyValue(c, { f: 1.5, i: 7, s: "ok", b: true, n: 3, long_key_name: 1, m: { x: 1, y: "a" }, u: 2n ** 64n - 1n });
    const steps: [string, [string, Enc][], boolean, Json, number[]?][] = [
      ["float, same size", [["f", enc.f64(2.25)]], true, { f: 2.25 }],
      [
        "int to int32, other size; effective diff keeps the encoding",
        [["i", enc.int(5, 0xd2)]],
        true,
        { i: 5 },
        [0x81, 0xa1, 0x69, 0xd2, 0, 0, 0, 5],
      ],
      [
        "every int width, equal by value",
        [
          ["i", enc.int(5, 0xcc)],
          ["n", enc.int(3, 0xd3)],
        ],
        false,
        {},
      ],
      ["int over float, equal by value: the float stays", [["f", enc.f64(3)]], true, { f: 3 }],
      ["int 3 onto float 3.0 is no change", [["f", enc.int(3, "fix")]], false, {}],
      [
        "negative fixint, int16, uint32",
        [
          ["i", enc.int(-5, "fix")],
          ["n", enc.int(-300, 0xd1)],
          ["f", enc.int(70000, 0xce)],
        ],
        true,
        { i: -5, n: -300, f: 70000 },
      ],
      ["string to string of another length", [["s", enc.str("warning")]], true, { s: "warning" }],
      ["the same string again", [["s", enc.str("warning")]], false, {}],
      ["8 bytes, inline edge", [["s", enc.str("abcdefgh")]], true, { s: "abcdefgh" }],
      ["9 bytes, out of line", [["s", enc.str("abcdefghi")]], true, { s: "abcdefghi" }],
      ["back inline", [["s", enc.str("")]], true, { s: "" }],
      ["bool to int is a change in a merge", [["b", enc.int(1, "fix")]], true, { b: 1 }],
      ["int to bool", [["b", enc.bool(false)]], true, { b: false }],
      [
        "float32 (general path) then float64",
        [
          ["f", enc.f32(0.5)],
          ["i", enc.f64(0.25)],
        ],
        true,
        { f: 0.5, i: 0.25 },
      ],
      ["NaN, then NaN again", [["f", enc.f64(Number.NaN)]], true, { f: Number.NaN }],
      ["NaN is no change", [["f", enc.f64(Number.NaN)]], false, {}],
      ["-0 over 0 is no change", [["i", enc.int(0, "fix")]], true, { i: 0 }],
      ["-0 over 0", [["i", enc.f64(-0)]], false, {}],
      ["uint64 max is not the float 2^64", [["u", enc.f64(2 ** 64)]], true, { u: 2 ** 64 }],
      [
        "long key, nested map, new key: fast and general paths mixed",
        [
          ["long_key_name", enc.int(2, "fix")],
          ["m", enc.js({ x: 2, y: "a", z: 1 })],
          ["new", enc.int(1, "fix")],
          ["i", enc.int(1, "fix")],
        ],
        true,
        { long_key_name: 2, m: { x: 2, z: 1 }, new: 1, i: 1 },
      ],
      [
        "null removes",
        [
          ["i", enc.nil()],
          ["f", enc.f64(1)],
        ],
        true,
        { i: null, f: 1 },
      ],
      ["scalar over the removed key appends it", [["i", enc.int(4, "fix")]], true, { i: 4 }],
    ];
    let version = 1;
    let model = store.getValue(c) as Json;
    for (const [what, pairs, changed, effective, bytes] of steps) {
      const diff = Object.fromEntries(pairs.map(([k, v]) => [k, v.value]));
      for (const wide of [false, true]) {
        const before = model;
        const r = store.apply(c, encMap(pairs, wide));
        const ctx = { what, wide };
        expect({ ...ctx, changed: r.changed }).toEqual({ ...ctx, changed: wide ? false : changed });
        if (r.changed) version++;
        expect({ ...ctx, version: r.version }).toEqual({ ...ctx, version });
        expect({ ...ctx, diff: unpackr.unpack(r.diff) }).toEqual({ ...ctx, diff: wide ? {} : effective });
        if (bytes && !wide) expect([...r.diff]).toEqual(bytes);
        model = refApply(before, diff, true);
        const got = store.getValue(c) as Record<string, Json>;
        // the stored form stays when a value arrives equal by value (3.0 for 3, 0 for -0)
        expect({ ...ctx, equal: refEqual(got, model), keys: Object.keys(got) }).toEqual({
          ...ctx,
          equal: true,
          keys: Object.keys(model as object),
        });
        model = got;
      }
    }
    expect(Object.is((model as Record<string, Json>).i, 4)).toBe(true);
  });

  it("an error after pairs already written in place leaves the aggregate and version as they were", () => {
    const c = store.open("inplace/errors");
    const initial = { a: 1, b: 2.5, c: "ok", m: { x: 1 } };
    store.applyValue(c, initial);
    const bad: [string, number[], string][] = [
      [
        "repeated key",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["b", enc.f64(9)],
            ["a", enc.int(11, "fix")],
          ]),
        ],
        "TAGWIRE_ERR_MSGPACK",
      ],
      [
        "repeated key, both wide",
        [
          ...encMap(
            [
              ["b", enc.f64(9)],
              ["c", enc.str("no")],
              ["c", enc.str("no")],
            ],
            true,
          ),
        ],
        "TAGWIRE_ERR_MSGPACK",
      ],
      [
        "repeated nested key",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["m", { bytes: [0x82, 0xa1, 0x78, 2, 0xa1, 0x78, 3], value: null }],
          ]),
        ],
        "TAGWIRE_ERR_MSGPACK",
      ],
      [
        "cut short inside a float",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["b", enc.f64(9)],
          ]),
        ].slice(0, -3),
        "TAGWIRE_ERR_INCOMPLETE",
      ],
      ["cut short inside an int32", [...encMap([["a", enc.int(10, 0xd2)]])].slice(0, -1), "TAGWIRE_ERR_INCOMPLETE"],
      [
        "cut short inside a string",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["c", enc.str("abcdef")],
          ]),
        ].slice(0, -2),
        "TAGWIRE_ERR_INCOMPLETE",
      ],
      [
        "cut short after a key",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["b", enc.f64(9)],
          ]),
        ].slice(0, -9),
        "TAGWIRE_ERR_INCOMPLETE",
      ],
      [
        "bytes after the map",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["b", enc.f64(9)],
          ]),
          0x01,
        ],
        "TAGWIRE_ERR_MSGPACK",
      ],
      [
        "bin value after in-place pairs",
        [
          ...encMap([
            ["a", enc.int(10, "fix")],
            ["b", { bytes: [0xc4, 1, 0], value: null }],
          ]),
        ],
        "TAGWIRE_ERR_MSGPACK",
      ],
    ];
    for (const [what, bytes, code] of bad) {
      expect(() => store.apply(c, new Uint8Array(bytes)), what).toThrow(expect.objectContaining({ code }));
      expect({ what, got: store.getValue(c), version: store.version(c) }).toEqual({ what, got: initial, version: 1 });
    }
    // and the marks of the failed plans do not make the next valid diff look repeated
    const r = store.apply(
      c,
      encMap([
        ["a", enc.int(10, "fix")],
        ["b", enc.f64(9)],
        ["c", enc.str("no")],
      ]),
    );
    expect({ changed: r.changed, version: r.version, diff: unpackr.unpack(r.diff) }).toEqual({
      changed: true,
      version: 2,
      diff: { a: 10, b: 9, c: "no" },
    });
  });

  it("matches the reference model on wide aggregates under every scalar encoding (seeded random)", () => {
    const rand = seededRandom("store in-place scalars");
    const int = (n: number) => Math.floor(rand() * n);
    // key lengths around the 8-byte inline edge and the 31-byte fixstr edge, empty, multi-byte
    const keys = [
      ...Array.from({ length: 40 }, (_, i) => `${"k".repeat(i % 12)}${i}`),
      ...["", "é".repeat(4), "abcdefgh", "q".repeat(31), "r".repeat(32)],
    ];
    const ints: ["fix" | 0xcc | 0xcd | 0xce | 0xcf | 0xd0 | 0xd1 | 0xd2 | 0xd3, number, number][] = [
      ["fix", -32, 127],
      [0xcc, 0, 255],
      [0xcd, 0, 65535],
      [0xce, 0, 2 ** 32 - 1],
      [0xcf, 0, 2 ** 40],
      [0xd0, -128, 127],
      [0xd1, -32768, 32767],
      [0xd2, -(2 ** 31), 2 ** 31 - 1],
      [0xd3, -(2 ** 40), 2 ** 40],
    ];
    const small = [0, 1, 2, 3, -1, 100];
    const scalar = (current: Json): Enc => {
      const same = typeof current === "number" && rand() < 0.3;
      switch (int(11)) {
        case 0:
        case 1:
          return enc.f64(same ? (current as number) : [0.5, 1, 2.25, -7.75, 1e300, Number.NaN][int(6)]!);
        case 2: {
          const [code, lo, hi] = ints[int(ints.length)]!;
          const x = same && Number.isInteger(current) ? (current as number) : small[int(small.length)]!;
          return enc.int(x >= lo && x <= hi ? x : lo, code);
        }
        case 3:
          return enc.int(small[int(small.length)]!, "fix");
        case 4:
          return enc.f32([0.5, 1, 3, 0.1][int(4)]!);
        case 5:
          return enc.bool(rand() < 0.5);
        case 6:
          return enc.str(["", "ok", "on", "warning", "abcdefgh"][int(5)]!);
        case 7:
          return enc.str(`a string over eight bytes ${int(3)}`);
        case 8:
          return rand() < 0.5 ? enc.nil() : enc.js([int(3), "x"]);
        case 9:
          return enc.js({ x: int(3), y: rand() < 0.3 ? null : "v" });
        default:
          return enc.int(int(2) ? 1 : 0, "fix");
      }
    };
    const c = store.open("inplace/random");
    let model: Json = {};
    let version = 0;
    for (let step = 0; step < 6000; step++) {
      const doDelete = rand() < 0.7;
      const n = 1 + int(6);
      const pairs: [string, Enc][] = [];
      for (let i = 0; i < n; i++) {
        const k = rand() < 0.03 ? `new${int(20)}` : keys[int(keys.length)]!;
        if (pairs.some(([q]) => q === k)) continue;
        pairs.push([k, scalar((model as Record<string, Json>)[k] ?? null)]);
      }
      let bytes = encMap(pairs, rand() < 0.5);
      const fault = rand();
      if (fault < 0.02 && pairs.length > 0) {
        // a repeated key at the end, after pairs the fast path may have written in place
        bytes = encMap([...pairs, pairs[int(pairs.length)]!]);
      } else if (fault < 0.04) {
        bytes = bytes.slice(0, int(bytes.length));
      }
      const ctx = { step, pairs: pairs.map(([k, v]) => [k, v.value]), doDelete, hex: Buffer.from(bytes).toString("hex") };
      const before = model;
      if (fault < 0.04) {
        expect(() => store.apply(c, bytes, { doDelete })).toThrow();
        expect({ ...ctx, got: store.getValue(c), version: store.version(c) }).toEqual({ ...ctx, got: before, version });
        continue;
      }
      const after = refApply(before, Object.fromEntries(pairs.map(([k, v]) => [k, v.value])), doDelete);
      const r = store.apply(c, bytes, { doDelete });
      const changed = !refEqual(before, after);
      expect({ ...ctx, changed: r.changed }).toEqual({ ...ctx, changed });
      if (changed) version++;
      expect({ ...ctx, version: r.version }).toEqual({ ...ctx, version });
      const got = store.getValue(c) as Json;
      expect({ ...ctx, equal: refEqual(got, after) }).toEqual({ ...ctx, equal: true });
      const effective = unpackr.unpack(r.diff) as Json;
      if (!changed) expect(effective).toEqual({});
      expect({ ...ctx, replay: refEqual(refApply(before, effective, doDelete), after) }).toEqual({ ...ctx, replay: true });
      model = got;
    }
  }, 60_000);
});
