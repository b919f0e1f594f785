// Frames from the hub, decoded and handed to whoever handles their family: answers (`ack`,
// `error`) to request matching, events (`sync`, `aggregate`, `message`) to the channel cache.
// Malformed input, and an error no request waits for, is reported; it never ends the connection.

import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import { decodeBatch, FrameType, isUint, LIMITS, toFrame, type Frame } from "../protocol/frames.js";
import { readValue } from "../protocol/msgpack-read.js";
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
  onMessage(agentId: string, channel: string, id: string, ts: number, data: Uint8Array): void;
}

/** Decodes one batch from the hub and dispatches its frames in order. */
export function receiveBatch(bytes: Uint8Array, answers: AnswerSink, events: EventSink, onError: ErrorHandler): void {
  let raw: unknown[];
  try {
    // The protocol's reader, not msgpackr: see msgpack-read.ts (same values, same error codes).
    raw = decodeBatch(bytes, LIMITS.maxFramesPerBatch, readValue);
  } catch (err) {
    report(onError, err, "undecodable message from the hub");
    return;
  }
  for (let i = 0; i < raw.length; i++) {
    // A document that does not decode fails its frame only (reported), as a malformed frame does.
    try {
      dispatch(raw[i], answers, events, onError);
    } catch (err) {
      report(onError, err, "undecodable document from the hub");
    }
  }
}

function dispatch(r: unknown, answers: AnswerSink, events: EventSink, onError: ErrorHandler): void {
  // Fast path for the bulk of traffic, message events: the checks of toFrame, without a frame
  // object per event.
  if (Array.isArray(r) && r[0] === FrameType.message && r.length === 6) {
    const [, agentId, channel, id, ts, data] = r;
    if (
      typeof agentId === "string" &&
      typeof channel === "string" &&
      typeof id === "string" &&
      isUint(ts) &&
      data instanceof Uint8Array &&
      data.length > 0
    )
      return events.onMessage(agentId, channel, id, ts, data);
  }
  let f: Frame;
  try {
    f = toFrame(r);
  } catch (err) {
    report(onError, err, "malformed frame from the hub");
    return;
  }
  switch (f.type) {
    case "ack":
      answers.settle(f.reqId, f.result);
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
      events.onMessage(f.agentId, f.channel, f.id, f.ts, f.data);
      break;
    default:
      report(onError, new TagwireError("TAGWIRE_ERR_PROTOCOL", `unexpected ${f.type} frame from the hub`), "receiving");
  }
}
