// The typed boundary: the binding's export interface (generated from the build) and the shared
// layout (generated from assembly/layout.json) must match the wasm it loads, or loading fails.
import { describe, expect, it } from "vitest";
import { compileCore, coreExportProblems, coreExportsHash } from "../bindings/core/instance.js";
import { CORE_EXPORT_ARITY, CORE_EXPORTS_HASH } from "../bindings/core/exports.generated.js";
import * as layout from "../bindings/core/layout.generated.js";
import { LAYOUT_HASH, STATUS_NAMES } from "../bindings/core/layout.generated.js";
import { statusError } from "../bindings/core/errors.js";
import { createCore } from "../bindings/index.js";

async function liveExports(): Promise<Record<string, unknown>> {
  const module = await compileCore();
  const instance = await WebAssembly.instantiate(module, { env: { abort() {}, seed: () => 1 } });
  return { ...instance.exports };
}

describe("core boundary", () => {
  it("the wasm exports exactly the typed interface, with the same arities", async () => {
    const module = await compileCore();
    const names = WebAssembly.Module.exports(module)
      .map((e) => e.name)
      .sort();
    expect(names).toEqual(Object.keys(CORE_EXPORT_ARITY).sort());
    const live = await liveExports();
    for (const [name, arity] of Object.entries(CORE_EXPORT_ARITY)) {
      const v = live[name];
      expect(arity === -1 ? v instanceof WebAssembly.Memory : typeof v === "function" && v.length === arity).toBe(true);
    }
    expect(coreExportsHash(live)).toBe(CORE_EXPORTS_HASH);
    expect(coreExportProblems(live)).toEqual([]);
  });

  it("reports a missing, an extra or a reshaped export", async () => {
    const ex = await liveExports();
    const differ = ["exports differ from the binding's generated interface (bindings/core/exports.generated.ts)"];
    const { routerMatchId: _dropped, ...missing } = ex;
    expect(coreExportProblems(missing)).toEqual(differ);
    expect(coreExportProblems({ ...ex, routerMatchAll: () => 0 })).toEqual(differ);
    expect(coreExportProblems({ ...ex, statsAdd: (h: number) => h })).toEqual(differ);
  });

  it("refuses a core built from another layout", async () => {
    const ex = await liveExports();
    expect((ex.layoutHash as () => number)() >>> 0).toBe(LAYOUT_HASH);
    const problems = coreExportProblems({ ...ex, layoutHash: () => (LAYOUT_HASH ^ 1) | 0 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^layout 0x[0-9a-f]+ differs/);
  });

  it("maps every core status to the TagwireError code of the same name", () => {
    STATUS_NAMES.forEach((name, value) => {
      expect((layout as Record<string, unknown>)[name]).toBe(value);
      if (value !== 0) expect(statusError(value, "x").code).toBe(`TAGWIRE_${name}`);
    });
  });

  it("reads the records where the core writes them (store result, stats result)", async () => {
    const core = await createCore();
    const store = core.createChannelStore();
    store.open("a/b");
    const r = store.applyValue("a/b", { x: 1 });
    expect(r).toEqual({ version: 1, diff: { x: 1 }, changed: true });
    expect(store.applyValue("a/b", { x: 1 })).toEqual({ version: 1, diff: {}, changed: false });
    const stats = core.createRollingStats({ window: 3 });
    stats.addMany([1, 2, 6]);
    expect(stats.snapshot()).toMatchObject({ count: 3, sum: 9, mean: 3, min: 1, max: 6 });
  });
});
