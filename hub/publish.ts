// The publish write path: merge (or replace, or replace some keys of) a channel's aggregate,
// optionally log the diff, fan the effective diff out. `checkPublish` runs on the hub that
// received the write, before it is submitted; `applyPublish` runs on every hub, in storage order,
// and is deterministic (same aggregate, version, diff and idempotency answer everywhere).
//
// Idempotency by message id: a logged publish is a replay when the channel's log holds its id;
// an unlogged one when storage recorded the id as applied (`claimWriteId`). A replay is answered
// with the current version and an empty diff and changes nothing: applying it again could undo a
// change another writer made in between.
import { TagwireError } from "../bindings/core/errors.js";
import { encodeAggregateEvent } from "../bindings/protocol/frames.js";
import { checkDocument } from "../bindings/protocol/msgpack.js";
import { EMPTY_DOC } from "./channel.js";
import { appendMessage, checkMessageId, ownBytes } from "./messages.js";
import type { HubParts } from "./parts.js";
import type { PublishWrite, StoredMessage, WriteOutcome } from "./storage/storage.js";

export interface PublishInput {
  log?: boolean;
  replace?: boolean;
  replaceKeys?: string[];
  messageId?: string;
}

/** As the core pipeline reads them (assembly/pipeline.ts). */
const MAX_REPLACE_KEYS = 64;

export function isMapHeader(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf);
}

/**
 * Why a diff that is not a map is refused: bytes that are not msgpack at all are
 * TAGWIRE_ERR_MSGPACK (or INCOMPLETE, DEPTH, as for any document); msgpack of another type
 * (a number, an array) is TAGWIRE_ERR_PAYLOAD.
 */
export function nonMapDiffError(diff: Uint8Array, maxDepth: number, replace: boolean | undefined): TagwireError {
  try {
    checkDocument(diff, maxDepth, Number.MAX_SAFE_INTEGER);
  } catch (err) {
    if (err instanceof TagwireError) return err;
  }
  return new TagwireError("TAGWIRE_ERR_PAYLOAD", replace ? "an aggregate must be a map" : "a diff must be a map");
}

/** Everything that can refuse a publish before it reaches the core: a refused write changes nothing. */
export function checkPublish(h: HubParts, agentId: string, name: string, diff: Uint8Array, options: PublishInput): void {
  h.tick.failIfDown();
  h.registry.checkAddress(agentId, name);
  checkMessageId(options.messageId);
  if (diff.length > h.limits.maxPayloadBytes) {
    throw new TagwireError("TAGWIRE_ERR_SIZE", `diff of ${diff.length} bytes (limit ${h.limits.maxPayloadBytes})`);
  }
  const keys = options.replaceKeys;
  if (keys && (keys.length > MAX_REPLACE_KEYS || keys.some((k) => Buffer.byteLength(k) > 255))) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `replaceKeys: at most ${MAX_REPLACE_KEYS} keys of at most 255 bytes`);
  }
  if (!isMapHeader(diff[0])) throw nonMapDiffError(diff, h.limits.maxDepth, options.replace);
}

/**
 * Applies a publish. The core applies first, into a fresh slot for a new channel, so a diff the
 * core refuses (malformed, too deep) leaves no channel behind and no claimed id (a corrected
 * resend must apply).
 */
export function applyPublish(h: HubParts, w: PublishWrite): WriteOutcome {
  const existing = h.registry.get(w.agentId, w.channel);
  let claimed: string | undefined;
  if (existing && w.messageId !== undefined) {
    if (w.log) {
      const seen = h.storage.findMessage(existing.id, w.messageId);
      if (seen) return { version: existing.version, diff: EMPTY_DOC, message: seen };
    } else {
      if (!claim(h, existing.id, w.messageId, w.ts)) return { version: existing.version, diff: EMPTY_DOC, message: undefined };
      claimed = w.messageId;
    }
  }
  const key = existing ? existing.key : `${w.agentId}/${w.channel}`;
  const slot = existing ? existing.slot : h.store.open(key);
  let result: { diff: Uint8Array; changed: boolean };
  try {
    result = h.store.apply(slot, w.diff, { replace: w.replace, replaceKeys: w.replaceKeys, doDelete: true });
  } catch (err) {
    if (!existing) h.store.remove(key);
    if (claimed !== undefined) {
      try {
        h.storage.releaseWriteId(existing!.id, claimed);
      } catch (e) {
        throw h.tick.storageFailed(e);
      }
    }
    throw err;
  }
  const ch = existing ?? h.registry.create(w.agentId, w.channel, slot);
  const effective = result.changed ? result.diff : EMPTY_DOC;
  if (result.changed) {
    h.tick.changed(ch);
    const subscribers = h.outlets.subscribers(ch);
    if (subscribers.length)
      h.outlets.enqueueTo(subscribers, 0, subscribers.length, encodeAggregateEvent(ch.aggregateEventPrefix, ch.version, effective));
  }
  let message: StoredMessage | undefined;
  if (w.log) message = appendMessage(h, ch, w.messageId ?? w.logId!, w.ts, ownBytes(w.diff));
  else if (w.messageId !== undefined && claimed === undefined) claim(h, ch.id, w.messageId, w.ts);
  return { version: ch.version, diff: effective, message };
}

function claim(h: HubParts, channelId: number, id: string, ts: number): boolean {
  h.tick.schedule();
  try {
    return h.storage.claimWriteId(channelId, id, ts);
  } catch (err) {
    throw h.tick.storageFailed(err);
  }
}
