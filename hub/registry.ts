// The hub's channels and the one place a new channel comes into being (`create`: recorded in
// storage, given a core store slot and router id), whether its first write is a publish, a
// message or a publish through the core pipeline. `restore` puts stored channels back at start.
import { TagwireError } from "../bindings/core/errors.js";
import type { Router } from "../bindings/core/router.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { assertAgentId, assertChannelName, matchPattern } from "../bindings/sdk/names.js";
import { Channel } from "./channel.js";
import type { Storage, StoredChannel } from "./storage/storage.js";
import type { Tick } from "./tick.js";

/** Routing keys are `${agentId}/${channel}`; the router takes at most 255 bytes. */
export const MAX_KEY_BYTES = 255;

export class ChannelRegistry {
  private readonly store: ChannelStore;
  private readonly router: Router;
  private readonly storage: Storage;
  private readonly tick: Tick;
  private readonly channels = new Map<string, Channel>();
  /** Channels by core store slot (the pipeline reports slots). */
  private readonly slots: (Channel | undefined)[] = [];
  private readonly byAgent = new Map<string, Map<string, Channel>>();
  /**
   * The channel last looked up: a connection's writes mostly go to one channel, and comparing two
   * short strings is cheaper than hashing the frame's fresh strings for two map look-ups (a
   * write looks its channel up twice). Channels are never forgotten, so it never goes stale.
   */
  private last: Channel | undefined;

  constructor(store: ChannelStore, router: Router, storage: Storage, tick: Tick) {
    this.store = store;
    this.router = router;
    this.storage = storage;
    this.tick = tick;
  }

  get size(): number {
    return this.channels.size;
  }

  /** Throws TAGWIRE_ERR_NAME unless agentId/channel make a valid routing key. */
  checkAddress(agentId: string, channel: string): void {
    // Every known channel was checked when it was created.
    if (this.get(agentId, channel)) return;
    assertAgentId(agentId);
    assertChannelName(channel);
    if (agentId.length + 1 + channel.length > MAX_KEY_BYTES) {
      throw new TagwireError("TAGWIRE_ERR_NAME", `routing key ${agentId}/${channel} is longer than ${MAX_KEY_BYTES} bytes`);
    }
  }

  get(agentId: string, name: string): Channel | undefined {
    // Two lookups on the frame's own strings: joining them into the routing key first costs a
    // fresh string (built, flattened, hashed) per write, and a write looks its channel up twice.
    const last = this.last;
    if (last !== undefined && last.name === name && last.agentId === agentId) return last;
    const ch = this.byAgent.get(agentId)?.get(name);
    if (ch) this.last = ch;
    return ch;
  }

  bySlot(slot: number): Channel | undefined {
    return this.slots[slot];
  }

  /**
   * A channel's first write: records it in storage, then gives it its core store slot and router
   * id (opened here unless the caller already did: a publish applies into a fresh slot before it
   * knows the write is accepted, the pipeline opens both itself).
   */
  create(agentId: string, name: string, slot?: number, routeId?: number): Channel {
    let id: number;
    try {
      id = this.storage.createChannel(agentId, name, Date.now());
    } catch (err) {
      throw this.tick.storageFailed(err);
    }
    return this.remember(id, agentId, name, 0, 0, slot, routeId);
  }

  /** A stored channel back in the core at start: aggregate replaced in, version and count from storage. */
  restore(row: StoredChannel): Channel {
    const ch = this.remember(row.id, row.agent, row.name, row.version, row.messageCount);
    if (row.aggregate) this.store.apply(ch.slot, row.aggregate, { replace: true, doDelete: true });
    return ch;
  }

  private remember(
    storageId: number,
    agentId: string,
    name: string,
    version: number,
    messageCount: number,
    slot?: number,
    routeId?: number,
  ): Channel {
    const key = `${agentId}/${name}`;
    const ch = new Channel(
      storageId,
      agentId,
      name,
      slot ?? this.store.open(key),
      routeId ?? this.router.channelId(key),
      version,
      messageCount,
    );
    this.channels.set(key, ch);
    this.slots[ch.slot] = ch;
    let names = this.byAgent.get(agentId);
    if (!names) this.byAgent.set(agentId, (names = new Map()));
    names.set(name, ch);
    return ch;
  }

  /** Channel names of an agent, sorted. */
  names(agentId: string): string[] {
    const names = this.byAgent.get(agentId);
    return names ? [...names.keys()].sort() : [];
  }

  /** Existing channels whose routing key matches `pattern` (`agent/pattern`, "+" allowed first). */
  matching(agentId: string, pattern: string): Channel[] {
    const routePattern = `${agentId}/${pattern}`;
    const out: Channel[] = [];
    const scan = (names: Map<string, Channel>) => {
      for (const ch of names.values()) if (matchPattern(routePattern, ch.key)) out.push(ch);
    };
    if (agentId === "+") for (const names of this.byAgent.values()) scan(names);
    else {
      const names = this.byAgent.get(agentId);
      if (names) scan(names);
    }
    return out;
  }

  all(): IterableIterator<Channel> {
    return this.channels.values();
  }
}
