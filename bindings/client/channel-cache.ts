// The per-channel cache behind subscriptions: {version, aggregate} for every channel a
// subscription has seen, kept in step with the hub's events by version number.
//
// - `sync` (first event of a subscription, or after a resubscribe) sets the entry; on a later
//   connection it is delivered as `resynced`.
// - `aggregate` must be exactly version + 1: older ones are dropped (a sync overtook them); a
//   gap means an update was missed, so the aggregate is re-read, events meanwhile are held, and
//   listeners get `resynced` before the held events.
// - after a resubscribe, messages logged while away are fetched (newest `catchUpLimit` per
//   channel) and delivered before live ones held meanwhile, dropping those already seen (by ts
//   and the ids seen at the newest ts).
//
// Event payloads: aggregates are deep-frozen and shared by every listener (as LocalBus does);
// message data is decoded once per listener, so it is the listener's own.

import { report, type ErrorHandler } from "../sdk/errors.js";
import { applyDiff, deepFreeze } from "../sdk/json.js";
import type { ChannelEvent, Json, Message, MessageQuery } from "../sdk/session.js";
import { Subscriptions, subMatches, type Route, type Sub } from "./subscriptions.js";
import { decodeDoc } from "./wire.js";

export interface Cached {
  agentId: string;
  channel: string;
  version: number;
  aggregate: Json;
  /** Aggregate events held while the aggregate is being re-read after a gap. */
  held?: AggregateEvent[];
  /** Newest message ts seen, and the ids seen at that ts (to drop duplicates on catch-up). */
  lastTs?: number;
  idsAtLastTs?: string[];
  /** Message events held while missed messages are fetched. */
  heldMessages?: MessageEvent[];
}

/** An `aggregate` frame as it comes from the hub. */
export interface AggregateEvent {
  agentId: string;
  channel: string;
  version: number;
  diff: Uint8Array;
}

interface MessageEvent {
  agentId: string;
  channel: string;
  id: string;
  ts: number;
  data: Uint8Array;
}

/** What the cache needs from the session: reads, and which connection is current. */
export interface CacheSource {
  readAggregate(agentId: string, channel: string): Promise<{ version: number; aggregate: Json }>;
  getMessages(agentId: string, channel: string, query: MessageQuery): Promise<Message[]>;
  /** The connection generation (see lifecycle.ts). */
  gen(): number;
  online(): boolean;
}

export interface ChannelCacheOptions {
  source: CacheSource;
  /** Messages fetched per channel to fill a gap after a reconnect (0 disables). */
  catchUpLimit: number;
  onError: ErrorHandler;
}

const EMPTY: Json = Object.freeze({}) as Json;

export class ChannelCache {
  readonly subs = new Subscriptions<Cached>();
  readonly #entries = new Map<string, Cached>();
  readonly #source: CacheSource;
  readonly #catchUpLimit: number;
  readonly #onError: ErrorHandler;
  /** Newest hub timestamp seen (messages, pings): where a catch-up starts for a new channel. */
  #lastHubTs = 0;

  constructor(options: ChannelCacheOptions) {
    this.#source = options.source;
    this.#catchUpLimit = options.catchUpLimit;
    this.#onError = options.onError;
  }

  /** A hub timestamp seen outside events (a ping reply). */
  noteHubTs(ts: number): void {
    if (ts > this.#lastHubTs) this.#lastHubTs = ts;
  }

  /** Versions held for the channels `sub` matches, for a resubscribe (undefined if none). */
  known(sub: Sub): Record<string, number> | undefined {
    let known: Record<string, number> | undefined;
    for (const [key, c] of this.#entries) {
      if (subMatches(sub, c.agentId, c.channel)) (known ??= {})[key] = c.version;
    }
    return known;
  }

  /** Removes a subscription and the entries no subscription matches any more. */
  unsubscribe(sub: Sub): void {
    this.subs.remove(sub);
    for (const [key, c] of this.#entries) if (!this.subs.anyMatches(c.agentId, c.channel)) this.#entries.delete(key);
  }

  /** Ends every subscription and forgets everything (session closed). */
  clear(): void {
    this.subs.clear();
    this.#entries.clear();
  }

  onSync(subId: number, agentId: string, channel: string, version: number, doc: Uint8Array): void {
    const sub = this.subs.get(subId);
    if (!sub?.active) return;
    const key = `${agentId}/${channel}`;
    let c = this.#entries.get(key);
    const aggregate = version === 0 ? EMPTY : deepFreeze(decodeDoc(doc));
    if (!c) {
      c = { agentId, channel, version, aggregate };
      this.#entries.set(key, c);
    } else if (version >= c.version || c.held === undefined) {
      c.version = version;
      c.aggregate = aggregate;
    }
    const type = sub.everAcked ? "resynced" : "sync";
    this.#deliver(sub, { type, agentId, channel, aggregate: c.aggregate, version: c.version });
  }

  onAggregate(f: AggregateEvent): void {
    const route = this.#route(f.agentId, f.channel);
    const subs = route.subs;
    if (subs.length === 0) return;
    // A channel first seen through this event starts from version 0, `{}`.
    const c = this.#cached(route);
    if (c.held) {
      c.held.push(f);
      return;
    }
    if (f.version <= c.version) return; // already have it (a sync overtook the event)
    if (f.version !== c.version + 1) {
      this.#resync(c, f);
      return;
    }
    const diff = decodeDoc(f.diff);
    c.aggregate = deepFreeze(applyDiff(c.aggregate, diff));
    c.version = f.version;
    const event: ChannelEvent = {
      type: "aggregate",
      agentId: f.agentId,
      channel: f.channel,
      aggregate: c.aggregate,
      diff: deepFreeze(diff),
      version: f.version,
    };
    for (let i = 0; i < subs.length; i++) this.#deliver(subs[i]!, event);
  }

  /** A message event; its document is bytes [start, end) of `bytes`, read before this returns. */
  onMessage(agentId: string, channel: string, id: string, ts: number, bytes: Uint8Array, start: number, end: number): void {
    const route = this.#route(agentId, channel);
    const subs = route.subs;
    if (subs.length === 0) return;
    const c = this.#cached(route);
    if (c.heldMessages) {
      c.heldMessages.push({ agentId, channel, id, ts, data: bytes.subarray(start, end) });
      return;
    }
    noteMessage(c, id, ts);
    if (ts > this.#lastHubTs) this.#lastHubTs = ts;
    // Each listener gets its own decoded copy instead of one deep-frozen shared one: decoding
    // a small document again is cheaper than freezing it (Object.freeze costs about a
    // microsecond per small object here), and no listener can change what another one sees.
    for (let i = 0; i < subs.length; i++) {
      const message: Message = { id, agentId, channel, ts, data: decodeDoc(bytes, start, end) };
      this.#deliver(subs[i]!, { type: "message", agentId, channel, message });
    }
  }

  /**
   * After a resubscribe: fetch messages logged while away on the channels `sub` holds, deliver
   * the ones not seen, then the live ones held meanwhile.
   */
  catchUp(sub: Sub): void {
    if (this.#catchUpLimit <= 0) return;
    const since = this.#lastHubTs;
    for (const c of this.#entries.values()) {
      if (!subMatches(sub, c.agentId, c.channel) || c.heldMessages) continue;
      const after = c.lastTs ?? since;
      if (after <= 0) continue;
      c.heldMessages = [];
      this.#source.getMessages(c.agentId, c.channel, { after: after - 1, limit: this.#catchUpLimit }).then(
        (messages) => this.#caughtUp(c, messages),
        (err: Error) => {
          this.#caughtUp(c, []);
          report(this.#onError, err, `fetching missed messages of ${c.agentId}/${c.channel}`);
        },
      );
    }
  }

  /** A version was skipped: re-read the aggregate, hold events until then, emit `resynced`. */
  #resync(c: Cached, first: AggregateEvent): void {
    c.held = [first];
    const gen = this.#source.gen();
    this.#source.readAggregate(c.agentId, c.channel).then(
      ({ version, aggregate }) => {
        const held = c.held ?? [];
        c.held = undefined;
        if (gen !== this.#source.gen() && !this.#source.online()) return;
        if (version >= c.version) {
          c.version = version;
          c.aggregate = deepFreeze(aggregate);
          const event: ChannelEvent = { type: "resynced", agentId: c.agentId, channel: c.channel, aggregate: c.aggregate, version };
          for (const sub of this.#route(c.agentId, c.channel).subs) this.#deliver(sub, event);
        }
        for (const f of held) this.onAggregate(f);
      },
      (err: Error) => {
        c.held = undefined;
        report(this.#onError, err, `resync of ${c.agentId}/${c.channel}`);
      },
    );
  }

  #caughtUp(c: Cached, messages: Message[]): void {
    const held = c.heldMessages ?? [];
    c.heldMessages = undefined;
    const subs = this.#route(c.agentId, c.channel).subs;
    for (const m of messages) {
      if (seen(c, m.id, m.ts)) continue;
      noteMessage(c, m.id, m.ts);
      const event: ChannelEvent = {
        type: "message",
        agentId: c.agentId,
        channel: c.channel,
        message: deepFreeze(m as unknown as Json) as unknown as Message,
      };
      for (const sub of subs) this.#deliver(sub, event);
    }
    for (const m of held) {
      if (seen(c, m.id, m.ts)) continue;
      this.onMessage(m.agentId, m.channel, m.id, m.ts, m.data, 0, m.data.length);
    }
  }

  readonly #lookup = (key: string): Cached | undefined => this.#entries.get(key);

  #route(agentId: string, channel: string): Route<Cached> {
    return this.subs.route(agentId, channel, this.#lookup);
  }

  #cached(r: Route<Cached>): Cached {
    let c = r.cached ?? this.#entries.get(r.key);
    if (!c) {
      c = { agentId: r.agentId, channel: r.channel, version: 0, aggregate: EMPTY };
      this.#entries.set(r.key, c);
    }
    r.cached = c;
    return c;
  }

  #deliver(sub: Sub, event: ChannelEvent): void {
    if (!sub.active) return;
    try {
      sub.listener(event);
    } catch (err) {
      report(this.#onError, err, `listener for ${sub.agentId}/${sub.pattern}`);
    }
  }
}

function noteMessage(c: Cached, id: string, ts: number): void {
  if (c.lastTs === undefined || ts > c.lastTs) {
    c.lastTs = ts;
    if (c.idsAtLastTs && c.idsAtLastTs.length < 8) {
      c.idsAtLastTs.length = 0;
      c.idsAtLastTs.push(id);
    } else c.idsAtLastTs = [id];
  } else if (ts === c.lastTs) c.idsAtLastTs!.push(id);
}

/** True when message (id, ts) was already delivered on this channel (catch-up dedupe). */
function seen(c: Cached, id: string, ts: number): boolean {
  return c.lastTs !== undefined && (ts < c.lastTs || (ts === c.lastTs && c.idsAtLastTs!.includes(id)));
}
