import { describe, expect, it } from "vitest";
import { pack, unpack } from "msgpackr";
import { createCore, NOT_HANDLED, TagwireError, type Core } from "../bindings/index.js";

const enc = (v: unknown) => pack(v);
const publish = (
  reqId: number,
  agent: string,
  channel: string,
  diff: unknown,
  flags = 0,
  keys: string[] | null = null,
  msgId: string | null = null,
) => [4, reqId, agent, channel, enc(diff), flags, keys, msgId];

async function setup(core?: Core) {
  core ??= await createCore();
  const store = core.createChannelStore();
  const router = core.createRouter();
  const pipe = core.createPipeline(store, router);
  return { core, store, router, pipe };
}

describe("pipeline: batch -> merge -> route -> fan-out", () => {
  it("applies publishes, returns effective diffs, versions and subscriber lists", async () => {
    const { store, router, pipe } = await setup();
    router.subscribe("dev-1/sensors/+", 3);
    router.subscribe("+/sensors/#", 1);
    router.subscribe("dev-2/#", 9);
    const batch = enc([
      publish(1, "dev-1", "sensors/temp", { value: 21.5, unit: "C" }),
      publish(2, "dev-1", "sensors/temp", { value: 21.5, unit: "F" }),
      publish(3, "dev-1", "sensors/temp", { value: 21.5 }),
    ]);
    const r = pipe.ingest(batch);
    expect(r.count).toBe(3);
    expect([0, 1, 2].map((i) => r.status(i))).toEqual([0, 0, 0]);
    expect([0, 1, 2].map((i) => r.version(i))).toEqual([1, 2, 2]);
    expect([0, 1, 2].map((i) => r.reqId(i))).toEqual([1, 2, 3]);
    expect(unpack(r.diff(0))).toEqual({ value: 21.5, unit: "C" });
    expect(unpack(r.diff(1))).toEqual({ unit: "F" });
    expect(unpack(r.diff(2))).toEqual({});
    expect(r.changed(2)).toBe(false);
    expect([...r.fanout(0)]).toEqual([1, 3]);
    expect([...r.fanout(2)]).toEqual([]);
    expect(store.getValue("dev-1/sensors/temp")).toEqual({ value: 21.5, unit: "F" });
    expect(store.version("dev-1/sensors/temp")).toBe(2);
  });

  it("refuses a batch nested past the limit in any frame, applying none of it", async () => {
    const { store, pipe } = await setup();
    const nest = (d: number) => {
      let v: unknown = 1;
      for (let i = 0; i < d; i++) v = [v];
      return v;
    };
    const batch = (d: number) => enc([publish(1, "dev-1", "t", { depth: d }), [9, nest(d)]]);
    const r = pipe.ingest(batch(78));
    expect([r.status(0), r.status(1)]).toEqual([0, NOT_HANDLED]);
    for (const d of [79, 200]) {
      expect(() => pipe.ingest(batch(d))).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
    }
    expect(store.getValue("dev-1/t")).toEqual({ depth: 78 });
    expect(store.version("dev-1/t")).toBe(1);
  });

  it("locates diffs and fan-out lists by offset, the same bytes and ids as the views", async () => {
    const { router, pipe } = await setup();
    router.subscribe("dev-1/#", 7);
    router.subscribe("+/sensors/temp", 2);
    const r = pipe.ingest(
      enc([
        publish(1, "dev-1", "sensors/temp", { value: 1, note: "a longer string than eight bytes" }),
        publish(2, "dev-2", "sensors/temp", { value: 2 }),
        publish(3, "dev-1", "sensors/temp", { value: 1 }),
        [9, 4],
      ]),
    );
    for (let i = 0; i < r.count; i++) {
      const d = r.bytes.subarray(r.diffStart(i), r.diffStart(i) + r.diffLength(i));
      expect([...d]).toEqual([...r.diff(i)]);
      expect([...r.words.subarray(r.fanoutStart(i), r.fanoutStart(i) + r.fanoutCount(i))]).toEqual([...r.fanout(i)]);
    }
    expect(unpack(r.bytes.subarray(r.diffStart(0), r.diffStart(0) + r.diffLength(0)))).toEqual({
      value: 1,
      note: "a longer string than eight bytes",
    });
    expect([0, 1, 2, 3].map((i) => r.fanoutCount(i))).toEqual([2, 1, 0, 0]);
    expect(r.words[r.fanoutStart(1)]).toBe(2);
    expect(r.diffLength(3)).toBe(0);
    expect(() => r.diffStart(4)).toThrow(TagwireError);
    expect(() => r.fanoutCount(-1)).toThrow(TagwireError);
  });

  it("locates frames it does not handle and leaves them to JavaScript", async () => {
    const { pipe } = await setup();
    const sub = [2, 7, 5, "+", "sensors/#", null];
    const batch = enc([sub, publish(8, "a", "c", { x: 1 }), [9, 10]]);
    const r = pipe.ingest(batch);
    expect(r.status(0)).toBe(NOT_HANDLED);
    expect(r.type(0)).toBe(2);
    expect(unpack(r.frame(0))).toEqual(sub);
    expect(r.status(1)).toBe(0);
    expect(r.type(2)).toBe(9);
    expect(unpack(r.frame(2))).toEqual([9, 10]);
  });

  it("honours replace, replaceKeys and doDelete", async () => {
    const { store, pipe } = await setup();
    pipe.ingest(enc([publish(1, "a", "c", { keep: 1, sub: { x: 1, y: 2 }, gone: 3 })]));
    let r = pipe.ingest(enc([publish(2, "a", "c", { sub: { z: 3 } }, 0, ["sub"])]));
    expect(store.getValue("a/c")).toEqual({ keep: 1, sub: { z: 3 }, gone: 3 });
    r = pipe.ingest(enc([publish(3, "a", "c", { gone: null })]));
    expect(unpack(r.diff(0))).toEqual({ gone: null });
    expect(store.getValue("a/c")).toEqual({ keep: 1, sub: { z: 3 } });
    r = pipe.ingest(enc([publish(4, "a", "c", { only: true }, 2)]));
    expect(store.getValue("a/c")).toEqual({ only: true });
    expect(unpack(r.diff(0))).toEqual({ keep: null, sub: null, only: true });
    r = pipe.ingest(enc([publish(5, "a", "c", { only: null })]), { doDelete: false });
    expect(store.getValue("a/c")).toEqual({ only: null });
  });

  it("refuses bad frames one by one and applies the rest of the batch", async () => {
    const { store, pipe } = await setup();
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 70; i++) cur = (cur.k = {}) as Record<string, unknown>;
    const badDiffBytes = Buffer.from([0x81, 0xa1, 0x61]); // a map whose value is missing
    const batch = enc([
      publish(1, "dev-1", "ok", { n: 1 }),
      publish(2, "dev-1", "bad name", { n: 1 }),
      publish(3, "dev/1", "ok", { n: 1 }),
      publish(4, "dev-1", "ok", [1, 2, 3]),
      [4, 5, "dev-1", "ok", badDiffBytes, 0, null, null],
      publish(6, "dev-1", "ok", deep),
      publish(7, "dev-1", "ok", { n: 1 }, 64),
      publish(8, "dev-1", "ok", { n: 2 }),
    ]);
    const r = pipe.ingest(batch);
    const codes = Array.from({ length: r.count }, (_, i) => r.error(i)?.code ?? "ok");
    expect(codes).toEqual([
      "ok",
      "TAGWIRE_ERR_NAME",
      "TAGWIRE_ERR_NAME",
      "TAGWIRE_ERR_PAYLOAD",
      "TAGWIRE_ERR_INCOMPLETE",
      "TAGWIRE_ERR_DEPTH",
      "TAGWIRE_ERR_ARGUMENT",
      "ok",
    ]);
    expect(store.getValue("dev-1/ok")).toEqual({ n: 2 });
    expect(store.version("dev-1/ok")).toBe(2);
  });

  it("keeps its routing-key cache right when the store removes and reuses slots", async () => {
    const { store, router, pipe } = await setup();
    router.subscribe("a/#", 1);
    pipe.ingest(enc([publish(1, "a", "one", { v: 1 }), publish(2, "a", "two", { v: 2 })]));
    const slotOne = store.slotOf("a/one")!;
    expect(store.remove(slotOne)).toBe(true);
    // The freed slot goes to a new channel; a cached a/one -> slot would now write into it.
    expect(store.open("b/three")).toBe(slotOne);
    const r = pipe.ingest(enc([publish(3, "a", "one", { v: 10 })]));
    expect(r.version(0)).toBe(1);
    expect(store.getValue("a/one")).toEqual({ v: 10 });
    expect(store.getValue("b/three")).toEqual({});
    expect(store.getValue("a/two")).toEqual({ v: 2 });
  });

  it("refuses publishes to other agents' channels for a restricted writer", async () => {
    const { store, pipe } = await setup();
    const r = pipe.ingest(enc([publish(1, "dev-2", "c", { x: 1 }), publish(2, "dev-1", "c", { x: 1 })]), {
      writerAgentId: "dev-1",
    });
    expect(r.error(0)?.code).toBe("TAGWIRE_ERR_FORBIDDEN");
    expect(r.status(1)).toBe(0);
    expect(store.slotOf("dev-2/c")).toBeUndefined();
  });

  it("rejects a cut batch at every byte, and trailing bytes, applying nothing", async () => {
    const { store, pipe } = await setup();
    pipe.ingest(enc([publish(1, "a", "c", { v: 0 })]));
    const batch = enc([publish(2, "a", "c", { v: 1, w: "x" }), publish(3, "a", "d", { v: 2 })]);
    for (let cut = 1; cut < batch.length; cut++) {
      let err: unknown;
      try {
        pipe.ingest(batch.subarray(0, cut));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(TagwireError);
      expect((err as TagwireError).code, `cut at ${cut}`).toBe("TAGWIRE_ERR_INCOMPLETE");
    }
    const trailing = new Uint8Array(batch.length + 1);
    trailing.set(batch);
    expect(() => pipe.ingest(trailing)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_MSGPACK" }));
    expect(() => pipe.ingest(enc({ not: "a batch" }))).toThrowError(TagwireError);
    expect(store.getValue("a/c")).toEqual({ v: 0 });
    expect(store.version("a/c")).toBe(1);
    expect(store.slotOf("a/d")).toBeUndefined();
    // Still fully usable afterwards.
    expect(pipe.ingest(batch).status(1)).toBe(0);
  });

  it("matches a reference built from applyDiff and router.match on seeded random batches", async () => {
    const seed = Number(process.env.TAGWIRE_SEED ?? Date.now() % 1_000_000);
    console.log(`pipeline random test seed=${seed}`);
    let s = seed >>> 0 || 1;
    const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
    const { core, store, router, pipe } = await setup();
    const agents = ["a1", "a2", "a3", "a4"];
    const channels = ["t", "s/x", "s/y", "s/y/z"];
    const patterns = ["+/#", "a1/#", "+/s/+", "a2/s/y/z", "+/t", "a3/s/#"];
    patterns.forEach((p, i) => {
      router.subscribe(p, i * 10);
    });
    const model = new Map<string, { agg: unknown; version: number }>();
    const keys = ["k1", "k2", "k3", "k4"];
    const value = (): unknown => {
      const r = rnd();
      if (r < 0.2) return null;
      if (r < 0.5) return Math.floor(rnd() * 4);
      if (r < 0.6) return pick(["a", "b"]);
      if (r < 0.9) return Object.fromEntries(keys.slice(0, 1 + Math.floor(rnd() * 3)).map((k) => [k, value()]));
      return [1, 2];
    };
    for (let round = 0; round < 200; round++) {
      const frames = Array.from({ length: 1 + Math.floor(rnd() * 20) }, (_, i) => {
        const diff = Object.fromEntries(keys.filter(() => rnd() < 0.5).map((k) => [k, value()]));
        return publish(i + 1, pick(agents), pick(channels), diff);
      });
      const r = pipe.ingest(enc(frames));
      // Results live in the core's output region: read them all before calling the core again.
      const got = frames.map((_, i) => ({ status: r.status(i), version: r.version(i), changed: r.changed(i), fanout: [...r.fanout(i)] }));
      frames.forEach((f, i) => {
        const key = `${f[2]}/${f[3]}`;
        const prev = model.get(key) ?? { agg: {}, version: 0 };
        const next = core.applyDiff(prev.agg, unpack(f[4] as Uint8Array), { doDelete: true });
        const version = prev.version + (JSON.stringify(next) !== JSON.stringify(prev.agg) ? 1 : 0);
        model.set(key, { agg: next, version });
        expect(got[i]!.status).toBe(0);
        expect(got[i]!.version).toBe(version);
        expect(got[i]!.changed).toBe(version !== prev.version);
        expect(got[i]!.fanout).toEqual(got[i]!.changed ? router.matchArray(key) : []);
      });
    }
    for (const [key, { agg, version }] of model) {
      expect(store.getValue(key)).toEqual(agg);
      expect(store.version(key)).toBe(version);
    }
  });
});
