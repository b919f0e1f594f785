// Conformance with pydoover, through the fixtures recorded by doover-rs (../shared/compat/).
// Every case runs through the stateless codec (core.applyDiff / generateDiff / validatePayload)
// and every round-trip case also through a ChannelStore, the way the hub uses it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { pack, unpack } from "msgpackr";
import { beforeAll, describe, expect, it } from "vitest";
import { createCore, type Core } from "../bindings/index.js";

const compatDir = fileURLToPath(new URL("../../shared/compat/", import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface RoundTrip { old: Json; new: Json; do_delete: boolean; diff: Json; applied: Json }
interface ApplyCase { op: "apply"; data: Json; diff: Json; do_delete: boolean; result: Json }
interface PayloadCase { payload: Json; valid: boolean }

const cases = JSON.parse(readFileSync(compatDir + "diffs.json", "utf8")) as (RoundTrip | ApplyCase)[];
const payloads = JSON.parse(readFileSync(compatDir + "payload_validation.json", "utf8")) as PayloadCase[];
const roundTrips = cases.filter((c): c is RoundTrip => !("op" in c));
const applies = cases.filter((c): c is ApplyCase => "op" in c && c.op === "apply");

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Strict deep equality, as the store sees change (numbers by value, booleans apart). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameValue(a[k], b[k]));
  }
  return a === b;
}

let core: Core;
beforeAll(async () => {
  core = await createCore();
});

describe("fixture corpus", () => {
  it("has the documented shape", () => {
    expect(cases).toHaveLength(616);
    expect(roundTrips).toHaveLength(392);
    expect(applies).toHaveLength(224);
    expect(payloads).toHaveLength(13);
  });
});

describe("core.generateDiff / applyDiff: round-trip cases", () => {
  it.each(roundTrips.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const opts = { doDelete: c.do_delete };
    const oldCopy = structuredClone(c.old);
    const newCopy = structuredClone(c.new);
    expect(core.generateDiff(c.old, c.new, opts)).toEqual(c.diff);
    expect(core.applyDiff(c.old, c.diff, opts)).toEqual(c.applied);
    // inputs untouched
    expect(c.old).toEqual(oldCopy);
    expect(c.new).toEqual(newCopy);
  });
});

describe("core.applyDiff: apply cases", () => {
  it.each(applies.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const dataCopy = structuredClone(c.data);
    expect(core.applyDiff(c.data, c.diff, { doDelete: c.do_delete })).toEqual(c.result);
    expect(c.data).toEqual(dataCopy);
  });
});

describe("core.validatePayload", () => {
  it.each(payloads.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    expect(core.validatePayload(c.payload)).toBe(c.valid);
  });
});

describe("ChannelStore: round-trip cases as the hub runs them", () => {
  // The store's aggregate starts as {}; cases whose `old` is not an object still run (a non-map
  // replaces the aggregate whole), as do all others.
  it.each(roundTrips.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const store = core.createChannelStore();
    try {
      const opts = { doDelete: c.do_delete };

      // merge path: state `old`, then the recorded diff
      const a = store.open("compat/merge");
      store.apply(a, pack(c.old), { replace: true, doDelete: true });
      expect(store.getValue(a)).toEqual(c.old);
      const v0 = store.version(a);
      const merged = store.applyValue(a, c.diff, opts);
      expect(store.getValue(a)).toEqual(c.applied);
      // a version step exactly when the aggregate really changed
      expect(merged.changed).toBe(!sameValue(c.old, c.applied));
      expect(merged.version).toBe(v0 + (merged.changed ? 1 : 0));
      if (!merged.changed) expect(merged.diff).toEqual({});
      // the effective diff reproduces the new aggregate from the old one
      expect(core.applyDiff(c.old, merged.diff, opts)).toEqual(c.applied);

      // replace path: state `old`, then `new` as a whole
      const b = store.open("compat/replace");
      store.apply(b, pack(c.old), { replace: true, doDelete: true });
      const r = store.apply(b, pack(c.new), { replace: true, doDelete: c.do_delete });
      // The aggregate becomes `new` exactly; the effective diff is generate_diff(old, new),
      // except that an apply which changed nothing reports {} (generate_diff can list a null
      // for a key that was never there).
      expect(r.changed).toBe(!sameValue(c.old, c.new));
      const effective: unknown = r.changed ? c.diff : {};
      expect(store.getValue(b)).toEqual(c.new);
      expect(unpack(r.diff)).toEqual(effective);
    } finally {
      store.dispose();
    }
  });
});
