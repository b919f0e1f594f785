// The browser path: everything connect() and the transports load statically must be free of
// Node modules (node:*, ws, better-sqlite3), so one code path serves browsers. Node-only pieces
// (the `ws` class, the SQLite outbox) are reached only through guarded dynamic imports.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE_ONLY = /^(node:|ws$|better-sqlite3$|fs$|path$|net$|os$|child_process$)/;

/** Files reachable through static, value (not type-only) imports, and the bare specifiers they use. */
function staticGraph(entry: string): { files: Set<string>; bare: Map<string, string> } {
  const files = new Set<string>();
  const bare = new Map<string, string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gm)) {
      if (m[2]) continue; // `import type` / `export type` are erased
      const spec = m[4]!;
      if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else bare.set(spec, file);
    }
    for (const m of src.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) bare.set(m[1]!, file);
  }
  return { files, bare };
}

describe("browser-safe static imports", () => {
  for (const entry of ["bindings/client/index.ts", "bindings/transports/index.ts"]) {
    it(`${entry} reaches no Node-only module`, () => {
      const { files, bare } = staticGraph(entry);
      expect(files.size).toBeGreaterThan(3);
      const offenders = [...bare]
        .filter(([spec]) => NODE_ONLY.test(spec))
        .map(([spec, file]) => `${spec} (from ${file.slice(ROOT.length + 1)})`);
      expect(offenders).toEqual([]);
      expect([...files].some((f) => f.endsWith("outbox-sqlite.ts"))).toBe(false);
    });
  }

  it("would notice a Node import (the check is not vacuous)", () => {
    const { bare } = staticGraph("bindings/client/outbox-sqlite.ts");
    expect([...bare.keys()].filter((s) => NODE_ONLY.test(s)).sort()).toEqual(["node:fs", "node:module", "node:path"]);
  });
});
