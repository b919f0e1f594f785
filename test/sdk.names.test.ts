// Channel-name rules and the SDK's synchronous JSON merge helpers.
import { describe, expect, it } from "vitest";
import { TagwireError, assertChannelName, assertChannelPattern, isValidChannelName } from "../bindings/index.js";
import { assertAgentId, assertKey, matchPattern } from "../bindings/sdk/names.js";
import { applyDiff, deepEqual, diffChanges, toJson } from "../bindings/sdk/json.js";

describe("channel names", () => {
  it("accepts '/'-separated levels of A-Z a-z 0-9 _ . : - up to 255 bytes", () => {
    for (const ok of ["tag_values", "sensors/temperature/indoor", "site-3/pump.2:rpm", "a", "x".repeat(255), "A/b/C_d"]) {
      expect(isValidChannelName(ok)).toBe(true);
      expect(() => assertChannelName(ok)).not.toThrow();
    }
  });

  it("rejects others with TAGWIRE_ERR_NAME", () => {
    const bad = ["", "/a", "a/", "a//b", "a b", "sensors/+", "sensors/#", "temp°", "x".repeat(256), "é", "a\nb"];
    for (const name of bad) {
      expect(isValidChannelName(name)).toBe(false);
      expect(() => assertChannelName(name)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    }
    expect(() => assertChannelName(42)).toThrowError(TagwireError);
  });

  it("patterns allow '+' levels and a last '#'", () => {
    for (const ok of ["+", "#", "sensors/+/indoor", "sensors/#", "+/+", "a/+/#"]) expect(() => assertChannelPattern(ok)).not.toThrow();
    for (const bad of ["#/a", "a/#/b", "a+", "a/b#", "a//+", ""]) {
      expect(() => assertChannelPattern(bad)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    }
  });

  it("matches MQTT-style, '#' including the parent level", () => {
    expect(matchPattern("sensors/+/indoor", "sensors/temperature/indoor")).toBe(true);
    expect(matchPattern("sensors/+/indoor", "sensors/temperature/outdoor")).toBe(false);
    expect(matchPattern("sensors/+", "sensors/a/b")).toBe(false);
    expect(matchPattern("sensors/#", "sensors")).toBe(true);
    expect(matchPattern("sensors/#", "sensors/a/b")).toBe(true);
    expect(matchPattern("#", "anything/at/all")).toBe(true);
  });

  it("agent ids are one level; keys follow Doover's payload-key rule", () => {
    expect(() => assertAgentId("dev-1")).not.toThrow();
    expect(() => assertAgentId("+", true)).not.toThrow();
    for (const bad of ["+", "a/b", "", "a b"]) expect(() => assertAgentId(bad)).toThrowError(TagwireError);
    expect(() => assertKey("tag key", "temp_1-a")).not.toThrow();
    for (const bad of ["a.b", "a/b", "", "a:b"])
      expect(() => assertKey("tag key", bad)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
  });
});

describe("json helpers", () => {
  it("applyDiff merges objects, replaces scalars and arrays, deletes on null, never mutates", () => {
    const a = Object.freeze({ x: 1, o: Object.freeze({ p: 1, q: 2 }), arr: [1, 2] });
    expect(applyDiff(a, { x: 2, o: { q: null, r: 3 }, arr: [3] })).toEqual({ x: 2, o: { p: 1, r: 3 }, arr: [3] });
    expect(applyDiff(a, { o: null })).toEqual({ x: 1, arr: [1, 2] });
    expect(applyDiff(a, 5)).toBe(5);
    expect(applyDiff(a, {})).toBe(a);
    // Composing two diffs keeps nulls.
    expect(applyDiff({ a: { b: 1 } }, { a: { b: null, c: 2 }, d: null }, false)).toEqual({ a: { b: null, c: 2 }, d: null });
  });

  it("diffChanges and deepEqual", () => {
    expect(diffChanges({ a: 1, b: { c: 2 } }, { b: { c: 2 } })).toBe(false);
    expect(diffChanges({ a: 1 }, { z: null })).toBe(false);
    expect(diffChanges({ a: 1 }, { a: null })).toBe(true);
    expect(diffChanges(undefined, null)).toBe(false);
    expect(diffChanges(3, 3)).toBe(false);
    expect(diffChanges([1], [1, 2])).toBe(true);
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });

  it("toJson copies JSON values and rejects the rest", () => {
    const src = { a: [1, { b: "x" }], u: undefined };
    const copy = toJson(src);
    expect(copy).toEqual({ a: [1, { b: "x" }] });
    (src.a[1] as { b: string }).b = "changed";
    expect(copy).toEqual({ a: [1, { b: "x" }] });
    expect(() => toJson({ f: () => 1 })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_PAYLOAD" }));
    expect(() => toJson(new Date())).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_PAYLOAD" }));
    expect(() => toJson(10n)).toThrowError(TagwireError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toJson(cyclic)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_DEPTH" }));
  });
});
