// RollingStats for apps: the core's rolling window (count, sum, mean, min, max, stddev, EWMA over
// the newest N samples or the last windowMs), usable without handling a Core. The SDK loads a
// shared core on first use; Application loads it before setup(), so inside an app
// `new RollingStats({ window: 60 })` (or `this.createRollingStats(...)`) just works. Elsewhere,
// `await RollingStats.create(options)` or `await RollingStats.load()` first.
import { RollingWindow, type RollingStatsOptions } from "../core/stats.js";
import type { Core } from "../core/index.js";
import { TagwireError } from "../core/errors.js";
import { loadSharedCore, sharedCore } from "./shared-core.js";

export type { RollingStatsOptions, RollingStatsSnapshot } from "../core/stats.js";

/** What publishStats() writes: a tag of `{ count, mean, min, max, stddev }`. */
export interface StatsSummary {
  count: number;
  mean: number;
  min: number;
  max: number;
  stddev: number;
}

/** The app-facing rolling statistics: a core RollingWindow on the SDK's shared core, plus summary(). */
export class RollingStats extends RollingWindow {
  /** `core` defaults to the SDK's shared core, which must be loaded (see `load`). */
  constructor(options: RollingStatsOptions, core?: Core) {
    const c = core ?? sharedCore();
    if (!c) {
      throw new TagwireError(
        "TAGWIRE_ERR_ARGUMENT",
        "RollingStats: the core is not loaded yet; use `await RollingStats.create(options)` or `await RollingStats.load()` first",
      );
    }
    super(c.instance, options);
  }

  /** Loads the shared core so `new RollingStats(...)` works synchronously. */
  static async load(): Promise<void> {
    await loadSharedCore();
  }

  static async create(options: RollingStatsOptions): Promise<RollingStats> {
    return new RollingStats(options, await loadSharedCore());
  }

  /** `{ count, mean, min, max, stddev }` of the window now (zeros when empty). */
  summary(): StatsSummary {
    const s = this.snapshot();
    return { count: s.count, mean: s.mean, min: s.min, max: s.max, stddev: s.stddev };
  }
}
