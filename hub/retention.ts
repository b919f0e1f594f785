// How long a channel's messages are kept: by count (trimmed as messages arrive, in steps) and by
// age (expired on a timer). Aggregates are never dropped.
import type { Channel } from "./channel.js";
import type { ChannelRegistry } from "./registry.js";
import type { Storage } from "./storage/storage.js";
import type { Tick } from "./tick.js";

export interface RetentionOptions {
  /** Keep at most this many messages per channel (0 = no limit). Default 10,000. */
  maxMessagesPerChannel: number;
  /** Drop messages older than this (0 = keep forever). Default 30 days. */
  maxMessageAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionOptions = {
  maxMessagesPerChannel: 10_000,
  maxMessageAgeMs: 30 * 24 * 3600 * 1000,
};

export class Retention {
  readonly options: RetentionOptions;
  private readonly storage: Storage;
  private readonly tick: Tick;
  private readonly registry: ChannelRegistry;

  constructor(options: RetentionOptions, storage: Storage, tick: Tick, registry: ChannelRegistry) {
    this.options = options;
    this.storage = storage;
    this.tick = tick;
    this.registry = registry;
  }

  /** After a message was appended to `ch`: trims the oldest past the count limit. */
  afterAppend(ch: Channel): void {
    const max = this.options.maxMessagesPerChannel;
    // Trim in steps (1/8 slack) so a busy channel is not trimmed on every message.
    if (max > 0 && ch.messageCount > max + Math.max(1, max >>> 3)) {
      try {
        ch.messageCount -= this.storage.trimMessages(ch.id, max, ch.messageCount);
      } catch (err) {
        throw this.tick.storageFailed(err);
      }
    }
  }

  /** Drops messages past the age limit (called on a timer; committed with the next flush). */
  expire(now = Date.now()): number {
    if (this.tick.failed || this.options.maxMessageAgeMs <= 0) return 0;
    let removed: Map<number, number>;
    try {
      removed = this.storage.expireMessages(now - this.options.maxMessageAgeMs);
    } catch (err) {
      throw this.tick.storageFailed(err);
    }
    let total = 0;
    if (removed.size) {
      for (const ch of this.registry.all()) {
        const n = removed.get(ch.id);
        if (n) {
          ch.messageCount -= n;
          total += n;
        }
      }
    }
    this.tick.schedule();
    return total;
  }
}
