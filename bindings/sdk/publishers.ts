// Publishing helpers behind Agent.publishThrottled and Agent.publishOnChange, backed by the core's
// per-key throttles (a RateLimiter per interval, a ChangeFilter per band, keyed by channel and
// by channel + key). The decisions are the core's; this file keeps what a throttle has to hold
// back and the timers that send it.
import type { Core } from "../core/index.js";
import type { ChangeFilter, RateLimiter } from "../core/throttle.js";
import { TagwireError } from "../core/errors.js";
import { applyDiff } from "./json.js";
import { assertKey } from "./names.js";
import { loadSharedCore } from "./shared-core.js";
import type { Json, PublishOptions, PublishResult } from "./session.js";

/**
 * Held writes are merged like diffs (later values win, nulls kept). One case cannot be merged
 * exactly (see Agent's coalescing): a held write that sets a key to a non-object and a later one
 * that sets an object under it; the object then merges into the key's older fields instead of
 * replacing them. A throttle cannot send early to avoid it, so it is documented here instead.
 */
export interface PublishThrottledOptions extends PublishOptions {
  /** At most one publish per this many milliseconds per channel (>= 0). */
  minIntervalMs: number;
}

export interface PublishOnChangeOptions {
  /** Publish when the value moved at least this much (absolute) from the last published. */
  threshold?: number;
  /** Publish when the value moved at least this percentage of |last published|. */
  percent?: number;
  /** Also log the published value. */
  log?: boolean;
}

type Send = (channel: string, data: Json, options: PublishOptions) => Promise<PublishResult>;
type Report = (error: unknown, context: string) => void;

interface Held {
  data: Json;
  options: PublishOptions;
  limiter: RateLimiter;
  timer: ReturnType<typeof setTimeout>;
}

export class Publishers {
  private core: Core | undefined;
  private readonly limiters = new Map<number, RateLimiter>();
  private readonly filters = new Map<string, ChangeFilter>();
  private readonly held = new Map<string, Held>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly send: Send,
    private readonly report: Report,
  ) {}

  async ready(): Promise<void> {
    this.core ??= await loadSharedCore();
  }

  async publishThrottled(channel: string, data: Json, options: PublishThrottledOptions): Promise<PublishResult | null> {
    const { minIntervalMs, ...publishOptions } = options ?? ({} as PublishThrottledOptions);
    const limiter = this.limiter(minIntervalMs);
    const held = this.held.get(channel);
    if (held) {
      // Inside the interval: fold into what is held (later values win, nothing is dropped).
      // A held replace is a whole state, so a later diff really merges into it (nulls delete).
      held.data = publishOptions.replace ? data : applyDiff(held.data, data, !!held.options.replace);
      held.options = mergeOptions(held.options, publishOptions);
      return null;
    }
    const now = Date.now();
    if (limiter.check(channel, now)) return this.send(channel, data, publishOptions);
    const timer = setTimeout(() => this.release(channel), Math.max(1, limiter.remainingMs(channel, now)));
    this.held.set(channel, { data, options: publishOptions, limiter, timer });
    return null;
  }

  async publishOnChange(channel: string, key: string, value: number, options: PublishOnChangeOptions = {}): Promise<PublishResult | null> {
    assertKey("key", key);
    const filter = this.filter(options);
    if (!filter.check(`${channel}\u0000${key}`, value)) return null;
    return this.send(channel, { [key]: value }, options.log ? { log: true } : {});
  }

  /** Sends every held write now. */
  async flush(): Promise<void> {
    const sends = [...this.held.keys()].map((channel) => this.sendHeld(channel, true));
    sends.push(...this.inFlight);
    const results = await Promise.allSettled(sends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  close(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
    for (const l of this.limiters.values()) l.dispose();
    for (const f of this.filters.values()) f.dispose();
    this.limiters.clear();
    this.filters.clear();
  }

  private limiter(minIntervalMs: number): RateLimiter {
    let l = this.limiters.get(minIntervalMs);
    if (!l) {
      if (typeof minIntervalMs !== "number") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "publishThrottled: minIntervalMs is required");
      l = this.core!.createRateLimiter({ minIntervalMs });
      this.limiters.set(minIntervalMs, l);
    }
    return l;
  }

  private filter(options: PublishOnChangeOptions): ChangeFilter {
    const id = `${options.threshold ?? ""}|${options.percent ?? ""}`;
    let f = this.filters.get(id);
    if (!f) {
      f = this.core!.createChangeFilter({ threshold: options.threshold, percent: options.percent });
      this.filters.set(id, f);
    }
    return f;
  }

  /** The interval of a held write ended: send it (and start the next interval). */
  private release(channel: string): void {
    const held = this.held.get(channel);
    if (!held) return;
    const now = Date.now();
    // Timers may fire a millisecond early: wait out the rest.
    if (!held.limiter.check(channel, now)) {
      held.timer = setTimeout(() => this.release(channel), Math.max(1, held.limiter.remainingMs(channel, now)));
      return;
    }
    const send = this.sendHeld(channel, false).then(undefined, (error) => this.report(error, `throttled publish to ${channel}`));
    this.inFlight.add(send);
    void send.finally(() => this.inFlight.delete(send));
  }

  private async sendHeld(channel: string, record: boolean): Promise<unknown> {
    const held = this.held.get(channel);
    if (!held) return undefined;
    this.held.delete(channel);
    clearTimeout(held.timer);
    if (record) {
      // A flush sends before the interval ended: it still counts as this channel's pass.
      held.limiter.reset(channel);
      held.limiter.check(channel, Date.now());
    }
    return this.send(channel, held.data, held.options);
  }
}

function mergeOptions(a: PublishOptions, b: PublishOptions): PublishOptions {
  const out: PublishOptions = { ...a, ...b };
  if (a.log || b.log) out.log = true;
  if (a.replace || b.replace) out.replace = true;
  if (a.replaceKeys || b.replaceKeys) out.replaceKeys = [...new Set([...(a.replaceKeys ?? []), ...(b.replaceKeys ?? [])])];
  return out;
}
