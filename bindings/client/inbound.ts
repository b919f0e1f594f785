// Frames from the hub, decoded and handed to whoever handles their family: answers (`ack`,
// `error`) to request matching, events (`sync`, `aggregate`, `message`) to the channel cache.
// Malformed input is reported and skipped; it never ends the connection.

import { TagwireError } from "../core/errors.js";
import { FrameType, decodeBatch, toFrame, type Frame } from "../protocol/frames.js";
import { report, type ErrorHandler } from "../sdk/errors.js";

export interface InboundHandlers {
  ack(reqId: number, result: unknown): void;
  error(reqId: number, code: string, message: string): void;
  sync(subId: number, agentId: string, channel: string, version: number, aggregate: Uint8Array): void;
  aggregate(f: Extract<Frame, { type: "aggregate" }>): void;
  message(agentId: string, channel: string, id: string, ts: number, data: Uint8Array): void;
  onError: ErrorHandler;
}

/** Decodes one batch from the hub and dispatches its frames in order. */
export function receiveBatch(bytes: Uint8Array, h: InboundHandlers): void {
  let raw: unknown[];
  try {
    raw = decodeBatch(bytes);
  } catch (err) {
    report(h.onError, err, "undecodable message from the hub");
    return;
  }
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i] as unknown[];
    // Fast path for the bulk of traffic, message events: the same checks as toFrame, without
    // building a frame object per event.
    if (Array.isArray(r) && r[0] === FrameType.message && r.length >= 6) {
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
        h.message(agentId, channel, id, ts, data);
        continue;
      }
    }
    let f: Frame;
    try {
      f = toFrame(raw[i]);
    } catch (err) {
      report(h.onError, err, "malformed frame from the hub");
      continue;
    }
    dispatch(f, h);
  }
}

function dispatch(f: Frame, h: InboundHandlers): void {
  switch (f.type) {
    case "ack":
      h.ack(f.reqId, f.result);
      return;
    case "error":
      h.error(f.reqId, f.code, f.message);
      return;
    case "sync":
      h.sync(f.subId, f.agentId, f.channel, f.version, f.aggregate);
      return;
    case "aggregate":
      h.aggregate(f);
      return;
    case "message":
      h.message(f.agentId, f.channel, f.id, f.ts, f.data);
      return;
    default:
      report(h.onError, new TagwireError("TAGWIRE_ERR_PROTOCOL", `unexpected ${f.type} frame from the hub`), "receiving");
  }
}
