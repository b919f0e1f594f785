// Application: Doover's app model. setup() once, then mainLoop() every loopPeriodMs; tags written
// during a loop are committed in ONE write to the agent's `tag_values` channel after it, shaped
// `{ [appKey]: { tag: value } }` (global tags are top-level keys). Tags logged during the loop
// (`log: true` or a firing `logOn` trigger) go out after that as one message on `tag_values`.
//
// The tags live in a TagCache (tag-cache.ts): `tag_values` as last seen, writes committed but not
// yet seen in an event, then this loop's pending diff; getTag reads through all three, so a value
// set in this loop reads back before the commit. Reads and sets are synchronous: setTagSync is
// the form a hot loop should use, setTag the same set returning a resolved promise.
import { TagwireError } from "../core/errors.js";
import type { Agent } from "./agent.js";
import { headOf, versionOf } from "./aggregate-chain.js";
import { Alerts } from "./alerts.js";
import { report, type ErrorHandler } from "./errors.js";
import { diffChanges, getPath, isObject } from "./json.js";
import { assertKey } from "./names.js";
import { RollingStats, type RollingStatsOptions, type StatsSummary } from "./stats.js";
import { TagCache, type SetTagOptions, type TagAddress } from "./tag-cache.js";
import { bindTags, type BoundTag, type BoundTags, type TagDeclarations } from "./tags/declared.js";
import { UIManager } from "./ui/index.js";
import type { ChannelEvent, Json, Unsubscribe } from "./session.js";

/** The channel tags live on. */
export const TAG_CHANNEL = "tag_values";

export interface ApplicationOptions<Config = Record<string, unknown>> {
  agent: Agent;
  /** This app's namespace in `tag_values` (and in UI state): ^[A-Za-z0-9_-]+$. */
  appKey: string;
  /** Period of mainLoop() under start() (default 1000). */
  loopPeriodMs?: number;
  config?: Config;
  /** Where background failures (a main loop that threw under start()) go; default: the agent's. */
  onError?: ErrorHandler;
}

export type { SetTagOptions, TagAddress } from "./tag-cache.js";

export interface GetTagOptions<T> extends TagAddress {
  /** Returned when the tag is absent. */
  default?: T;
}

export interface TagChange {
  key: string;
  /** The app namespace, or null for a global tag. */
  appKey: string | null;
  /** The new value; null when the tag was deleted. */
  value: Json;
  /** Version of `tag_values` after the change. */
  version: number;
}

export type TagChangeHandler = (value: Json, change: TagChange) => void | Promise<void>;

interface TagWatcher {
  path: string[];
  key: string;
  appKey: string | null;
  handler: TagChangeHandler;
}

export class Application<Config = Record<string, unknown>> {
  readonly agent: Agent;
  readonly appKey: string;
  readonly config: Config;
  loopPeriodMs: number;
  readonly ui: UIManager;
  readonly alerts: Alerts;

  private readonly onError: ErrorHandler;
  private readonly tags: TagCache;
  private seenTagEvent = false;
  /** Tags declared with declareTags, by key: getTag falls back on their defaults. */
  private readonly declaredTags = new Map<string, BoundTag>();
  private readonly watchers = new Set<TagWatcher>();
  private unsubscribeTags: Unsubscribe | undefined;
  private begun: Promise<void> | undefined;
  /** True once setup has finished (step skips awaiting begin() then). */
  private ready = false;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ApplicationOptions<Config>) {
    if (!options?.agent) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "Application needs { agent, appKey }");
    assertKey("app key", options.appKey);
    const period = options.loopPeriodMs ?? 1000;
    if (!Number.isFinite(period) || period < 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "loopPeriodMs must be a finite number >= 0");
    this.agent = options.agent;
    this.appKey = options.appKey;
    this.loopPeriodMs = period;
    this.config = options.config ?? ({} as Config);
    const agent = options.agent;
    this.onError = options.onError ?? ((error, context) => agent.reportError(error, context));
    this.tags = new TagCache(this.appKey);
    this.ui = new UIManager({ agent: this.agent, appKey: this.appKey });
    this.alerts = new Alerts({ agent: this.agent, appKey: this.appKey });
  }

  /** Runs once before the first main loop. Override. */
  async setup(): Promise<void> {}

  /** Runs every loopPeriodMs; the tags it sets are committed after it. Override. */
  async mainLoop(): Promise<void> {}

  /** True between start() and stop(). */
  get running(): boolean {
    return this.loop !== undefined && !this.stopping;
  }

  /**
   * One main loop and its commit (setup first, on the first call). If mainLoop throws, nothing is
   * committed (the pending tags wait for the next loop, as in pydoover) and the error is thrown.
   */
  async step(): Promise<void> {
    if (!this.ready) await this.begin();
    await this.mainLoop();
    const sent = this.sendTags();
    if (sent !== undefined) await sent;
    if (this.ui.needsCommit) await this.ui.commit();
  }

  /**
   * Runs setup and then the main loop every loopPeriodMs (fixed rate: a slow loop shortens the
   * next wait, a loop slower than the period starts the next at once) until stop(). A failing
   * loop is reported to onError and the next one runs on schedule. Resolves when stopped.
   */
  start(): Promise<void> {
    if (this.loop) return this.loop;
    this.stopping = false;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  /**
   * Stops the loop after the current iteration, ends the tag subscription and closes the UI;
   * resolves when done. A later start() or step() runs setup() again.
   */
  async stop(): Promise<void> {
    const loop = this.loop;
    this.stopping = true;
    if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
    this.wake?.();
    if (loop) await loop;
    await this.shutdown();
  }

  // ---------------------------------------------------------------- tags

  /**
   * Sets a tag in this loop's pending diff (committed after the main loop), at once: a bad key or
   * value throws. A value equal to the current one changes nothing and is not logged. Objects
   * merge into an object tag's value, as any diff does. `logOn` triggers are evaluated on every
   * call. The form to use in a main loop (no promise per tag).
   */
  setTagSync(key: string, value: unknown, options?: SetTagOptions): void {
    this.tags.set(key, value, options);
  }

  /** setTagSync, returning a promise (rejected for a bad key or value) as earlier versions did. */
  setTag(key: string, value: unknown, options?: SetTagOptions): Promise<void> {
    try {
      this.tags.set(key, value, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return RESOLVED;
  }

  /**
   * The tag's value (with this loop's writes), or `options.default` when absent; for a tag this
   * app declared (declareTags), the declared default coerced to its type, as pydoover reads it.
   */
  getTag<T = Json | undefined>(key: string, options?: GetTagOptions<T>): Json | T {
    const value = options === undefined ? this.tags.getOwn(key) : this.tags.get(key, options);
    if (value !== undefined) return value;
    if (options?.default === undefined && !options?.global && (options?.appKey ?? this.appKey) === this.appKey) {
      const declared = this.declaredTags.get(key);
      if (declared) return declared.get() as Json;
    }
    return options?.default as T;
  }

  /**
   * Binds pydoover 1.x declared tags (`tags.Number({ default, logOn })`, ...) to this app's
   * namespace: `const t = app.declareTags({ temp: new tags.Number({ default: 0 }) })`, then
   * `t.temp.get()` (declared default while nothing is stored) and `t.temp.setSync(21.5)`.
   */
  declareTags<D extends TagDeclarations>(declarations: D): BoundTags<D> {
    const bound = bindTags(declarations, {
      readTag: (key) => this.tags.getOwn(key),
      writeTag: (key, value, log) => this.tags.set(key, value, log ? LOG_OPTIONS : undefined),
    });
    for (const tag of Object.values(bound) as BoundTag[]) this.declaredTags.set(tag.key, tag);
    return bound;
  }

  /** Deletes a tag (committed with the loop, as setTag(key, null)). */
  deleteTag(key: string, options?: SetTagOptions): Promise<void> {
    return this.setTag(key, null, options);
  }

  /**
   * Calls `handler(value, change)` whenever the tag's committed value really changes (from the
   * effective diffs of `tag_values`), whoever wrote it; value is null when deleted. Returns the
   * function that stops it. A handler that throws is reported, never fatal.
   */
  onTagChange(key: string, handler: TagChangeHandler, options: TagAddress = {}): Unsubscribe {
    assertKey("tag key", key);
    if (options.appKey !== undefined) assertKey("app key", options.appKey);
    const path = options.global ? [key] : [options.appKey ?? this.appKey, key];
    if (typeof handler !== "function") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "onTagChange: handler must be a function");
    const watcher: TagWatcher = { path, key, appKey: options.global ? null : (options.appKey ?? this.appKey), handler };
    this.watchers.add(watcher);
    this.watchTags();
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /**
   * Sends this loop's pending tags now, in one write (step() and the loop do it after each
   * mainLoop). If the write fails, the tags stay pending for the next commit and it throws.
   */
  async commitTags(): Promise<void> {
    const sent = this.sendTags();
    if (sent !== undefined) await sent;
  }

  /**
   * commitTags' work; undefined when it is done (nothing to send, or an in-process session stored
   * it at once: a loop then makes no promise).
   */
  private sendTags(): Promise<void> | undefined {
    const commit = this.tags.take();
    if (commit === undefined) return this.sendLog();
    let stored: number | undefined;
    try {
      // With no watchers, the app's own event would tell it nothing the commit does not (the cache
      // is exact after its own write): an in-process session then leaves it out.
      const own = this.watchers.size === 0 ? this.unsubscribeTags : undefined;
      if (own !== undefined) stored = this.agent.tryCommitBuiltNow(TAG_CHANNEL, commit.data, own);
      else {
        const result = this.agent.tryPublishBuiltNow(TAG_CHANNEL, commit.data);
        if (result !== undefined) stored = versionOf(result) ?? -1;
      }
    } catch (error) {
      this.tags.fail(commit);
      return Promise.reject(error);
    }
    if (stored !== undefined) {
      this.tags.confirmAt(commit, stored);
      return this.sendLog();
    }
    return this.agent.publishBuilt(TAG_CHANNEL, commit.data).then(
      (result) => {
        this.tags.confirm(commit, result);
        return this.sendLog();
      },
      (error: unknown) => {
        this.tags.fail(commit);
        throw error;
      },
    );
  }

  private sendLog(): Promise<void> | undefined {
    const log = this.tags.takeLog();
    if (log === undefined) return undefined;
    return this.agent.createMessage(TAG_CHANNEL, log).then(ignore);
  }

  // ---------------------------------------------------------------- statistics

  /**
   * A rolling window (by sample count `{ window }` or by time `{ windowMs }`) backed by the core.
   * Push samples with `add(value)`; publish its summary with publishStats().
   */
  createRollingStats(options: RollingStatsOptions): RollingStats {
    return new RollingStats(options);
  }

  /** Sets the tag `key` to the summary `{ count, mean, min, max, stddev }` of `stats`. */
  async publishStats(key: string, stats: RollingStats | StatsSummary, options: SetTagOptions = {}): Promise<void> {
    const summary = stats instanceof RollingStats ? stats.summary() : stats;
    this.tags.set(key, { count: summary.count, mean: summary.mean, min: summary.min, max: summary.max, stddev: summary.stddev }, options);
  }

  // ---------------------------------------------------------------- alerts

  sendNotification(...args: Parameters<Alerts["sendNotification"]>): ReturnType<Alerts["sendNotification"]> {
    return this.alerts.sendNotification(...args);
  }

  sendAlertOnce(...args: Parameters<Alerts["sendAlertOnce"]>): ReturnType<Alerts["sendAlertOnce"]> {
    return this.alerts.sendAlertOnce(...args);
  }

  clearAlert(...args: Parameters<Alerts["clearAlert"]>): ReturnType<Alerts["clearAlert"]> {
    return this.alerts.clearAlert(...args);
  }

  // ---------------------------------------------------------------- internals

  private begin(): Promise<void> {
    this.begun ??= this.doBegin().catch((error) => {
      this.begun = undefined;
      throw error;
    });
    return this.begun;
  }

  private async doBegin(): Promise<void> {
    this.watchTags();
    const initial = await this.agent.getAggregate(TAG_CHANNEL);
    // Events are whole aggregates: one that arrived meanwhile is at least as new as this read.
    if (!this.seenTagEvent) this.tags.reset(initial);
    await RollingStats.load();
    await this.setup();
    await this.ui.start();
    this.ready = true;
  }

  private async run(): Promise<void> {
    try {
      await this.begin();
    } catch (error) {
      report(this.onError, error, `setup of app ${this.appKey}`);
      return;
    }
    let next = Date.now();
    while (!this.stopping) {
      try {
        await this.mainLoop();
        const sent = this.sendTags();
        if (sent !== undefined) await sent;
        if (this.ui.needsCommit) await this.ui.commit();
      } catch (error) {
        report(this.onError, error, `main loop of app ${this.appKey}`);
      }
      if (this.stopping) break;
      next += this.loopPeriodMs;
      const now = Date.now();
      if (next < now) next = now;
      await this.sleep(next - now);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        this.sleepTimer = undefined;
        resolve();
      };
      // A zero period still yields to the event loop between iterations.
      this.sleepTimer = setTimeout(this.wake, ms);
    });
  }

  private async shutdown(): Promise<void> {
    this.unsubscribeTags?.();
    this.unsubscribeTags = undefined;
    this.begun = undefined;
    this.ready = false;
    this.seenTagEvent = false;
    try {
      await this.ui.close();
    } catch (error) {
      report(this.onError, error, `closing the UI of app ${this.appKey}`);
    }
  }

  private watchTags(): void {
    if (this.unsubscribeTags) return;
    this.unsubscribeTags = this.agent.subscribe(TAG_CHANNEL, (event) => this.onTagEvent(event));
  }

  private onTagEvent(any: ChannelEvent): void {
    const type = headOf(any).type; // past a LocalBus event's Proxy (see headOf)
    if (type === "message") return;
    const event = any as Exclude<ChannelEvent, { type: "message" }>;
    // Only a resync is compared whole; aggregate events say what changed in their diff.
    const before = type === "resynced" && this.watchers.size > 0 ? this.tags.snapshot() : undefined;
    this.seenTagEvent = true;
    this.tags.onEvent(event);
    if (type === "sync" || this.watchers.size === 0) return;
    for (const w of [...this.watchers]) {
      let changed: boolean;
      if (event.type === "aggregate") changed = touches(event.diff, w.path);
      else changed = diffChanges(getPath(before, w.path) ?? null, getPath(event.aggregate, w.path) ?? null);
      if (!changed) continue;
      const value = getPath(event.aggregate, w.path) ?? null;
      const change: TagChange = { key: w.key, appKey: w.appKey, value, version: event.version };
      try {
        const r = w.handler(value, change);
        if (r && typeof (r as Promise<void>).then === "function") {
          (r as Promise<void>).then(undefined, (error) => report(this.onError, error, `onTagChange(${w.key}) handler`));
        }
      } catch (error) {
        report(this.onError, error, `onTagChange(${w.key}) handler`);
      }
    }
  }
}

const RESOLVED: Promise<void> = Promise.resolve();
const ignore = (): void => {};
const LOG_OPTIONS: SetTagOptions = Object.freeze({ log: true });

/** True when an effective diff changes anything at or below `path`. */
function touches(diff: Json, path: string[]): boolean {
  let d: Json | undefined = diff;
  for (const key of path) {
    if (!isObject(d)) return true; // a parent was replaced or deleted
    if (!Object.prototype.hasOwnProperty.call(d, key)) return false;
    d = d[key];
  }
  return true;
}
