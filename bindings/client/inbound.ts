// Frames from the hub, decoded and handed to whoever handles their family: answers (`ack`,
// `error`) to request matching, events (`sync`, `aggregate`, `message`) to the channel cache.
// Malformed input, and an error no request waits for, is reported; it never ends the connection.

import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import { FrameType, decodeBatch, scanHubBatch, toFrame, type HubBatchEvents } from "../protocol/frames.js";
import { report, type ErrorHandler } from "../sdk/errors.js";

/** Where answers go (request matching: false when nothing waited for the reqId). */
export interface AnswerSink {
  settle(reqId: number, result: unknown): boolean;
  refuse(reqId: number, code: string, message: string): boolean;
}

/** Where events go (the channel cache). Documents are `bytes[start, end)`, valid during the call. */
export interface EventSink extends HubBatchEvents {
  onSync(subId: number, agentId: string, channel: string, version: number, aggregate: Uint8Array): void;
}

/** Decodes one batch from the hub and dispatches its frames in order. */
export function receiveBatch(bytes: Uint8Array, answers: AnswerSink, events: EventSink, onError: ErrorHandler): void {
  // A batch of acks and events only (the bulk of traffic) is read without msgpackr.
  if (scanHubBatch(bytes, answers, events)) return;
  let raw: unknown[];
  try {
    raw = decodeBatch(bytes);
  } catch (err) {
    report(onError, err, "undecodable message from the hub");
    return;
  }
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i] as unknown[];
    // Fast path for the bulk of traffic, message events: the same checks as toFrame, without
    // building a frame object per event.
    if (Array.isArray(r) && r[0] === FrameType.message && r.length === 6) {
      const [, agentId, channel, id, ts, data] = r;
      if (
        typeof agentId === "string" &&
        typeof channel === "string" &&
        typeof id === "string" &&
        typeof ts === "number" &&
        Number.isInteger(ts) &&
        ts >= 0 &&
        data instanceof Uint8Array &&
        data.length > 0
      ) {
        events.onMessage(agentId, channel, id, ts, data, 0, data.length);
        continue;
      }
    }
    let f: ReturnType<typeof toFrame>;
    try {
      f = toFrame(raw[i]);
    } catch (err) {
      report(onError, err, "malformed frame from the hub");
      continue;
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
        events.onAggregate(f.agentId, f.channel, f.version, f.diff, 0, f.diff.length);
        break;
      case "message":
        events.onMessage(f.agentId, f.channel, f.id, f.ts, f.data, 0, f.data.length);
        break;
      default:
        report(onError, new TagwireError("TAGWIRE_ERR_PROTOCOL", `unexpected ${f.type} frame from the hub`), "receiving");
    }
  }
}
