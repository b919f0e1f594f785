// The message-log write path: createMessage (and the log entry of a publish with `log`). Message
// ids make writes idempotent: a replay of an id the channel holds returns the stored message and
// writes and sends nothing.
import { TagwireError } from "../bindings/core/errors.js";
import { encodeMessageEvent } from "../bindings/protocol/frames.js";
import { checkDocument } from "../bindings/protocol/msgpack.js";
import { randomId } from "../bindings/protocol/ids.js";
import { type Channel, EMPTY_DOC } from "./channel.js";
import type { HubParts } from "./parts.js";
import type { MessageWrite, StoredMessage, WriteOutcome } from "./storage/storage.js";

const MAX_MESSAGE_ID = 128;

/** Throws TAGWIRE_ERR_ARGUMENT unless `id` is absent or 1..128 printable characters. */
export function checkMessageId(id: string | undefined): void {
  if (id === undefined) return;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_MESSAGE_ID || hasControl(id)) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `messageId must be 1..${MAX_MESSAGE_ID} printable characters`);
  }
}

/** True when `s` holds a control character (C0 or DEL); a loop, since every message id is checked. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Ids for messages written without one: time-ordered, unique across hubs and restarts. */
export class MessageIds {
  private readonly prefix = randomId(3);
  private counter = 0;

  next(ts: number): string {
    return `${ts.toString(36)}-${this.prefix}${(this.counter++).toString(36)}`;
  }
}

/** Everything that can refuse a createMessage, checked before it is submitted. */
export function checkMessage(h: HubParts, agentId: string, name: string, data: Uint8Array, messageId: string | undefined): void {
  h.tick.failIfDown();
  h.registry.checkAddress(agentId, name);
  checkMessageId(messageId);
  checkDocument(data, h.limits.maxDepth, h.limits.maxPayloadBytes);
}

/**
 * The bytes a stored message keeps: a copy of a plain Uint8Array (an in-process caller may reuse
 * its array), a Buffer as it is. Buffers are decoded from a transport message nothing writes
 * again, and Buffer#slice makes a view, not a copy: this keeps what the hub always did for them
 * without allocating a second view per message.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? b : b.slice();
}

/** Applies a createMessage (on every hub, in storage order). */
export function applyMessage(h: HubParts, w: MessageWrite): WriteOutcome {
  // A repeated messageId is found by the insert itself (see appendMessage): no look-up first.
  const ch = h.registry.get(w.agentId, w.channel) ?? h.registry.create(w.agentId, w.channel);
  const message = appendMessage(h, ch, w.messageId ?? w.logId!, w.ts, ownBytes(w.data));
  return { version: ch.version, diff: EMPTY_DOC, message };
}

/**
 * Stores and fans out a message; with an id the channel already holds (a replay), the stored
 * message is returned instead and nothing is written or sent.
 */
export function appendMessage(h: HubParts, ch: Channel, id: string, ts: number, data: Uint8Array): StoredMessage {
  let inserted: boolean;
  try {
    inserted = h.storage.appendMessage(ch.id, id, ts, data);
  } catch (err) {
    throw h.tick.storageFailed(err);
  }
  h.tick.schedule();
  if (!inserted) return h.storage.findMessage(ch.id, id)!;
  ch.messageCount++;
  h.retention.afterAppend(ch);
  const subscribers = h.outlets.subscribers(ch);
  if (subscribers.length) h.outlets.enqueueTo(subscribers, 0, subscribers.length, encodeMessageEvent(ch.messageEventPrefix, id, ts, data));
  return { id, ts, data };
}
