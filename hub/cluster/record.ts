// One write as it travels through the JetStream write stream (the stream message's payload): the
// inputs of a `Write` (hub/storage/storage.ts), so every hub applies it identically.
//
//   record = array(2, kind: uint, agentId: str, channel: str, data: bin, flags: uint,
//                  replaceKeys: [str] | nil, messageId: str | nil, logId: str | nil,
//                  ts: uint, author: str | nil, origin: str, ref: uint)
//
//   kind    0 publish (data = diff; flags bit 0 log, bit 1 replace)
//           1 createMessage (data = message data; flags 0)
//   ts      the submitting hub's clock (ms) when it accepted the write. Every hub uses this value,
//           never its own clock (message timestamps), and the submitter chose `logId`, so the
//           stream's content alone decides the outcome.
//   origin  the submitting hub's id, and `ref` its counter: they tell the submitting hub which
//           delivered record answers which pending client request.
import { decodeValue, encodeValue } from "../../bindings/protocol/msgpack.js";
import type { Write } from "../storage/storage.js";

export const RECORD_VERSION = 2;

const KIND_PUBLISH = 0;
const KIND_MESSAGE = 1;
const FLAG_LOG = 1;
const FLAG_REPLACE = 2;

export interface WriteRecord {
  write: Write;
  origin: string;
  ref: number;
}

export function encodeRecord(r: WriteRecord): Uint8Array {
  const w = r.write;
  const pub = w.kind === "publish";
  return encodeValue([
    RECORD_VERSION,
    pub ? KIND_PUBLISH : KIND_MESSAGE,
    w.agentId,
    w.channel,
    pub ? w.diff : w.data,
    pub ? (w.log ? FLAG_LOG : 0) | (w.replace ? FLAG_REPLACE : 0) : 0,
    pub ? (w.replaceKeys ?? null) : null,
    w.messageId ?? null,
    w.logId ?? null,
    w.ts,
    w.author ?? null,
    r.origin,
    r.ref,
  ]);
}

export function decodeRecord(bytes: Uint8Array): WriteRecord {
  const a = decodeValue(bytes) as unknown[];
  if (!Array.isArray(a) || a[0] !== RECORD_VERSION || a.length !== 13)
    throw new Error(`not a tagwire write record (version ${RECORD_VERSION})`);
  const opt = <T>(v: unknown) => (v === null ? undefined : (v as T));
  const common = {
    agentId: a[2] as string,
    channel: a[3] as string,
    messageId: opt<string>(a[7]),
    logId: opt<string>(a[8]),
    ts: a[9] as number,
    author: opt<string>(a[10]),
  };
  const flags = a[5] as number;
  const write: Write =
    a[1] === KIND_PUBLISH
      ? {
          kind: "publish",
          ...common,
          diff: a[4] as Uint8Array,
          log: (flags & FLAG_LOG) !== 0,
          replace: (flags & FLAG_REPLACE) !== 0,
          replaceKeys: opt<string[]>(a[6]),
        }
      : { kind: "message", ...common, data: a[4] as Uint8Array };
  return { write, origin: a[11] as string, ref: a[12] as number };
}
