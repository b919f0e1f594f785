// One handler per frame family (docs/PROTOCOL.md, "Frames"): session (hello, ping),
// subscriptions, writes, reads. Each checks names, then permissions, then acts; a refused frame
// throws a TagwireError before anything is written, and the connection turns it into an error
// frame carrying the request's reqId.
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId, assertChannelPattern } from "../bindings/sdk/names.js";
import {
  LIMITS,
  PROTOCOL_VERSION,
  encodeFrame,
  encodeMessageAck,
  encodePublishAck,
  type CreateMessageFrame,
  type Frame,
  type GetAggregateFrame,
  type GetMessagesFrame,
  type HelloFrame,
  type ListChannelsFrame,
  type PublishFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
} from "../bindings/protocol/frames.js";
import { assertRead, assertSubscribe, assertWrite, authenticate, readableNames, type Principal } from "./access.js";
import type { Connection } from "./connection.js";
import { MAX_KEY_BYTES, type Channel, type HubState } from "./state.js";
import type { StoredMessage } from "./storage/storage.js";

/** An error that arrives after the handler returned (an asynchronous read or write), as a frame. */
function replyError(conn: Connection, reqId: number, err: unknown): void {
  if (err instanceof TagwireError) return conn.error(reqId, err.code, err.message);
  conn.ctx.log(`connection ${conn.id}: internal error: ${(err as Error)?.stack ?? err}`);
  conn.error(reqId, "TAGWIRE_ERR_INTERNAL", "internal error");
}

export function dispatch(conn: Connection, frame: Frame): void {
  if (frame.type === "hello") return hello(conn, frame);
  const principal = conn.principal;
  if (!principal) throw new TagwireError("TAGWIRE_ERR_AUTH", "send hello first");
  switch (frame.type) {
    case "subscribe":
      return subscribe(conn, principal, frame);
    case "unsubscribe":
      return unsubscribe(conn, frame);
    case "publish":
      return publish(conn, principal, frame);
    case "createMessage":
      return createMessage(conn, principal, frame);
    case "getAggregate":
      return getAggregate(conn, principal, frame);
    case "getMessages":
      return getMessages(conn, principal, frame);
    case "listChannels":
      return listChannels(conn, principal, frame);
    case "ping":
      return conn.ack(frame.reqId, { ts: Date.now() });
    default:
      throw new TagwireError("TAGWIRE_ERR_PROTOCOL", `${frame.type} frames go from the hub to clients, not back`);
  }
}

// ---------------------------------------------------------------------------------------------
// Session

function hello(conn: Connection, f: HelloFrame): void {
  const ctx = conn.ctx;
  if (conn.principal) throw new TagwireError("TAGWIRE_ERR_PROTOCOL", "hello was already accepted on this connection");
  if (f.protocol !== PROTOCOL_VERSION) {
    conn.error(f.reqId, "TAGWIRE_ERR_PROTOCOL", `this hub speaks protocol ${PROTOCOL_VERSION}, not ${f.protocol}`);
    conn.closeSoon(4400, "unsupported protocol version");
    return;
  }
  let principal: Principal;
  try {
    assertAgentId(f.agentId);
    principal = authenticate(ctx, f.token ?? conn.upgradeToken, f.agentId);
  } catch (err) {
    const e = err instanceof TagwireError ? err : new TagwireError("TAGWIRE_ERR_AUTH", String(err));
    conn.error(f.reqId, "TAGWIRE_ERR_AUTH", e.message);
    conn.closeSoon(4401, "authentication failed");
    return;
  }
  conn.principal = principal;
  const l = ctx.limits;
  conn.ack(f.reqId, {
    protocol: PROTOCOL_VERSION,
    agentId: f.agentId,
    role: principal.role === "anonymous" ? "operator" : principal.role,
    limits: {
      maxMessageBytes: l.maxMessageBytes,
      maxPayloadBytes: l.maxPayloadBytes,
      maxDepth: l.maxDepth,
      framesPerSecond: l.framesPerSecond === Infinity ? 0xffffffff : l.framesPerSecond,
      maxSubscriptions: l.maxSubscriptions,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

function subscribe(conn: Connection, principal: Principal, f: SubscribeFrame): void {
  assertAgentId(f.agentId, true);
  assertChannelPattern(f.pattern);
  const routePattern = `${f.agentId}/${f.pattern}`;
  if (routePattern.length > MAX_KEY_BYTES) {
    throw new TagwireError("TAGWIRE_ERR_NAME", `subscription ${routePattern} is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (conn.subs.has(f.subId)) throw new TagwireError("TAGWIRE_ERR_PROTOCOL", `subscription id ${f.subId} is already in use`);
  if (conn.subs.size >= conn.ctx.limits.maxSubscriptions) {
    throw new TagwireError("TAGWIRE_ERR_SIZE", `more than ${conn.ctx.limits.maxSubscriptions} subscriptions on one connection`);
  }
  assertSubscribe(principal, routePattern);
  const state = conn.ctx.state;
  // The syncs' size is checked against the reply budget before any is queued: sizes seen at a
  // version are remembered, so a batch of repeated subscribes does not re-encode aggregates
  // only to refuse them.
  const channels: Channel[] = [];
  let bytes = 0;
  for (const ch of state.matching(f.agentId, f.pattern)) {
    if (f.known && f.known[ch.key] === ch.version) continue;
    channels.push(ch);
    bytes += aggregateSize(state, ch) + ch.key.length + 16;
  }
  conn.checkReplyBudget(bytes, `sync of ${routePattern}`);
  conn.addSubscription(f.subId, routePattern);
  let synced = 0;
  for (const ch of channels) {
    conn.enqueue(
      encodeFrame({
        type: "sync",
        subId: f.subId,
        agentId: ch.agentId,
        channel: ch.name,
        version: ch.version,
        aggregate: state.aggregateOf(ch),
      }),
    );
    synced++;
  }
  conn.ack(f.reqId, { synced });
}

/** Encoded size of a channel's aggregate, remembered per version (encoding one costs its size). */
const sizes = new WeakMap<Channel, { version: number; bytes: number }>();
function aggregateSize(state: HubState, ch: Channel): number {
  const known = sizes.get(ch);
  if (known && known.version === ch.version) return known.bytes;
  const bytes = state.aggregateOf(ch).length;
  sizes.set(ch, { version: ch.version, bytes });
  return bytes;
}

function unsubscribe(conn: Connection, f: UnsubscribeFrame): void {
  if (!conn.removeSubscription(f.subId)) throw new TagwireError("TAGWIRE_ERR_PROTOCOL", `no subscription with id ${f.subId}`);
  conn.ack(f.reqId, null);
}

// ---------------------------------------------------------------------------------------------
// Writes

function checkWrite(conn: Connection, principal: Principal, agentId: string, channel: string): void {
  conn.ctx.state.checkAddress(agentId, channel);
  assertWrite(principal, agentId, channel);
}

function publish(conn: Connection, principal: Principal, f: PublishFrame): void {
  checkWrite(conn, principal, f.agentId, f.channel);
  // `done` runs when the write was applied (at once with SQLite; after the log ordered it in
  // cluster mode); the ack it queues leaves after the tick's commit.
  conn.ctx.state.publish(
    f.agentId,
    f.channel,
    f.diff,
    f,
    (out, err) => {
      if (err) return replyError(conn, f.reqId, err);
      if (f.reqId === 0) return;
      if (out!.message)
        conn.ack(f.reqId, { version: out!.version, diff: out!.diff, message: { id: out!.message.id, ts: out!.message.ts } });
      else conn.enqueue(encodePublishAck(f.reqId, out!.version, out!.diff));
    },
    principal.agentId,
  );
}

function createMessage(conn: Connection, principal: Principal, f: CreateMessageFrame): void {
  checkWrite(conn, principal, f.agentId, f.channel);
  conn.ctx.state.createMessage(
    f.agentId,
    f.channel,
    f.data,
    f.messageId,
    (out, err) => {
      if (err) return replyError(conn, f.reqId, err);
      if (f.reqId !== 0) conn.enqueue(encodeMessageAck(f.reqId, out!.message!.id, out!.message!.ts));
    },
    principal.agentId,
  );
}

// ---------------------------------------------------------------------------------------------
// Reads

function checkRead(conn: Connection, principal: Principal, agentId: string, channel: string): void {
  conn.ctx.state.checkAddress(agentId, channel);
  assertRead(principal, agentId, channel);
}

function getAggregate(conn: Connection, principal: Principal, f: GetAggregateFrame): void {
  checkRead(conn, principal, f.agentId, f.channel);
  const state = conn.ctx.state;
  const ch = state.channel(f.agentId, f.channel);
  if (ch) conn.checkReplyBudget(aggregateSize(state, ch), `getAggregate ${f.agentId}/${f.channel}`);
  conn.ack(f.reqId, state.aggregate(f.agentId, f.channel));
}

/** `limit` for a history query: default 100, at most 1000, at least 1. */
export function messageLimit(limit: number | undefined): number {
  if (limit === undefined) return LIMITS.defaultMessageLimit;
  if (!Number.isInteger(limit) || limit < 1) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "limit must be an integer of at least 1");
  return Math.min(limit, LIMITS.maxMessageLimit);
}

function getMessages(conn: Connection, principal: Principal, f: GetMessagesFrame): void {
  checkRead(conn, principal, f.agentId, f.channel);
  // Nothing is read from storage while the budget is spent, and a reply is cut off (newest
  // first, at least one message) at what is left of it.
  const room = conn.checkReplyBudget(1, `getMessages ${f.agentId}/${f.channel}`);
  const messages = conn.ctx.state.messages(f.agentId, f.channel, f.before, f.after, messageLimit(f.limit), room);
  const reply = (list: StoredMessage[]) => conn.ack(f.reqId, { messages: list.map((m) => ({ id: m.id, ts: m.ts, data: m.data })) });
  // A log-ordered storage may read history asynchronously; SQLite answers at once.
  if (Array.isArray(messages)) reply(messages);
  else messages.then(reply, (err) => replyError(conn, f.reqId, err));
}

function listChannels(conn: Connection, principal: Principal, f: ListChannelsFrame): void {
  assertAgentId(f.agentId);
  const names = readableNames(principal, f.agentId, conn.ctx.state.channelNames(f.agentId));
  conn.ack(f.reqId, { channels: names });
}
