// The one seam between the SDK and where channels live. An Agent only ever talks to a Session:
// LocalBus implements it in process; the remote session (over any transport: WebSocket, MQTT)
// implements it against a hub. So every SDK feature works unchanged on every transport.
//
// Addresses: a channel belongs to an agent. Agent ids never contain "/", so the routing key of a
// channel is `${agentId}/${channel}` and a subscription pattern is `${agentIdOrPlus}/${pattern}`,
// matched by the core router with MQTT rules ("+" one level, "#" the rest).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Message {
  /** Unique per channel; a client may supply it so replays are idempotent. */
  id: string;
  agentId: string;
  channel: string;
  /** Milliseconds since the epoch, set by whoever stores the message. */
  ts: number;
  data: Json;
}

export type ChannelEvent =
  /** First event of every subscription for each matching channel that exists: its current state. */
  | { type: "sync"; agentId: string; channel: string; aggregate: Json; version: number }
  /**
   * The aggregate changed. `diff` is the effective diff (only what really changed), `aggregate`
   * the whole state after it.
   */
  | { type: "aggregate"; agentId: string; channel: string; aggregate: Json; diff: Json; version: number }
  /** A message was appended to the channel's log. */
  | { type: "message"; agentId: string; channel: string; message: Message }
  /**
   * After a reconnect the session found it had missed updates and re-read the aggregate
   * (remote sessions only).
   */
  | { type: "resynced"; agentId: string; channel: string; aggregate: Json; version: number };

export interface PublishOptions {
  /** Also append the data as a message to the channel's log. */
  log?: boolean;
  /** Replace the whole aggregate instead of merging. */
  replace?: boolean;
  /** Replace these top-level subtrees instead of merging into them. */
  replaceKeys?: string[];
  /** Message id for idempotent replays (with `log`). */
  messageId?: string;
}

export interface PublishResult {
  version: number;
  /** The effective diff; `{}` when nothing changed. */
  diff: Json;
  message?: Message;
}

export interface MessageQuery {
  limit?: number;
  /** Only messages with ts < before. */
  before?: number;
  /** Only messages with ts > after. */
  after?: number;
}

export type Unsubscribe = () => void;

export interface Session {
  publish(agentId: string, channel: string, data: Json, options?: PublishOptions): Promise<PublishResult>;
  /**
   * publish() with no options, done before returning, for a session that stores in process
   * (LocalBus): the same effects and result without a promise. Undefined when this write cannot
   * be done at once (not loaded yet, closed, a channel not written before); then use publish().
   * An Application's commit per loop goes this way, so a main loop costs no promise hops.
   */
  tryPublishNow?(agentId: string, channel: string, data: Json): PublishResult | undefined;
  /**
   * tryPublishNow for a writer that subscribed to the channel with `own` (a listener given to
   * subscribe) and keeps its own state of it from what it wrote (an Application's tag cache): the
   * write's event goes to every other subscriber but not to `own`, and only the new version is
   * returned (no result to build; -1 when the write cannot be done at once, as tryPublishNow's
   * undefined). With no other subscriber, no event is made at all.
   */
  tryCommitNow?(agentId: string, channel: string, data: Json, own: (event: ChannelEvent) => void): number;
  createMessage(agentId: string, channel: string, data: Json, options?: { messageId?: string }): Promise<Message>;
  /** The aggregate, or `{}` for a channel that has none yet. */
  getAggregate(agentId: string, channel: string): Promise<Json>;
  /** Newest last. */
  getMessages(agentId: string, channel: string, query?: MessageQuery): Promise<Message[]>;
  listChannels(agentId: string): Promise<string[]>;
  /** `agentId` may be "+" (any agent); `pattern` may use "+" and "#". */
  subscribe(agentId: string, pattern: string, listener: (event: ChannelEvent) => void): Unsubscribe;
  close(): Promise<void>;
}
