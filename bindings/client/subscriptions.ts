// The session's subscriptions and the table that maps a channel to the ones that match it.
//
// Events arrive by (agentId, channel); finding their listeners by matching every pattern per
// event would dominate the receive path, so the answer is kept per channel in a two-level map
// (agentId -> channel -> route, no string building per event) and thrown away whenever the set
// of subscriptions changes. A route also keeps the channel's cache entry at hand. The table is
// bounded: past `maxRoutes` channels it starts over.

import type { ChannelEvent } from "../sdk/session.js";
import { matchPattern } from "../sdk/names.js";

export interface Sub {
  id: number;
  agentId: string;
  pattern: string;
  listener: (event: ChannelEvent) => void;
  active: boolean;
  /** Acknowledged on an earlier connection: its syncs on a new one are `resynced`. */
  everAcked: boolean;
}

export interface Route<C> {
  /** `${agentId}/${channel}`, the routing key. */
  key: string;
  agentId: string;
  channel: string;
  /** Active subscriptions matching this channel. */
  subs: Sub[];
  /** The channel's cache entry, once looked up. */
  cached: C | undefined;
}

export function subMatches(sub: Sub, agentId: string, channel: string): boolean {
  return (sub.agentId === "+" || sub.agentId === agentId) && matchPattern(sub.pattern, channel);
}

export class Subscriptions<C> {
  #nextId = 1;
  readonly #byId = new Map<number, Sub>();
  #routes = new Map<string, Map<string, Route<C>>>();
  #routeCount = 0;
  readonly #maxRoutes: number;
  /** The route asked for last: a subscriber's events mostly come from one channel in a row. */
  #last: Route<C> | undefined;

  constructor(maxRoutes = 10_000) {
    this.#maxRoutes = maxRoutes;
  }

  add(agentId: string, pattern: string, listener: (event: ChannelEvent) => void): Sub {
    const sub: Sub = { id: this.#nextId++, agentId, pattern, listener, active: true, everAcked: false };
    this.#byId.set(sub.id, sub);
    this.clearRoutes();
    return sub;
  }

  remove(sub: Sub): void {
    sub.active = false;
    this.#byId.delete(sub.id);
    this.clearRoutes();
  }

  get(id: number): Sub | undefined {
    return this.#byId.get(id);
  }

  all(): IterableIterator<Sub> {
    return this.#byId.values();
  }

  /** True when some subscription matches the channel. */
  anyMatches(agentId: string, channel: string): boolean {
    for (const sub of this.#byId.values()) if (subMatches(sub, agentId, channel)) return true;
    return false;
  }

  /** The route of a channel; `cached` fills the cache slot of a new route. */
  route(agentId: string, channel: string, cached: (key: string) => C | undefined): Route<C> {
    const last = this.#last;
    if (last !== undefined && last.agentId === agentId && last.channel === channel) return last;
    let byChannel = this.#routes.get(agentId);
    if (!byChannel) {
      byChannel = new Map();
      this.#routes.set(agentId, byChannel);
    }
    let r = byChannel.get(channel);
    if (!r) {
      if (this.#routeCount >= this.#maxRoutes) {
        this.clearRoutes();
        return this.route(agentId, channel, cached);
      }
      const key = `${agentId}/${channel}`;
      const subs: Sub[] = [];
      for (const sub of this.#byId.values()) if (sub.active && subMatches(sub, agentId, channel)) subs.push(sub);
      r = { key, agentId, channel, subs, cached: cached(key) };
      byChannel.set(channel, r);
      this.#routeCount++;
    }
    this.#last = r;
    return r;
  }

  clearRoutes(): void {
    this.#last = undefined;
    this.#routes.clear();
    this.#routeCount = 0;
  }

  /** Ends every subscription (session closed). */
  clear(): void {
    for (const sub of this.#byId.values()) sub.active = false;
    this.#byId.clear();
    this.clearRoutes();
  }
}
