// createCore(): one wasm instance (its own linear memory) and the typed API over it.
import { CoreInstance } from "./instance.js";
import { Router } from "./router.js";
import { RollingWindow, type RollingStatsOptions, type RollingStatsSnapshot } from "./stats.js";
import { RateLimiter, ChangeFilter, type RateLimiterOptions, type ChangeFilterOptions } from "./throttle.js";
import {
  ChannelStore,
  type ApplyView,
  type ChannelStoreOptions,
  type ApplyOptions,
  type ApplyResult,
  type ApplyValueResult,
} from "./store.js";
import { DocCodec, type DiffOptions, type DocLimits } from "./doc.js";
import { Pipeline, IngestResult, NOT_HANDLED, type IngestOptions } from "./pipeline.js";

export { TagwireError, type TagwireErrorCode } from "./errors.js";
export type { Router, RollingWindow, RollingStatsOptions, RateLimiter, ChangeFilter, RateLimiterOptions, ChangeFilterOptions };
export type {
  ChannelStore,
  ApplyView,
  ChannelStoreOptions,
  ApplyOptions,
  ApplyResult,
  ApplyValueResult,
  DiffOptions,
  DocLimits,
  RollingStatsSnapshot,
};
export { Pipeline, IngestResult, NOT_HANDLED, type IngestOptions };

export interface CoreOptions extends DocLimits {}

export class Core {
  /** @internal The wasm instance and its memory views (for the SDK's helpers, benches and tests). */
  readonly instance: CoreInstance;
  private readonly doc: DocCodec;

  constructor(instance: CoreInstance, options: CoreOptions = {}) {
    this.instance = instance;
    this.doc = new DocCodec(instance, options);
  }

  /** Doover's apply_diff: returns a new value; `data` and `diff` are left untouched. */
  applyDiff(data: unknown, diff: unknown, options?: DiffOptions): unknown {
    return this.doc.applyDiff(data, diff, options);
  }

  /** Doover's generate_diff: the smallest diff that turns `oldValue` into `newValue`. */
  generateDiff(oldValue: unknown, newValue: unknown, options?: DiffOptions): unknown {
    return this.doc.generateDiff(oldValue, newValue, options);
  }

  /** Doover's strict payload rule: an object whose keys, at every depth, match ^[a-zA-Z0-9_-]+$. */
  validatePayload(value: unknown): boolean {
    return this.doc.validatePayload(value);
  }

  createRouter(): Router {
    return new Router(this.instance);
  }

  /** A rolling window over this core's memory (count, sum, mean, min, max, stddev, EWMA). */
  createRollingStats(options: RollingStatsOptions): RollingWindow {
    return new RollingWindow(this.instance, options);
  }

  createRateLimiter(options: RateLimiterOptions): RateLimiter {
    return new RateLimiter(this.instance, options);
  }

  createChangeFilter(options: ChangeFilterOptions): ChangeFilter {
    return new ChangeFilter(this.instance, options);
  }

  createChannelStore(options?: ChannelStoreOptions): ChannelStore {
    return new ChannelStore(this.instance, options);
  }

  /** The in-core publish path over a store and a router of this core (one call per batch). */
  createPipeline(store: ChannelStore, router: Router): Pipeline {
    return new Pipeline(this.instance, store, router);
  }
}

/** Instantiates a core. Works the same in Node and browsers (the wasm is embedded). */
export async function createCore(options?: CoreOptions): Promise<Core> {
  return new Core(await CoreInstance.create(), options);
}
