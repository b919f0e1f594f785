// The typed boundary: the binding's export interface (generated from the build) and the shared
// layout (generated from assembly/layout.json) must match the wasm it loads, or loading fails.
import { describe, expect, it } from "vitest";
import { compileCore, coreExportProblems } from "../bindings/core/instance.js";
import { CORE_EXPORT_ARITY } from "../bindings/core/exports.generated.js";
import { LAYOUT_HASH, STATUS_NAMES, Status } from "../bindings/core/layout.generated.js";
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
    const names = WebAssembly.Module.exports(module).map((e) => e.name).sort();
    expect(names).toEqual(Object.keys(CORE_EXPORT_ARITY).sort());
    expect(coreExportProblems(await liveExports())).toEqual([]);
  });

  it("reports a missing, an extra or a reshaped export", async () => {
    const ex = await liveExports();
    const { routerMatchId: _dropped, ...missing } = ex;
    expect(coreExportProblems(missing)).toEqual(["missing export routerMatchId"]);
    expect(coreExportProblems({ ...ex, routerMatchAll: () => 0 })).toEqual(["unexpected export routerMatchAll"]);
    expect(coreExportProblems({ ...ex, statsAdd: (h: number) => h })).toEqual([
      "export statsAdd does not have the expected shape (3 parameters)",
    ]);
  });

  it("refuses a core built from another layout", async () => {
    const ex = await liveExports();
    expect((ex.layoutHash as () => number)() >>> 0).toBe(LAYOUT_HASH);
    const problems = coreExportProblems({ ...ex, layoutHash: () => (LAYOUT_HASH ^ 1) | 0 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^layout 0x[0-9a-f]+ differs/);
  });

  it("maps every core status to the TagwireError code of the same name", () => {
    for (const [name, value] of Object.entries(Status)) {
      expect(STATUS_NAMES[value]).toBe(name);
      if (value !== 0) expect(statusError(value, "x").code).toBe(`TAGWIRE_${name}`);
    }
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
