// `tagwire bench [name...]`: runs the benchmark suites (scripts/run-bench.mjs, one bench file
// after another) against the built package. Needs a checkout with bench/ and a build.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "./args.js";
import { CliError, EXIT, guarded } from "./remote.js";

/** The package root: the nearest directory above this module holding scripts/run-bench.mjs. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "scripts", "run-bench.mjs")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export const benchCommand: Command = {
  spec: {
    name: "bench",
    summary: "run the benchmark suites (bench/*.bench.mjs), one after another",
    usage: "tagwire bench [name...]",
    options: {},
    notes: [
      "Names select suites by substring (tagwire bench router merge); none runs them all.",
      "Benchmarks import the built package: run `npm run build` first. Results print medians",
      "(ns) and ratios against the JavaScript anchors; see bench/RESULTS.md.",
      "Exit code: 0 when every suite ran, 1 when one failed, 4 when the suites are not found.",
    ].join("\n"),
  },
  run: ({ positionals }) =>
    guarded("bench", async () => {
      const root = packageRoot();
      if (!root) throw new CliError(EXIT.hub, "scripts/run-bench.mjs not found: run this from a tagwire checkout");
      if (!existsSync(join(root, "dist", "bindings", "index.js")))
        throw new CliError(EXIT.hub, "the package is not built: run `npm run build` first");
      const child = spawn(process.execPath, [join(root, "scripts", "run-bench.mjs"), ...positionals], { stdio: "inherit", cwd: root });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on("SIGINT", forward);
      process.on("SIGTERM", forward);
      try {
        return await new Promise<number>((resolve, reject) => {
          child.once("error", reject);
          child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
        });
      } finally {
        process.off("SIGINT", forward);
        process.off("SIGTERM", forward);
      }
    }),
};
