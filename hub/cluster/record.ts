// One write as it travels through the JetStream write stream (the stream message's payload).
//
//   record = array(1, kind: uint, agentId: str, channel: str, data: bin, flags: uint,
//                  replaceKeys: [str] | nil, messageId: str | nil, ts: uint, origin: str)
//
//   kind    0 publish (data = diff, flags as the publish frame: 1 log, 2 replace)
//           1 createMessage (data = message data, flags 0)
//   ts      the submitting hub's clock (ms) when it accepted the write. Every hub uses this value,
//           never its own clock, for the message timestamp and for `maxAgeMs`, so applying the
//           stream gives the same result on every hub.
//   origin  the submitting hub's id: it tells a hub which delivered writes are its own (to answer
//           the client that sent them).
//
// The subject carries the routing key too (docs/CLUSTER.md); the record repeats it so a record is
// readable on its own.
import { decodeValue, encodeValue } from "../../bindings/protocol/msgpack.js";

export const RECORD_VERSION = 1;

export const KIND_PUBLISH = 0;
export const KIND_MESSAGE = 1;

export interface WriteRecord {
  kind: number;
  agentId: string;
  channel: string;
  data: Uint8Array;
  flags: number;
  replaceKeys: string[] | undefined;
  messageId: string | undefined;
  ts: number;
  origin: string;
}

export function encodeRecord(r: WriteRecord): Uint8Array {
  return encodeValue([RECORD_VERSION, r.kind, r.agentId, r.channel, r.data, r.flags, r.replaceKeys ?? null, r.messageId ?? null, r.ts, r.origin]);
}

export function decodeRecord(bytes: Uint8Array): WriteRecord {
  const a = decodeValue(bytes) as unknown[];
  if (!Array.isArray(a) || a[0] !== RECORD_VERSION || a.length !== 10) throw new Error("not a tagwire write record (version 1)");
  return {
    kind: a[1] as number,
    agentId: a[2] as string,
    channel: a[3] as string,
    data: a[4] as Uint8Array,
    flags: a[5] as number,
    replaceKeys: (a[6] as string[] | null) ?? undefined,
    messageId: (a[7] as string | null) ?? undefined,
    ts: a[8] as number,
    origin: a[9] as string,
  };
}
