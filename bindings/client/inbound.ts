// Frames from the hub, decoded and handed to whoever handles their family: answers (`ack`,
// `error`) to request matching, events (`sync`, `aggregate`, `message`) to the channel cache.
// Malformed input, and an error no request waits for, is reported; it never ends the connection.

import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import { decodeBatch, LIMITS, toFrame, type Frame } from "../protocol/frames.js";
import { MessageAt, readBatch } from "../protocol/msgpack-read.js";
import { report, type ErrorHandler } from "../sdk/errors.js";

/** Where answers go (request matching: false when nothing waited for the reqId). */
export interface AnswerSink {
  settle(reqId: number, result: unknown): boolean;
  refuse(reqId: number, code: string, message: string): boolean;
}

/** Where events go (the channel cache). */
export interface EventSink {
  onSync(subId: number, agentId: string, channel: string, version: number, aggregate: Uint8Array): void;
  onAggregate(f: Extract<Frame, { type: "aggregate" }>): void;
  /** The message's document is bytes [start, end) of `bytes` (read it before returning, or copy it). */
  onMessage(agentId: string, channel: string, id: string, ts: number, bytes: Uint8Array, start: number, end: number): void;
}

/** Decodes one batch from the hub and dispatches its frames in order. */
export function receiveBatch(bytes: Uint8Array, answers: AnswerSink, events: EventSink, onError: ErrorHandler): void {
  let raw: unknown[];
  try {
    // The protocol's reader, not msgpackr: see msgpack-read.ts (same values, same error codes).
    // Message events come as MessageAt, their documents left in place in `bytes`.
    raw = decodeBatch(bytes, LIMITS.maxFramesPerBatch, readBatch);
  } catch (err) {
    report(onError, err, "undecodable message from the hub");
    return;
  }
  for (let i = 0; i < raw.length; i++) {
    // A document that does not decode fails its frame only (reported), as a malformed frame does.
    try {
      const r = raw[i];
      // The bulk of traffic: message events, checked against the grammar as the batch was read.
      if (r instanceof MessageAt) events.onMessage(r.agentId, r.channel, r.id, r.ts, bytes, r.start, r.end);
      // Then acks: one that settles a request holds the reqId it was sent with, so it is well
      // formed without toFrame's checks and frame object; any other takes the full path.
      else if (!(Array.isArray(r) && r[0] === 16 && r.length === 3 && answers.settle(r[1], r[2]))) dispatch(r, answers, events, onError);
    } catch (err) {
      report(onError, err, "undecodable document from the hub");
    }
  }
}

function dispatch(r: unknown, answers: AnswerSink, events: EventSink, onError: ErrorHandler): void {
  let f: Frame;
  try {
    f = toFrame(r);
  } catch (err) {
    report(onError, err, "malformed frame from the hub");
    return;
  }
  switch (f.type) {
    case "ack":
      // offered to `settle` already (receiveBatch), which nothing waited for: dropped quietly
      break;
    case "error":
      if (!answers.refuse(f.reqId, f.code, f.message))
        report(onError, new TagwireError(f.code as TagwireErrorCode, f.message), "error from the hub");
      break;
    case "sync":
      events.onSync(f.subId, f.agentId, f.channel, f.version, f.aggregate);
      break;
    case "aggregate":
      events.onAggregate(f);
      break;
    case "message":
      events.onMessage(f.agentId, f.channel, f.id, f.ts, f.data, 0, f.data.length);
      break;
    default:
      report(onError, new TagwireError("TAGWIRE_ERR_PROTOCOL", `unexpected ${f.type} frame from the hub`), "receiving");
  }
}
