// The frame codec shared by the hub and every client: docs/PROTOCOL.md is the grammar, this file
// follows it line by line. A transport message is ONE msgpack array of frames (a batch); each
// frame is a positional array whose first element is its type number. Payloads (diffs,
// aggregates, message data) are msgpack documents carried as `bin`, so the codec never decodes
// them and the hub can splice the core's bytes straight into event frames.
import { allocBytes } from "../core/bytes.js";
import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import { PIPELINE_MAX_FRAMES, PUBLISH_FLAG_LOG, PUBLISH_FLAG_REPLACE } from "../core/layout.generated.js";
import { isUint } from "./msgpack-read.js";
import {
  packr,
  encodeStr,
  uintSize,
  writeUint,
  strHeaderSize,
  binHeaderSize,
  writeBinHeader,
  arrayHeaderSize,
  writeArrayHeader,
  utf8Length,
  writeStr,
  writeStrHeader,
} from "./msgpack.js";

export const PROTOCOL_VERSION = 1;
export { isUint };

/** Type numbers on the wire (first element of every frame). */
export const FrameType = {
  hello: 1,
  subscribe: 2,
  unsubscribe: 3,
  publish: 4,
  createMessage: 5,
  getAggregate: 6,
  getMessages: 7,
  listChannels: 8,
  ping: 9,
  ack: 16,
  error: 17,
  sync: 18,
  aggregate: 19,
  message: 20,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** Publish flag bits (the core's pipeline reads the same bits: assembly/layout.json). */
export const PublishFlag = { log: PUBLISH_FLAG_LOG, replace: PUBLISH_FLAG_REPLACE } as const;

export const LIMITS = {
  maxMessageBytes: 2 * 1024 * 1024,
  hardMaxMessageBytes: 16 * 1024 * 1024,
  maxFramesPerBatch: PIPELINE_MAX_FRAMES,
  maxPayloadBytes: 1024 * 1024,
  maxDepth: 64,
  framesPerSecond: 10_000,
  maxSubscriptions: 1024,
  defaultMessageLimit: 100,
  maxMessageLimit: 1000,
  maxTokenBytes: 4096,
} as const;

/** Error codes a hub may send (docs/PROTOCOL.md, "Error codes"). */
export type ProtocolErrorCode = TagwireErrorCode | "TAGWIRE_ERR_INTERNAL";

export type HelloFrame = { type: "hello"; reqId: number; protocol: number; agentId: string; token?: string };
export type SubscribeFrame = {
  type: "subscribe";
  reqId: number;
  subId: number;
  agentId: string;
  pattern: string;
  /** Routing key -> version the client already holds. */
  known?: Record<string, number>;
};
export type UnsubscribeFrame = { type: "unsubscribe"; reqId: number; subId: number };
export type PublishFrame = {
  type: "publish";
  reqId: number;
  agentId: string;
  channel: string;
  /** msgpack bytes of the diff (or of the whole aggregate with `replace`). */
  diff: Uint8Array;
  log?: boolean;
  replace?: boolean;
  replaceKeys?: string[];
  messageId?: string;
};
export type CreateMessageFrame = {
  type: "createMessage";
  reqId: number;
  agentId: string;
  channel: string;
  data: Uint8Array;
  messageId?: string;
};
export type GetAggregateFrame = { type: "getAggregate"; reqId: number; agentId: string; channel: string };
export type GetMessagesFrame = {
  type: "getMessages";
  reqId: number;
  agentId: string;
  channel: string;
  before?: number;
  after?: number;
  limit?: number;
};
export type ListChannelsFrame = { type: "listChannels"; reqId: number; agentId: string };
export type PingFrame = { type: "ping"; reqId: number };
export type AckFrame = { type: "ack"; reqId: number; result: unknown };
export type ErrorFrame = { type: "error"; reqId: number; code: ProtocolErrorCode; message: string };
export type SyncFrame = {
  type: "sync";
  subId: number;
  agentId: string;
  channel: string;
  version: number;
  aggregate: Uint8Array;
};
export type AggregateFrame = { type: "aggregate"; agentId: string; channel: string; version: number; diff: Uint8Array };
export type MessageFrame = {
  type: "message";
  agentId: string;
  channel: string;
  id: string;
  ts: number;
  data: Uint8Array;
};

export type ClientFrame =
  | HelloFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | PublishFrame
  | CreateMessageFrame
  | GetAggregateFrame
  | GetMessagesFrame
  | ListChannelsFrame
  | PingFrame;
export type HubFrame = AckFrame | ErrorFrame | SyncFrame | AggregateFrame | MessageFrame;
export type Frame = ClientFrame | HubFrame;

// Ack results, by request type (docs/PROTOCOL.md, "result"). Documents stay msgpack bytes.
export interface HelloResult {
  protocol: number;
  agentId: string;
  role: string;
  limits: {
    maxMessageBytes: number;
    maxPayloadBytes: number;
    maxDepth: number;
    framesPerSecond: number;
    maxSubscriptions: number;
  };
}
export interface SubscribeResult {
  synced: number;
}
export interface MessageInfo {
  id: string;
  ts: number;
}
export interface PublishAck {
  version: number;
  diff: Uint8Array;
  message: MessageInfo | null;
}
export interface GetAggregateResult {
  version: number;
  aggregate: Uint8Array;
}
export interface GetMessagesResult {
  messages: { id: string; ts: number; data: Uint8Array }[];
}
export interface ListChannelsResult {
  channels: string[];
}
export interface PingResult {
  ts: number;
}

/** A frame that broke the grammar. `reqId` is set when it could be read (0 otherwise). */
export class FrameError extends TagwireError {
  readonly reqId: number;
  constructor(code: TagwireErrorCode, message: string, reqId = 0) {
    super(code, message);
    this.name = "FrameError";
    this.reqId = reqId;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The positional array of one frame (documents as Uint8Array, packed as bin). */
function toWire(f: Frame): unknown[] {
  switch (f.type) {
    case "hello":
      return [1, f.reqId, f.protocol, f.agentId, f.token ?? null];
    case "subscribe":
      return [2, f.reqId, f.subId, f.agentId, f.pattern, f.known ?? null];
    case "unsubscribe":
      return [3, f.reqId, f.subId];
    case "publish":
      return [
        4,
        f.reqId,
        f.agentId,
        f.channel,
        f.diff,
        (f.log ? PublishFlag.log : 0) | (f.replace ? PublishFlag.replace : 0),
        f.replaceKeys ?? null,
        f.messageId ?? null,
      ];
    case "createMessage":
      return [5, f.reqId, f.agentId, f.channel, f.data, f.messageId ?? null];
    case "getAggregate":
      return [6, f.reqId, f.agentId, f.channel];
    case "getMessages":
      return [7, f.reqId, f.agentId, f.channel, f.before ?? null, f.after ?? null, f.limit ?? null];
    case "listChannels":
      return [8, f.reqId, f.agentId];
    case "ping":
      return [9, f.reqId];
    case "ack":
      return [16, f.reqId, f.result ?? null];
    case "error":
      return [17, f.reqId, f.code, f.message];
    case "sync":
      return [18, f.subId, f.agentId, f.channel, f.version, f.aggregate];
    case "aggregate":
      return [19, f.agentId, f.channel, f.version, f.diff];
    case "message":
      return [20, f.agentId, f.channel, f.id, f.ts, f.data];
  }
}

/** msgpack bytes of ONE frame (not a batch): join several with `joinFrames`. */
export function encodeFrame(frame: Frame): Uint8Array {
  // Writes, the bulk of a client's traffic, are written by hand: one allocation, no positional
  // array, byte for byte what msgpackr makes of `toWire` (test/protocol.test.ts checks it).
  if ((frame.type === "createMessage" || frame.type === "publish") && frame.reqId >>> 0 === frame.reqId) return encodeWriteFrame(frame);
  return packr.pack(toWire(frame));
}

function encodeWriteFrame(frame: CreateMessageFrame | PublishFrame): Uint8Array {
  // Anything off the types (a caller outside TypeScript) gets msgpackr's own encoding.
  const names =
    typeof frame.agentId === "string" &&
    typeof frame.channel === "string" &&
    (frame.messageId === undefined || typeof frame.messageId === "string");
  if (!names) return packr.pack(toWire(frame));
  if (frame.type === "createMessage" && frame.data instanceof Uint8Array)
    return encodeWrite(5, frame.reqId, frame.agentId, frame.channel, frame.data, 0, frame.messageId);
  if (frame.type === "publish" && frame.replaceKeys === undefined && frame.diff instanceof Uint8Array) {
    const flags = (frame.log ? PublishFlag.log : 0) | (frame.replace ? PublishFlag.replace : 0);
    return encodeWrite(4, frame.reqId, frame.agentId, frame.channel, frame.diff, flags, frame.messageId);
  }
  return packr.pack(toWire(frame));
}

/**
 * `writeStr` for a frame sized on the bet that `s` is ASCII (`n` = `s.length`): one pass over a
 * name or id of a write, event or ack, where `utf8Length` then `writeStr` took two.
 * -1 when the bet lost (a unit above 0x7f; what was written is garbage): the caller sizes the
 * frame again with `utf8Length`, and with that `n` this is `writeStr`.
 */
function writeStrBet(out: Uint8Array, pos: number, s: string, n: number): number {
  if (n !== s.length) return writeStr(out, pos, s, n);
  pos = writeStrHeader(out, pos, n);
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    seen |= c;
    out[pos + i] = c;
  }
  return seen < 0x80 ? pos + n : -1;
}

/**
 * createMessage (type 5): `array(6), 5, uint reqId, str agentId, str channel, bin data, str|nil id`.
 * publish (type 4): `array(8), 4, uint reqId, str agentId, str channel, bin diff, uint flags, nil,
 * str|nil id` (replaceKeys nil; frames with keys take the generic path).
 */
function encodeWrite(
  type: 4 | 5,
  reqId: number,
  agentId: string,
  channel: string,
  doc: Uint8Array,
  flags: number,
  messageId: string | undefined,
  // UTF-8 lengths of the names (-1: no id), first bet to be their lengths (ASCII, see writeStrBet)
  a = agentId.length,
  c = channel.length,
  m = messageId === undefined ? -1 : messageId.length,
): Uint8Array {
  const size =
    2 +
    uintSize(reqId) +
    strHeaderSize(a) +
    a +
    strHeaderSize(c) +
    c +
    binHeaderSize(doc.length) +
    doc.length +
    (type === 4 ? 2 : 0) +
    (m < 0 ? 1 : strHeaderSize(m) + m);
  const out = allocBytes(size);
  out[0] = type === 4 ? 0x98 : 0x96;
  out[1] = type;
  let pos = writeStrBet(out, writeUint(out, 2, reqId), agentId, a);
  if (pos >= 0) pos = writeStrBet(out, pos, channel, c);
  if (pos >= 0) {
    pos = writeBinHeader(out, pos, doc.length);
    out.set(doc, pos);
    pos += doc.length;
    if (type === 4) {
      out[pos++] = flags;
      out[pos++] = 0xc0;
    }
    if (m < 0) out[pos] = 0xc0;
    else pos = writeStrBet(out, pos, messageId!, m);
  }
  if (pos >= 0) return out;
  // A bet lost: again with the true lengths (with them writeStrBet is writeStr: no third time).
  return encodeWrite(
    type,
    reqId,
    agentId,
    channel,
    doc,
    flags,
    messageId,
    utf8Length(agentId),
    utf8Length(channel),
    m < 0 ? m : utf8Length(messageId!),
  );
}

/** A batch (one transport message) holding `frames`, in order. At least one frame. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  if (frames.length === 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "a batch holds at least one frame");
  return packr.pack(frames.map(toWire));
}

/** A batch from frames already encoded one by one (`encodeFrame`, `encodeAggregateEvent`, ...). */
export function joinFrames(encoded: readonly Uint8Array[]): Uint8Array {
  const n = encoded.length;
  if (n === 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "a batch holds at least one frame");
  let size = arrayHeaderSize(n);
  for (let i = 0; i < n; i++) size += encoded[i]!.length;
  const out = allocBytes(size);
  let pos = writeArrayHeader(out, 0, n);
  for (let i = 0; i < n; i++) {
    out.set(encoded[i]!, pos);
    pos += encoded[i]!.length;
  }
  return out;
}

/**
 * The constant head of every aggregate (type 19) or message (type 20) event for one channel:
 * `array(5|6), type, str agentId, str channel`. The hub builds it once per channel and reuses it.
 */
export function eventPrefix(type: 19 | 20, agentId: string, channel: string): Uint8Array {
  const a = encodeStr(agentId);
  const c = encodeStr(channel);
  const out = new Uint8Array(2 + a.length + c.length);
  out[0] = type === 19 ? 0x95 : 0x96;
  out[1] = type;
  out.set(a, 2);
  out.set(c, 2 + a.length);
  return out;
}

/** aggregate event = prefix(19), uint version, bin diff. `diff` is copied. */
export function encodeAggregateEvent(prefix: Uint8Array, version: number, diff: Uint8Array): Uint8Array {
  const out = allocBytes(prefix.length + uintSize(version) + binHeaderSize(diff.length) + diff.length);
  out.set(prefix, 0);
  let pos = writeUint(out, prefix.length, version);
  pos = writeBinHeader(out, pos, diff.length);
  out.set(diff, pos);
  return out;
}

/** message event = prefix(20), str id, uint ts, bin data. */
export function encodeMessageEvent(prefix: Uint8Array, id: string, ts: number, data: Uint8Array): Uint8Array {
  return messageEvent(prefix, id, id.length, ts, data) ?? messageEvent(prefix, id, utf8Length(id), ts, data)!;
}

/** The event with `id` taking `n` bytes; undefined when `n` bet on ASCII and lost (`writeStrBet`). */
function messageEvent(prefix: Uint8Array, id: string, n: number, ts: number, data: Uint8Array): Uint8Array | undefined {
  const out = allocBytes(prefix.length + strHeaderSize(n) + n + uintSize(ts) + binHeaderSize(data.length) + data.length);
  out.set(prefix, 0);
  let pos = writeStrBet(out, prefix.length, id, n);
  if (pos < 0) return undefined;
  pos = writeUint(out, pos, ts);
  pos = writeBinHeader(out, pos, data.length);
  out.set(data, pos);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * The frames of a batch as raw positional arrays, without checking each frame (use `toFrame`).
 * Throws a FrameError: TAGWIRE_ERR_INCOMPLETE when the bytes end mid-value (a cut batch is never
 * read as fewer frames), TAGWIRE_ERR_MSGPACK for bytes that are not msgpack or have trailing
 * bytes, TAGWIRE_ERR_PROTOCOL when the value is not a non-empty array, TAGWIRE_ERR_SIZE for more
 * than `maxFrames` frames. Documents inside are views of `bytes` (not copies). `decode` reads the
 * msgpack value (default msgpackr; clients pass the protocol's reader, msgpack-read.ts).
 */
export function decodeBatch(
  bytes: Uint8Array,
  maxFrames: number = LIMITS.maxFramesPerBatch,
  decode: (bytes: Uint8Array) => unknown = unpackValue,
): unknown[] {
  if (bytes.length === 0) throw new FrameError("TAGWIRE_ERR_INCOMPLETE", "empty message");
  // Cheap pre-checks on the array header, before the decoder builds anything.
  const b0 = bytes[0]!;
  let declared: number;
  if ((b0 & 0xf0) === 0x90) declared = b0 & 0x0f;
  else if (b0 === 0xdc) declared = bytes.length >= 3 ? (bytes[1]! << 8) | bytes[2]! : -1;
  else if (b0 === 0xdd) declared = bytes.length >= 5 ? new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1) : -1;
  else throw notABatch(bytes, decode);
  if (declared === -1) throw new FrameError("TAGWIRE_ERR_INCOMPLETE", "message ends inside the batch header");
  if (declared === 0) throw new FrameError("TAGWIRE_ERR_PROTOCOL", "a batch holds at least one frame");
  if (declared > maxFrames) throw new FrameError("TAGWIRE_ERR_SIZE", `batch of ${declared} frames (limit ${maxFrames})`);
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    if ((err as { incomplete?: boolean }).incomplete) {
      throw new FrameError("TAGWIRE_ERR_INCOMPLETE", "message ends in the middle of a value");
    }
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new FrameError("TAGWIRE_ERR_DEPTH", "message nested too deeply");
    }
    throw new FrameError("TAGWIRE_ERR_MSGPACK", `malformed message: ${(err as Error).message}`);
  }
  return value as unknown[];
}

const unpackValue = (bytes: Uint8Array): unknown => packr.unpack(bytes);

/** A message that is not an array: not msgpack at all (MSGPACK, INCOMPLETE) or msgpack of the wrong shape (PROTOCOL). */
function notABatch(bytes: Uint8Array, decode: (bytes: Uint8Array) => unknown): FrameError {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    if ((err as { incomplete?: boolean }).incomplete)
      return new FrameError("TAGWIRE_ERR_INCOMPLETE", "message ends in the middle of a value");
    return new FrameError("TAGWIRE_ERR_MSGPACK", "the message is not msgpack");
  }
  if (holdsNeverUsed(value, 0)) return new FrameError("TAGWIRE_ERR_MSGPACK", "msgpack type 0xc1 is never used");
  return new FrameError("TAGWIRE_ERR_PROTOCOL", "a message must be an array of frames");
}

/**
 * What the decoder makes of the never-used type byte 0xc1: msgpackr returns a marker object (the
 * browser build's decoder throws instead, which decodeBatch already reports as MSGPACK).
 */
const NEVER_USED: unknown = (() => {
  try {
    return packr.unpack(new Uint8Array([0xc1]));
  } catch {
    return undefined;
  }
})();

/**
 * True when msgpackr met the never-used type byte 0xc1 somewhere in `v` (it decodes it to a
 * marker instead of failing). Only looked for once a frame was refused, to tell "not msgpack"
 * (TAGWIRE_ERR_MSGPACK) from "msgpack of the wrong shape" (TAGWIRE_ERR_PROTOCOL).
 */
function holdsNeverUsed(v: unknown, depth: number): boolean {
  if (NEVER_USED !== undefined && v === NEVER_USED) return true;
  if (depth > 64 || v === null || typeof v !== "object" || v instanceof Uint8Array) return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (holdsNeverUsed(x, depth + 1)) return true;
  return false;
}

/** Decodes a whole batch; throws a FrameError on the first frame that breaks the grammar. */
export function decodeFrames(bytes: Uint8Array): Frame[] {
  const raw = decodeBatch(bytes);
  const out: Frame[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = toFrame(raw[i]);
  return out;
}

function fail(reqId: number, what: string): never {
  throw new FrameError("TAGWIRE_ERR_PROTOCOL", what, reqId);
}

/** A non-negative integer that a number holds exactly (the grammar's uint). */

function uint(f: unknown[], i: number, reqId: number, name: string): number {
  const v = f[i];
  if (!isUint(v)) fail(reqId, `${name}: expected a non-negative integer`);
  return v;
}

function id32(f: unknown[], i: number, reqId: number, name: string): number {
  const v = uint(f, i, reqId, name);
  if (v > 0xffffffff) fail(reqId, `${name}: above 2^32-1`);
  return v;
}

function optUint(f: unknown[], i: number, reqId: number, name: string): number | undefined {
  return f[i] === null || f[i] === undefined ? undefined : uint(f, i, reqId, name);
}

function str(f: unknown[], i: number, reqId: number, name: string): string {
  const v = f[i];
  if (typeof v !== "string") fail(reqId, `${name}: expected a string`);
  return v;
}

function optStr(f: unknown[], i: number, reqId: number, name: string): string | undefined {
  return f[i] === null || f[i] === undefined ? undefined : str(f, i, reqId, name);
}

function doc(f: unknown[], i: number, reqId: number, name: string): Uint8Array {
  const v = f[i];
  if (!(v instanceof Uint8Array)) fail(reqId, `${name}: expected bin (a msgpack document)`);
  if (v.length === 0) fail(reqId, `${name}: empty document`);
  return v;
}

// Exact arity: a stray byte msgpackr tolerates (0xc1 reads as a placeholder object) cannot hide
// in an extra element. Extensions come as new frame types or a new protocol version.
function arity(f: unknown[], n: number, reqId: number, type: string): void {
  if (f.length !== n) fail(reqId, `${type} frame has ${f.length} elements, must have ${n}`);
}

/** Checks one raw frame from `decodeBatch` against the grammar; throws a FrameError. */
export function toFrame(raw: unknown): Frame {
  try {
    return frameOf(raw);
  } catch (err) {
    if (err instanceof FrameError && err.code === "TAGWIRE_ERR_PROTOCOL" && holdsNeverUsed(raw, 0)) {
      throw new FrameError("TAGWIRE_ERR_MSGPACK", "msgpack type 0xc1 is never used", err.reqId);
    }
    throw err;
  }
}

function frameOf(raw: unknown): Frame {
  if (!Array.isArray(raw) || raw.length === 0) fail(0, "a frame must be a non-empty array");
  const f = raw as unknown[];
  const t = f[0];
  // Every request carries its reqId second, so errors can name it even when later fields are bad.
  const reqId =
    t !== FrameType.sync && t !== FrameType.aggregate && t !== FrameType.message && isUint(f[1]) && f[1] <= 0xffffffff ? f[1] : 0;
  switch (t) {
    case 1: {
      arity(f, 5, reqId, "hello");
      return {
        type: "hello",
        reqId: id32(f, 1, reqId, "reqId"),
        protocol: uint(f, 2, reqId, "protocol"),
        agentId: str(f, 3, reqId, "agentId"),
        token: optStr(f, 4, reqId, "token"),
      };
    }
    case 2: {
      arity(f, 6, reqId, "subscribe");
      const known = f[5];
      let knownOut: Record<string, number> | undefined;
      if (known !== null && known !== undefined) {
        if (typeof known !== "object" || Array.isArray(known) || known instanceof Uint8Array) fail(reqId, "known: expected a map");
        knownOut = Object.create(null) as Record<string, number>;
        for (const [k, v] of Object.entries(known as Record<string, unknown>)) {
          if (!isUint(v)) fail(reqId, `known[${JSON.stringify(k)}]: expected a version`);
          knownOut[k] = v;
        }
      }
      const frame: SubscribeFrame = {
        type: "subscribe",
        reqId: id32(f, 1, reqId, "reqId"),
        subId: id32(f, 2, reqId, "subId"),
        agentId: str(f, 3, reqId, "agentId"),
        pattern: str(f, 4, reqId, "pattern"),
      };
      if (knownOut) frame.known = knownOut;
      return frame;
    }
    case 3:
      arity(f, 3, reqId, "unsubscribe");
      return { type: "unsubscribe", reqId: id32(f, 1, reqId, "reqId"), subId: id32(f, 2, reqId, "subId") };
    case 4: {
      arity(f, 8, reqId, "publish");
      const flags = uint(f, 5, reqId, "flags");
      if (flags > 3) throw new FrameError("TAGWIRE_ERR_ARGUMENT", `flags: unknown bits in ${flags}`, reqId);
      let replaceKeys: string[] | undefined;
      if (f[6] !== null && f[6] !== undefined) {
        if (!Array.isArray(f[6]) || !f[6].every((k) => typeof k === "string")) fail(reqId, "replaceKeys: expected an array of strings");
        replaceKeys = f[6] as string[];
      }
      const frame: PublishFrame = {
        type: "publish",
        reqId: id32(f, 1, reqId, "reqId"),
        agentId: str(f, 2, reqId, "agentId"),
        channel: str(f, 3, reqId, "channel"),
        diff: doc(f, 4, reqId, "diff"),
      };
      if (flags & PublishFlag.log) frame.log = true;
      if (flags & PublishFlag.replace) frame.replace = true;
      if (replaceKeys) frame.replaceKeys = replaceKeys;
      const messageId = optStr(f, 7, reqId, "messageId");
      if (messageId !== undefined) frame.messageId = messageId;
      return frame;
    }
    case 5: {
      arity(f, 6, reqId, "createMessage");
      const frame: CreateMessageFrame = {
        type: "createMessage",
        reqId: id32(f, 1, reqId, "reqId"),
        agentId: str(f, 2, reqId, "agentId"),
        channel: str(f, 3, reqId, "channel"),
        data: doc(f, 4, reqId, "data"),
      };
      const messageId = optStr(f, 5, reqId, "messageId");
      if (messageId !== undefined) frame.messageId = messageId;
      return frame;
    }
    case 6:
      arity(f, 4, reqId, "getAggregate");
      return {
        type: "getAggregate",
        reqId: id32(f, 1, reqId, "reqId"),
        agentId: str(f, 2, reqId, "agentId"),
        channel: str(f, 3, reqId, "channel"),
      };
    case 7: {
      arity(f, 7, reqId, "getMessages");
      const frame: GetMessagesFrame = {
        type: "getMessages",
        reqId: id32(f, 1, reqId, "reqId"),
        agentId: str(f, 2, reqId, "agentId"),
        channel: str(f, 3, reqId, "channel"),
      };
      const before = optUint(f, 4, reqId, "before");
      const after = optUint(f, 5, reqId, "after");
      const limit = optUint(f, 6, reqId, "limit");
      if (before !== undefined) frame.before = before;
      if (after !== undefined) frame.after = after;
      if (limit !== undefined) frame.limit = limit;
      return frame;
    }
    case 8:
      arity(f, 3, reqId, "listChannels");
      return { type: "listChannels", reqId: id32(f, 1, reqId, "reqId"), agentId: str(f, 2, reqId, "agentId") };
    case 9:
      arity(f, 2, reqId, "ping");
      return { type: "ping", reqId: id32(f, 1, reqId, "reqId") };
    case 16:
      arity(f, 3, reqId, "ack");
      return { type: "ack", reqId: id32(f, 1, reqId, "reqId"), result: f[2] };
    case 17:
      arity(f, 4, reqId, "error");
      return {
        type: "error",
        reqId: id32(f, 1, reqId, "reqId"),
        code: str(f, 2, reqId, "code") as ProtocolErrorCode,
        message: str(f, 3, reqId, "message"),
      };
    case 18:
      arity(f, 6, 0, "sync");
      return {
        type: "sync",
        subId: id32(f, 1, 0, "subId"),
        agentId: str(f, 2, 0, "agentId"),
        channel: str(f, 3, 0, "channel"),
        version: uint(f, 4, 0, "version"),
        aggregate: doc(f, 5, 0, "aggregate"),
      };
    case 19:
      arity(f, 5, 0, "aggregate");
      return {
        type: "aggregate",
        agentId: str(f, 1, 0, "agentId"),
        channel: str(f, 2, 0, "channel"),
        version: uint(f, 3, 0, "version"),
        diff: doc(f, 4, 0, "diff"),
      };
    case 20:
      arity(f, 6, 0, "message");
      return {
        type: "message",
        agentId: str(f, 1, 0, "agentId"),
        channel: str(f, 2, 0, "channel"),
        id: str(f, 3, 0, "id"),
        ts: uint(f, 4, 0, "ts"),
        data: doc(f, 5, 0, "data"),
      };
    default:
      fail(reqId, `unknown frame type ${JSON.stringify(t)}`);
  }
}

const ACK_KEY_VERSION = encodeStr("version");
const ACK_KEY_DIFF = encodeStr("diff");
const ACK_KEY_MESSAGE = encodeStr("message");

/**
 * The ack of a publish that logged no message, written by hand (the hub's hot path):
 * `[16, reqId, {version, diff: bin, message: nil}]`, byte for byte what `encodeFrame` makes.
 */
export function encodePublishAck(reqId: number, version: number, diff: Uint8Array): Uint8Array {
  const size =
    2 +
    uintSize(reqId) +
    1 +
    ACK_KEY_VERSION.length +
    uintSize(version) +
    ACK_KEY_DIFF.length +
    binHeaderSize(diff.length) +
    diff.length +
    ACK_KEY_MESSAGE.length +
    1;
  const out = allocBytes(size);
  out[0] = 0x93;
  out[1] = 16;
  let pos = writeUint(out, 2, reqId);
  out[pos++] = 0x83;
  out.set(ACK_KEY_VERSION, pos);
  pos = writeUint(out, pos + ACK_KEY_VERSION.length, version);
  out.set(ACK_KEY_DIFF, pos);
  pos = writeBinHeader(out, pos + ACK_KEY_DIFF.length, diff.length);
  out.set(diff, pos);
  pos += diff.length;
  out.set(ACK_KEY_MESSAGE, pos);
  out[pos + ACK_KEY_MESSAGE.length] = 0xc0;
  return out;
}

const ACK_KEY_ID = encodeStr("id");
const ACK_KEY_TS = encodeStr("ts");

/** The ack of a createMessage, written by hand: `[16, reqId, {id, ts}]`, as `encodeFrame` makes it. */
export function encodeMessageAck(reqId: number, id: string, ts: number): Uint8Array {
  return messageAck(reqId, id, id.length, ts) ?? messageAck(reqId, id, utf8Length(id), ts)!;
}

/** The ack with `id` taking `n` bytes; undefined when `n` bet on ASCII and lost (`writeStrBet`). */
function messageAck(reqId: number, id: string, n: number, ts: number): Uint8Array | undefined {
  const out = allocBytes(3 + uintSize(reqId) + ACK_KEY_ID.length + strHeaderSize(n) + n + ACK_KEY_TS.length + uintSize(ts));
  out[0] = 0x93;
  out[1] = 16;
  let pos = writeUint(out, 2, reqId);
  out[pos++] = 0x82;
  out.set(ACK_KEY_ID, pos);
  pos = writeStrBet(out, pos + ACK_KEY_ID.length, id, n);
  if (pos < 0) return undefined;
  out.set(ACK_KEY_TS, pos);
  writeUint(out, pos + ACK_KEY_TS.length, ts);
  return out;
}

/**
 * True when `bytes` is a batch of publish frames only, none with `log` or a messageId (both need
 * storage look-ups for idempotency): the batches the hub may hand whole to the core's pipeline
 * (which applies every publish of a batch before anything else). Reads headers and lengths only;
 * documents are skipped by their bin length. Anything unusual answers false, and the frames then
 * take the general path, which also reports any error.
 */
export function isPlainPublishBatch(bytes: Uint8Array): boolean {
  const end = bytes.length;
  let p = 0;
  const u16 = (q: number) => (bytes[q]! << 8) | bytes[q + 1]!;
  const u32 = (q: number) => bytes[q]! * 0x1000000 + ((bytes[q + 1]! << 16) | (bytes[q + 2]! << 8) | bytes[q + 3]!);
  let count: number;
  const b0 = bytes[0];
  if (b0 === undefined) return false;
  if ((b0 & 0xf0) === 0x90) {
    count = b0 & 0x0f;
    p = 1;
  } else if (b0 === 0xdc && end >= 3) {
    count = u16(1);
    p = 3;
  } else return false;
  if (count === 0) return false;
  // Skips a str (kind 0) or bin (kind 1); returns its body length, or -1.
  const skipBytes = (kind: number): number => {
    const b = bytes[p];
    let n: number;
    if (kind === 0 && b !== undefined && b >= 0xa0 && b <= 0xbf) {
      n = b & 0x1f;
      p += 1;
    } else if (b === (kind === 0 ? 0xd9 : 0xc4) && p + 1 < end) {
      n = bytes[p + 1]!;
      p += 2;
    } else if (b === (kind === 0 ? 0xda : 0xc5) && p + 2 < end) {
      n = u16(p + 1);
      p += 3;
    } else if (kind === 1 && b === 0xc6 && p + 4 < end) {
      n = u32(p + 1);
      p += 5;
    } else return -1;
    if (p + n > end) return -1;
    p += n;
    return n;
  };
  for (let i = 0; i < count; i++) {
    if (bytes[p] !== 0x98 || bytes[p + 1] !== FrameType.publish) return false;
    p += 2;
    // reqId: a uint up to 32 bits
    const r = bytes[p];
    if (r === undefined) return false;
    if (r < 0x80) p += 1;
    else if (r === 0xcc) p += 2;
    else if (r === 0xcd) p += 3;
    else if (r === 0xce) p += 5;
    else return false;
    if (skipBytes(0) < 0 || skipBytes(0) < 0 || skipBytes(1) < 0) return false;
    const flags = bytes[p];
    if (flags !== 0 && flags !== PublishFlag.replace) return false;
    p += 1;
    const rk = bytes[p];
    if (rk === 0xc0) p += 1;
    else if (rk !== undefined && (rk & 0xf0) === 0x90) {
      p += 1;
      for (let k = rk & 0x0f; k > 0; k--) if (skipBytes(0) < 0) return false;
    } else return false;
    // A messageId asks for replay protection, which the per-frame path checks in storage.
    if (bytes[p] !== 0xc0) return false;
    p += 1;
    if (p > end) return false;
  }
  return p === end;
}
