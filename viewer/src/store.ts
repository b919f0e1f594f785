// What the page knows about the hub: agents, their channels (aggregate, version, when each key
// last changed) and the messages loaded so far. Fed by subscriptions on the session; views
// listen for changes and redraw on the next animation frame.
//
// Discovery: the protocol has no "list agents" call, so the page subscribes to every routing key
// it may read - "+/#" (every agent, every channel) for an unrestricted or grant-less token, else
// one subscription per grant (and a device's own channels) - and learns agents and channels from
// the first `sync` of each. Overlapping subscriptions deliver an event once per match: aggregates
// are kept by version and messages by id, so repeats change nothing.
import type { RemoteSession } from "../../bindings/client/remote-session.js";
import type { ChannelEvent, Json, Message } from "../../bindings/sdk/session.js";
import type { TokenClaims } from "./connection.js";

export interface ChannelState {
  readonly key: string;
  readonly agentId: string;
  readonly channel: string;
  aggregate: Json;
  version: number;
  /** When the page last saw this channel change (local clock, ms). */
  updatedAt: number;
  /** Path (keys joined by PATH_SEP) -> when it last changed; ancestors of a changed key included. */
  readonly changed: Map<string, number>;
  /** Loaded on demand (`loadMessages`), oldest first; undefined until then. */
  messages: Message[] | undefined;
  /** Ids of the messages held, to drop repeats. */
  readonly messageIds: Set<string>;
}

export interface AgentState {
  readonly id: string;
  readonly channels: Map<string, ChannelState>;
  updatedAt: number;
}

export const PATH_SEP = "\u0000";
/** Messages kept per channel in the page. */
const MAX_MESSAGES = 300;

export type StoreListener = {
  /** Agents or channels appeared. */
  structure?(): void;
  /** A channel's aggregate changed (or was first seen). */
  channel?(ch: ChannelState, event: ChannelEvent["type"]): void;
  /** A message arrived (live, or loaded). */
  message?(ch: ChannelState, message: Message, live: boolean): void;
};

/** The subscriptions that cover what `claims` may read (docs/PROTOCOL.md, roles). */
export function readablePatterns(claims: TokenClaims | undefined): Array<[agentId: string, pattern: string]> {
  if (!claims) return [["+", "#"]];
  const grants = claims.grants.map((g) => (g === "#" ? "+/#" : g));
  const list = claims.role === "device" ? [`${claims.agentId}/#`, ...grants] : grants.length ? grants : ["+/#"];
  const out: Array<[string, string]> = [];
  for (const g of list) {
    const slash = g.indexOf("/");
    if (slash > 0) out.push([g.slice(0, slash), g.slice(slash + 1)]);
  }
  return out;
}

export class Store {
  readonly agents = new Map<string, AgentState>();
  session: RemoteSession | undefined;
  private readonly listeners = new Set<StoreListener>();
  private unsubscribers: Array<() => void> = [];

  listen(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Follows a (new) session: forgets nothing already shown, resubscribes everything. */
  attach(session: RemoteSession, claims: TokenClaims | undefined): void {
    for (const off of this.unsubscribers) off();
    this.unsubscribers = [];
    this.session = session;
    for (const [agentId, pattern] of readablePatterns(claims)) {
      this.unsubscribers.push(session.subscribe(agentId, pattern, (event) => this.onEvent(event)));
    }
  }

  /** Forgets everything (another token may read other things). */
  reset(): void {
    this.agents.clear();
    this.emit((l) => l.structure?.());
  }

  channel(agentId: string, channel: string): ChannelState | undefined {
    return this.agents.get(agentId)?.channels.get(channel);
  }

  /** Reads the newest messages of a channel once (live ones are added as they come). */
  async loadMessages(ch: ChannelState, limit = 100): Promise<void> {
    if (ch.messages !== undefined || !this.session) return;
    ch.messages = [];
    let loaded: Message[];
    try {
      loaded = await this.session.getMessages(ch.agentId, ch.channel, { limit });
    } catch (error) {
      ch.messages = undefined;
      throw error;
    }
    // Live messages that arrived while loading are newer: keep them after the loaded ones.
    const live = ch.messages;
    ch.messages = [];
    ch.messageIds.clear();
    for (const m of [...loaded, ...live]) this.addMessage(ch, m);
    for (const m of loaded) this.emit((l) => l.message?.(ch, m, false));
  }

  private onEvent(event: ChannelEvent): void {
    const ch = this.ensure(event.agentId, event.channel);
    const now = Date.now();
    switch (event.type) {
      case "sync":
      case "resynced":
        if (event.version < ch.version && event.type === "sync") return;
        ch.aggregate = event.aggregate;
        ch.version = event.version;
        if (event.type === "resynced") ch.updatedAt = now;
        break;
      case "aggregate":
        if (event.version <= ch.version) return; // a repeat through an overlapping subscription
        ch.aggregate = event.aggregate;
        ch.version = event.version;
        ch.updatedAt = now;
        markChanged(ch.changed, event.diff, [], now);
        break;
      case "message": {
        if (ch.messageIds.has(event.message.id)) return;
        ch.updatedAt = now;
        if (ch.messages !== undefined) this.addMessage(ch, event.message);
        else {
          // Not loaded: remember recent ids only, to drop repeats.
          if (ch.messageIds.size > MAX_MESSAGES) ch.messageIds.clear();
          ch.messageIds.add(event.message.id);
        }
        this.touch(ch);
        this.emit((l) => l.message?.(ch, event.message, true));
        return;
      }
    }
    this.touch(ch);
    this.emit((l) => l.channel?.(ch, event.type));
  }

  private addMessage(ch: ChannelState, m: Message): void {
    if (ch.messageIds.has(m.id) && ch.messages!.some((x) => x.id === m.id)) return;
    ch.messageIds.add(m.id);
    ch.messages!.push(m);
    if (ch.messages!.length > MAX_MESSAGES) {
      for (const old of ch.messages!.splice(0, ch.messages!.length - MAX_MESSAGES)) ch.messageIds.delete(old.id);
    }
  }

  private touch(ch: ChannelState): void {
    const agent = this.agents.get(ch.agentId)!;
    if (ch.updatedAt > agent.updatedAt) agent.updatedAt = ch.updatedAt;
  }

  private ensure(agentId: string, channel: string): ChannelState {
    let agent = this.agents.get(agentId);
    let created = false;
    if (!agent) {
      agent = { id: agentId, channels: new Map(), updatedAt: 0 };
      this.agents.set(agentId, agent);
      created = true;
    }
    let ch = agent.channels.get(channel);
    if (!ch) {
      ch = {
        key: `${agentId}/${channel}`,
        agentId,
        channel,
        aggregate: {},
        version: 0,
        updatedAt: 0,
        changed: new Map(),
        messages: undefined,
        messageIds: new Set(),
      };
      agent.channels.set(channel, ch);
      created = true;
    }
    if (created) this.emit((l) => l.structure?.());
    return ch;
  }

  private emit(call: (l: StoreListener) => void): void {
    for (const l of this.listeners) {
      try {
        call(l);
      } catch (error) {
        console.error("tagwire viewer: a view failed to update", error);
      }
    }
  }
}

/** Records every path an effective diff touches (its leaves and their ancestors). */
function markChanged(changed: Map<string, number>, diff: Json, path: string[], now: number): void {
  if (path.length > 0) changed.set(path.join(PATH_SEP), now);
  if (diff !== null && typeof diff === "object" && !Array.isArray(diff)) {
    for (const [k, v] of Object.entries(diff)) markChanged(changed, v, [...path, k], now);
  }
  // Forget old marks now and then, so the map does not grow with every key ever changed.
  if (path.length === 0 && changed.size > 2000) {
    for (const [k, t] of changed) if (now - t > 5000) changed.delete(k);
  }
}

/** The value at `path` in `value`, or undefined. */
export function valueAt(value: Json | undefined, path: readonly string[]): Json | undefined {
  let v: Json | undefined = value;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) ? v[Number(k)] : v[k];
  }
  return v;
}
