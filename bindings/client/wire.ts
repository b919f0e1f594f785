// Small conversions between the session's values and frames: outbox writes to publish /
// createMessage frames, documents decoded as JSON, the message a write stands for locally.

import type { ClientFrame } from "../protocol/frames.js";
import { encodeValue } from "../protocol/msgpack.js";
import { readValue } from "../protocol/msgpack-read.js";
import type { Json, Message } from "../sdk/session.js";
import type { OutboxWrite } from "./outbox.js";

/** The frame that carries a write (its reqId is set when sent). */
export function writeFrame(w: OutboxWrite): ClientFrame {
  if (w.kind === "message") {
    return { type: "createMessage", reqId: 0, agentId: w.agentId, channel: w.channel, data: encodeValue(w.data), messageId: w.id };
  }
  const f: ClientFrame = { type: "publish", reqId: 0, agentId: w.agentId, channel: w.channel, diff: encodeValue(w.data), messageId: w.id };
  if (w.log) f.log = true;
  if (w.replace) f.replace = true;
  if (w.replaceKeys?.length) f.replaceKeys = w.replaceKeys;
  return f;
}

/** The document in `bytes` (or in bytes [start, end) of it). */
export function decodeDoc(bytes: Uint8Array, start = 0, end: number = bytes.length): Json {
  return readValue(bytes, start, end) as Json;
}

/**
 * The message a write became: with the id and ts from its ack, or, for a queued write, its own id
 * and the local clock's ts until the hub has it.
 */
export function localMessage(w: OutboxWrite, id = w.id, ts = Date.now()): Message {
  return { id, agentId: w.agentId, channel: w.channel, ts, data: w.data };
}
