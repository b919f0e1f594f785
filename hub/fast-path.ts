// The hot path: a batch of plain publishes (`isPlainPublishBatch`: no log, no message id, no
// replace) merged, routed and listed for fan-out by the core pipeline in one call. Only the hub's
// bookkeeping per frame is left here (version, channel record for a new channel, event frame
// spliced from the core's diff bytes, ack). Same outcome, frame for frame, as `applyPublish`.
// Only for storage that lets the hub order writes (ordering "local"): the pipeline applies the
// batch in the order it arrived.
import type { ProtocolErrorCode } from "../bindings/protocol/frames.js";
import { encodeAggregateEvent, encodePublishAck } from "../bindings/protocol/frames.js";
import { decodeValue } from "../bindings/protocol/msgpack.js";
import { EMPTY_DOC } from "./channel.js";
import type { Outlet } from "./outlets.js";
import type { HubParts } from "./parts.js";
import { isMapHeader, nonMapDiffError } from "./publish.js";

/** Where the acks and errors of a batch go: the connection that sent it. */
export type BatchReplyTo = Outlet & { error(reqId: number, code: ProtocolErrorCode, message: string): void };

/** `writer` restricts writes to one agent's channels (a device); undefined = any agent. */
export function ingestPublishes(h: HubParts, replyTo: BatchReplyTo, batch: Uint8Array, writer: string | undefined): void {
  h.tick.failIfDown();
  const res = h.pipeline.ingest(batch, writer === undefined ? {} : { writerAgentId: writer });
  for (let i = 0; i < res.count; i++) {
    const reqId = res.reqId(i);
    let error = res.error(i);
    if (error) {
      if (error.code === "TAGWIRE_ERR_PAYLOAD") {
        // The core refuses every diff that does not start with a map header alike; tell bytes
        // that are not msgpack apart, as the frame-by-frame path does.
        const diff = (decodeValue(res.frame(i)) as unknown[])[4];
        if (diff instanceof Uint8Array && !isMapHeader(diff[0])) error = nonMapDiffError(diff, h.limits.maxDepth, false);
      }
      replyTo.error(reqId, error.code, error.message);
      continue;
    }
    let ch = h.registry.bySlot(res.slot(i));
    if (!ch) {
      // First write to this channel: its names come from the frame (decoded once, not per write).
      const f = decodeValue(res.frame(i)) as [number, number, string, string];
      ch = h.registry.create(f[2], f[3], res.slot(i), res.channelId(i));
    }
    let diff: Uint8Array = EMPTY_DOC;
    if (res.changed(i)) {
      h.tick.changed(ch);
      diff = res.diff(i);
      const event = encodeAggregateEvent(ch.aggregateEventPrefix, ch.version, diff);
      if (reqId !== 0) diff = event.subarray(event.length - diff.length);
      // The core already routed this frame: its subscriber ids are read in place.
      const start = res.fanoutStart(i);
      h.outlets.enqueueTo(res.words, start, start + res.fanoutCount(i), event);
    }
    if (reqId !== 0) replyTo.enqueue(encodePublishAck(reqId, ch.version, diff));
  }
}
