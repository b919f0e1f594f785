// The whole in-core path for publish frames: batch bytes -> parse envelope -> merge into the
// channel store -> route -> fan-out list, in ONE boundary crossing per batch.
//
// Input: a protocol batch (docs/PROTOCOL.md): a msgpack array of frames. Publish frames
//   array(4, reqId, agentId: str, channel: str, diff: bin, flags: uint, replaceKeys: [str]|nil,
//         messageId: str|nil)
// are handled here; every other frame is only located (type, offset, length) for JavaScript to
// decode, so the hub keeps one code path per frame family and the hot one never leaves wasm.
//
// Output region, reset per call:
//   records: count x PIPELINE_RECORD_SIZE bytes, in frame order, then diff bytes and fan-out lists.
//   The record's fields (status, type, frame offset/length, version, diff and fan-out ranges, slot,
//   channel id, reqId, changed) are laid out in assembly/layout.json, the one source the binding's
//   reader is generated from too.
//
// A writer restriction (the connection's own agent id, for device connections) refuses publishes
// to other agents' channels with ERR_FORBIDDEN before anything is touched.
import { validLevel } from "./names";
import { ERR_ARGUMENT, ERR_FORBIDDEN, ERR_INCOMPLETE, ERR_MSGPACK, ERR_NAME, ERR_NOT_FOUND, ERR_PAYLOAD, ERR_SIZE, OK } from "./errors";
import { ioInPtr, ioOutPtr, outAdvance, outEnsure, outPos, outReset } from "./io";
import { routerInternChannel, routerMatchId } from "./router";
import { hashBytes } from "./intern";
import { hashBytes as treeHash, keyEqual, mapTouch } from "./tree";
import { storeApplyInto, storeLastChanged, storeLastVersion, storeOpenAt, storeRecords, storeRemovals, storeRootMap } from "./store";
import { APPLY_DO_DELETE, APPLY_REPLACE, docSetReplaceKeys } from "./doc";

import { HandleTable } from "./handles";
import {
  FRAME_PUBLISH,
  PIPELINE_MAX_FRAMES as MAX_FRAMES,
  PIPELINE_MAX_REPLACE_KEYS as MAX_REPLACE_KEYS,
  PIPELINE_NOT_HANDLED as NOT_HANDLED,
  PIPELINE_RECORD_CHANGED,
  PIPELINE_RECORD_CHANNEL_ID,
  PIPELINE_RECORD_DIFF_LEN,
  PIPELINE_RECORD_DIFF_OFF,
  PIPELINE_RECORD_FAN_COUNT,
  PIPELINE_RECORD_FAN_OFF,
  PIPELINE_RECORD_FRAME_LEN,
  PIPELINE_RECORD_FRAME_OFF,
  PIPELINE_RECORD_REQ_ID,
  PIPELINE_RECORD_SIZE as RECORD,
  PIPELINE_RECORD_SLOT,
  PIPELINE_RECORD_STATUS,
  PIPELINE_RECORD_TYPE,
  PIPELINE_RECORD_VERSION,
  PUBLISH_FLAG_LOG as FLAG_LOG,
  PUBLISH_FLAG_REPLACE as FLAG_REPLACE,
} from "./layout.generated";

// Routing key scratch: agentId "/" channel, at most 255 + 1 + 255 bytes.
const keyBuf: usize = memory.data(512);
// replaceKeys as [u32 len][bytes] for docSetReplaceKeys.
const rkBuf: usize = memory.data(64 * (4 + 256));

/** A pipeline: the store and router it binds, and its routing-key cache (below). */
@unmanaged class PipelineState {
  storeH: i32;
  routerH: i32;
  cache: usize;
  mask: i32;
  used: i32;
  /** The store's removal count the cache was built at. */
  removals: u32;
}

const pipelines = new HandleTable();

// Routing-key cache: a publish to a key seen before skips name validation, the store's name index
// and the router's interning (one hash, one compare). Open addressing; an entry (24 bytes):
//   +0 hash u32  +4 key ptr u32 (own copy; 0 = empty cell)  +8 key length u32  +12 slot i32
//   +16 router channel id i32  +20 unused
// Capped at CACHE_MAX keys (then cleared), and cleared when the store removes any channel.
const ENTRY: usize = 24;
const CACHE_MAX: i32 = 1 << 16;

function cacheAlloc(cells: i32): usize {
  const bytes = <usize>cells * ENTRY;
  const t = heap.alloc(bytes);
  memory.fill(t, 0, bytes);
  return t;
}

function cacheClear(ps: PipelineState): void {
  const t = ps.cache;
  const cells = ps.mask + 1;
  for (let i = 0; i < cells; i++) {
    const e = t + <usize>i * ENTRY;
    const k = <usize>load<u32>(e, 4);
    if (k) heap.free(k);
  }
  memory.fill(t, 0, <usize>cells * ENTRY);
  ps.used = 0;
}

/** Binds a store and a router into a pipeline; returns its handle (>= 1). */
export function pipelineCreate(storeH: i32, routerH: i32): i32 {
  const ps = changetype<PipelineState>(heap.alloc(offsetof<PipelineState>()));
  ps.storeH = storeH;
  ps.routerH = routerH;
  ps.cache = cacheAlloc(256);
  ps.mask = 255;
  ps.used = 0;
  ps.removals = storeRemovals();
  return pipelines.claim(changetype<usize>(ps));
}

export function pipelineDispose(h: i32): i32 {
  const ps = changetype<PipelineState | null>(pipelines.get(h));
  if (!ps) return ERR_NOT_FOUND;
  cacheClear(ps);
  heap.free(ps.cache);
  heap.free(changetype<usize>(ps));
  pipelines.release(h);
  return OK;
}

/** The cache entry for key (k, n) with hash hv: the matching one, or the empty cell to fill. */
function cacheFind(t: usize, mask: u32, k: usize, n: u32, hv: u32): usize {
  let i = hv & mask;
  while (true) {
    const e = t + <usize>i * ENTRY;
    const kp = <usize>load<u32>(e, 4);
    if (!kp) return e;
    if (load<u32>(e) == hv && load<u32>(e, 8) == n && bytesEq(kp, k, n)) return e;
    i = (i + 1) & mask;
  }
}

function cacheGrow(ps: PipelineState): void {
  const t = ps.cache;
  const cells = ps.mask + 1;
  const ncells = cells << 1;
  const nt = cacheAlloc(ncells);
  const nmask = <u32>(ncells - 1);
  for (let i = 0; i < cells; i++) {
    const e = t + <usize>i * ENTRY;
    if (!load<u32>(e, 4)) continue;
    const d = cacheFind(nt, nmask, 0, 0xffffffff, load<u32>(e)); // never equal: finds an empty cell
    memory.copy(d, e, ENTRY);
  }
  heap.free(t);
  ps.cache = nt;
  ps.mask = <i32>nmask;
}

// ---- a minimal envelope reader (its own cursor: doc.ts owns the document reader's) ----

let p: usize = 0;
let end: usize = 0;
let err: i32 = OK;
let sPtr: usize = 0;
let sLen: u32 = 0;

@inline function fail(code: i32): void {
  if (err == OK) err = code;
}

function need(n: usize): bool {
  if (end - p < n) {
    fail(ERR_INCOMPLETE);
    return false;
  }
  return true;
}

function be16(q: usize): u32 {
  return <u32>bswap<u16>(load<u16>(q));
}
function be32(q: usize): u32 {
  return bswap<u32>(load<u32>(q));
}

/** Reads an array header; returns its length or -1 (with err set, or not an array). */
function readArray(): i32 {
  if (!need(1)) return -1;
  const b = <u32>load<u8>(p);
  if (b >= 0x90 && b <= 0x9f) { p += 1; return <i32>(b & 15); }
  if (b == 0xdc) { if (!need(3)) return -1; const n = be16(p + 1); p += 3; return <i32>n; }
  if (b == 0xdd) { if (!need(5)) return -1; const n = be32(p + 1); p += 5; return n > 0x7fffffff ? -1 : <i32>n; }
  return -1;
}

/** Reads a non-negative integer (or an integral float64) below 2^53; -1 if it is not one. */
function readUint(): f64 {
  if (!need(1)) return -1;
  const b = <u32>load<u8>(p);
  if (b < 0x80) { p += 1; return <f64>b; }
  if (b == 0xcc) { if (!need(2)) return -1; const v = <f64>load<u8>(p + 1); p += 2; return v; }
  if (b == 0xcd) { if (!need(3)) return -1; const v = <f64>be16(p + 1); p += 3; return v; }
  if (b == 0xce) { if (!need(5)) return -1; const v = <f64>be32(p + 1); p += 5; return v; }
  if (b == 0xcf) {
    if (!need(9)) return -1;
    const v = bswap<u64>(load<u64>(p + 1));
    p += 9;
    return v > 0x1fffffffffffff ? -1 : <f64>v;
  }
  if (b == 0xcb) {
    if (!need(9)) return -1;
    const v = reinterpret<f64>(bswap<u64>(load<u64>(p + 1)));
    p += 9;
    return v >= 0 && v <= 9007199254740991 && Math.floor(v) == v ? v : -1;
  }
  return -1;
}

/** Reads a str (kind 1) or bin (kind 2) body into sPtr/sLen; false if it is neither. */
function readBytes(kind: i32): bool {
  if (!need(1)) return false;
  const b = <u32>load<u8>(p);
  let n: u32 = 0;
  let h: usize = 1;
  if (kind == 1 && b >= 0xa0 && b <= 0xbf) n = b & 31;
  else if ((kind == 1 && b == 0xd9) || (kind == 2 && b == 0xc4)) { if (!need(2)) return false; n = <u32>load<u8>(p + 1); h = 2; }
  else if ((kind == 1 && b == 0xda) || (kind == 2 && b == 0xc5)) { if (!need(3)) return false; n = be16(p + 1); h = 3; }
  else if ((kind == 1 && b == 0xdb) || (kind == 2 && b == 0xc6)) { if (!need(5)) return false; n = be32(p + 1); h = 5; }
  else return false;
  if (!need(h + <usize>n)) return false;
  sPtr = p + h;
  sLen = n;
  p += h + <usize>n;
  return true;
}

@inline function readNil(): bool {
  if (p < end && load<u8>(p) == 0xc0) { p += 1; return true; }
  return false;
}

/** Skips one complete msgpack value of any type (for frames this pipeline does not handle). */
function skip(depth: i32): void {
  if (err) return;
  if (depth > 80) { fail(ERR_MSGPACK); return; }
  if (!need(1)) return;
  const b = <u32>load<u8>(p);
  let items: u64 = 0;
  if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) { p += 1; return; }
  if (b < 0x90) { p += 1; items = <u64>(b & 15) * 2; }
  else if (b < 0xa0) { p += 1; items = <u64>(b & 15); }
  else if (b < 0xc0) { const n = <usize>(b & 31); if (need(1 + n)) p += 1 + n; return; }
  else {
    switch (b) {
      case 0xcc: case 0xd0: if (need(2)) p += 2; return;
      case 0xcd: case 0xd1: if (need(3)) p += 3; return;
      case 0xca: case 0xce: case 0xd2: if (need(5)) p += 5; return;
      case 0xcb: case 0xcf: case 0xd3: if (need(9)) p += 9; return;
      case 0xd9: case 0xc4: { if (!need(2)) return; const n = <usize>load<u8>(p + 1); if (need(2 + n)) p += 2 + n; return; }
      case 0xda: case 0xc5: { if (!need(3)) return; const n = <usize>be16(p + 1); if (need(3 + n)) p += 3 + n; return; }
      case 0xdb: case 0xc6: { if (!need(5)) return; const n = <usize>be32(p + 1); if (need(5 + n)) p += 5 + n; return; }
      case 0xdc: { if (!need(3)) return; items = <u64>be16(p + 1); p += 3; break; }
      case 0xdd: { if (!need(5)) return; items = <u64>be32(p + 1); p += 5; break; }
      case 0xde: { if (!need(3)) return; items = <u64>be16(p + 1) * 2; p += 3; break; }
      case 0xdf: { if (!need(5)) return; items = <u64>be32(p + 1) * 2; p += 5; break; }
      case 0xd4: if (need(3)) p += 3; return;
      case 0xd5: if (need(4)) p += 4; return;
      case 0xd6: if (need(6)) p += 6; return;
      case 0xd7: if (need(10)) p += 10; return;
      case 0xd8: if (need(18)) p += 18; return;
      case 0xc7: { if (!need(3)) return; const n = <usize>load<u8>(p + 1); if (need(3 + n)) p += 3 + n; return; }
      case 0xc8: { if (!need(4)) return; const n = <usize>be16(p + 1); if (need(4 + n)) p += 4 + n; return; }
      case 0xc9: { if (!need(6)) return; const n = <usize>be32(p + 1); if (need(6 + n)) p += 6 + n; return; }
      default: fail(ERR_MSGPACK); return;
    }
  }
  // Every item takes at least one byte: a count beyond what is left cannot be satisfied.
  if (items > <u64>(end - p)) { fail(ERR_INCOMPLETE); return; }
  // Scalars and short strings are most of a batch: step over them here instead of recursing
  // (only where the recursion would not have refused the depth).
  const flat = depth < 80;
  for (let i: u64 = 0; i < items && !err; i++) {
    if (flat && p < end) {
      const c = <u32>load<u8>(p);
      if (c < 0x80 || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) { p += 1; continue; }
      if ((c & 0xe0) == 0xa0 || c == 0xc4) {
        const h: usize = c == 0xc4 ? 2 : 1;
        if (end - p < h) { fail(ERR_INCOMPLETE); return; }
        const n = c == 0xc4 ? <usize>load<u8>(p + 1) : <usize>(c & 31);
        if (end - p < h + n) { fail(ERR_INCOMPLETE); return; }
        p += h + n;
        continue;
      }
    }
    skip(depth + 1);
  }
}

@inline function bytesEq(a: usize, b: usize, n: u32): bool {
  return keyEqual(a, b, <usize>n);
}

// Per-frame fields the parse pass finds, for the passes after it (MAX_FRAMES x FIELDS bytes):
//   +0 agent ptr  +4 agent len  +8 channel ptr  +12 channel len  +16 diff ptr  +20 diff len
//   +24 flags u32  +28 replaceKeys count i32  +32 replaceKeys array ptr (in the batch)
//   +36 root map node (warmFrames)
const FIELDS: usize = 40;
const fields: usize = memory.data(40960); // MAX_FRAMES * FIELDS

/** The status of a batch the parse pass could not read: the code a walk over the whole batch
 *  gives (what callers always got), else the parse pass's own error. Never OK. */
function batchFailure(base: usize): i32 {
  const parseErr = err;
  p = base;
  err = OK;
  outReset();
  skip(0);
  if (err) return err;
  if (p != end) return ERR_MSGPACK;
  p = base;
  const count = readArray();
  if (count < 0) return err ? err : ERR_MSGPACK;
  if (<u32>count > <u32>MAX_FRAMES) return ERR_SIZE;
  if (count == 0) return ERR_MSGPACK;
  return parseErr ? parseErr : ERR_MSGPACK;
}

/**
 * Reads frame i's envelope at p (checks that need no store or router: types, lengths, the writer
 * restriction) into its record and `fields`; leaves p after the frame. False when the batch is
 * broken (err set).
 */
function parseFrame(i: i32, base: usize, writer: usize, writerLen: i32): bool {
  const frameStart = p;
  let st = OK;
  let type: u32 = 0;
  const n = readArray();
  if (n >= 1) {
    const t = readUint();
    if (t >= 0) type = <u32>t;
  }
  if (err) return false; // the batch is cut short or broken: nothing after this can be located
  const rec = ioRecord(i);
  if (type == FRAME_PUBLISH && n == 8) {
    const reqId = readUint();
    let agentPtr: usize = 0, agentLen: u32 = 0, chPtr: usize = 0, chLen: u32 = 0;
    let diffPtr: usize = 0, diffLen: u32 = 0, flags: f64 = 0, keys: i32 = 0, keysPtr: usize = 0;
    if (reqId < 0 || reqId > 4294967295) st = ERR_ARGUMENT;
    else if (!readBytes(1)) st = ERR_NAME;
    else {
      agentPtr = sPtr; agentLen = sLen;
      if (!readBytes(1)) st = ERR_NAME;
      else {
        chPtr = sPtr; chLen = sLen;
        if (!readBytes(2)) st = ERR_PAYLOAD;
        else {
          diffPtr = sPtr; diffLen = sLen;
          flags = readUint();
          if (flags < 0 || (<u32>flags & ~(FLAG_LOG | FLAG_REPLACE)) != 0) st = ERR_ARGUMENT;
          else if (!readNil()) {
            keysPtr = p;
            const k = readArray();
            if (k < 0 || <u32>k > <u32>MAX_REPLACE_KEYS) st = ERR_ARGUMENT;
            else {
              for (let j = 0; j < k; j++) {
                if (!readBytes(1) || sLen > 255) { st = ERR_ARGUMENT; break; }
              }
              keys = k;
            }
          }
          if (st == OK && !readNil() && !readBytes(1)) st = ERR_ARGUMENT; // messageId: JS reads it
        }
      }
    }
    // A refused frame may have stopped mid-way: finish it so the next starts at the right byte.
    if (st != OK) {
      p = frameStart;
      skip(1); // a frame sits at depth 1 of the batch
      if (err) return false;
    }
    if (st == OK && (agentLen < 1 || agentLen > 255 || chLen < 1 || agentLen + 1 + chLen > 255)) st = ERR_NAME;
    if (st == OK && writerLen > 0 && (<u32>writerLen != agentLen || !bytesEq(writer, agentPtr, agentLen))) st = ERR_FORBIDDEN;
    if (st == OK && (diffLen == 0 || (load<u8>(diffPtr) & 0xf0) != 0x80 && load<u8>(diffPtr) != 0xde && load<u8>(diffPtr) != 0xdf)) st = ERR_PAYLOAD;
    const f = fields + <usize>i * FIELDS;
    store<u32>(f, <u32>agentPtr);
    store<u32>(f, agentLen, 4);
    store<u32>(f, <u32>chPtr, 8);
    store<u32>(f, chLen, 12);
    store<u32>(f, <u32>diffPtr, 16);
    store<u32>(f, diffLen, 20);
    store<u32>(f, <u32>flags, 24);
    store<i32>(f, keys, 28);
    store<u32>(f, <u32>keysPtr, 32);
    store<i32>(rec, -1, PIPELINE_RECORD_SLOT);
    store<i32>(rec, -1, PIPELINE_RECORD_CHANNEL_ID);
    store<u32>(rec, reqId > 0 ? <u32>reqId : 0, PIPELINE_RECORD_REQ_ID);
  } else {
    p = frameStart;
    skip(1);
    if (err) return false;
    st = NOT_HANDLED;
  }
  store<i32>(rec, st, PIPELINE_RECORD_STATUS);
  store<u32>(rec, type, PIPELINE_RECORD_TYPE);
  store<u32>(rec, <u32>(frameStart - base), PIPELINE_RECORD_FRAME_OFF);
  store<u32>(rec, <u32>(p - frameStart), PIPELINE_RECORD_FRAME_LEN);
  return true;
}

/** Resolves a parsed publish's routing key to its store slot and router channel id (opening
 *  both the first time), into its record; or refuses it there. */
function routeFrame(ps: PipelineState, storeH: i32, routerH: i32, i: i32): void {
  const rec = ioRecord(i);
  const f = fields + <usize>i * FIELDS;
  const agentPtr = <usize>load<u32>(f), agentLen = load<u32>(f, 4);
  const chLen = load<u32>(f, 12);
  memory.copy(keyBuf, agentPtr, <usize>agentLen);
  store<u8>(keyBuf + <usize>agentLen, 0x2f);
  memory.copy(keyBuf + <usize>agentLen + 1, <usize>load<u32>(f, 8), <usize>chLen);
  const keyLen = agentLen + 1 + chLen;
  const hv = hashBytes(keyBuf, <i32>keyLen);
  const e = cacheFind(ps.cache, <u32>ps.mask, keyBuf, keyLen, hv);
  let slot = -1, channelId = -1, st = OK;
  if (load<u32>(e, 4)) {
    slot = load<i32>(e, 12);
    channelId = load<i32>(e, 16);
  } else if (!validLevel(agentPtr, agentLen)) {
    st = ERR_NAME;
  } else {
    slot = storeOpenAt(storeH, keyBuf, <i32>keyLen);
    if (slot < 0) st = -slot;
    else {
      channelId = routerInternChannel(routerH, keyBuf, <i32>keyLen);
      if (channelId < 0) st = -channelId;
      else cacheAdd(ps, e, hv, keyLen, slot, channelId);
    }
  }
  store<i32>(rec, st, PIPELINE_RECORD_STATUS);
  store<i32>(rec, slot, PIPELINE_RECORD_SLOT);
  store<i32>(rec, channelId, PIPELINE_RECORD_CHANNEL_ID);
}

// Warm-up: with thousands of aggregates most are out of cache, and merging a frame follows a chain
// of dependent loads (channel record -> map node -> the entry of each key), each a miss; applying
// frame by frame pays them one after another. This pass only READS the same addresses for the
// whole batch first, stage by stage, so the loads of a stage do not wait on each other and the CPU
// overlaps their misses (WebAssembly has no prefetch instruction); the merges then find the lines
// in cache. It changes nothing: a diff it cannot read just ends its scan early.
let warmSink: u32 = 0;

function warmFrames(storeH: i32, count: i32): void {
  const base = storeRecords(storeH);
  if (!base) return;
  let acc: u32 = 0;
  for (let i = 0; i < count; i++) {
    const rec = ioRecord(i);
    let m: usize = 0;
    if (load<i32>(rec, PIPELINE_RECORD_STATUS) == OK) m = storeRootMap(base, load<i32>(rec, PIPELINE_RECORD_SLOT));
    store<u32>(fields + <usize>i * FIELDS, <u32>m, 36);
  }
  for (let i = 0; i < count; i++) {
    const m = <usize>load<u32>(fields + <usize>i * FIELDS, 36);
    if (m) acc += load<u32>(m, 8);
  }
  for (let i = 0; i < count; i++) {
    const f = fields + <usize>i * FIELDS;
    const m = <usize>load<u32>(f, 36);
    if (m) acc += warmKeys(m, <usize>load<u32>(f, 16), <usize>load<u32>(f, 20));
  }
  warmSink += acc; // kept, so the loads are not optimised away
}

/** Touches the first probe cell of each top-level key of the diff at (d, len), while keys are
 *  short strings and values common scalars (anything else ends the scan: this is only a hint). */
function warmKeys(m: usize, d: usize, len: usize): u32 {
  const e = d + len;
  const b0 = <u32>load<u8>(d);
  if ((b0 & 0xf0) != 0x80) return 0;
  const n = b0 & 15;
  let q = d + 1;
  let acc: u32 = 0;
  for (let k: u32 = 0; k < n && q < e; k++) {
    const kb = <u32>load<u8>(q);
    if ((kb & 0xe0) != 0xa0) break;
    const kn = kb & 31;
    const kp = q + 1;
    q = kp + <usize>kn;
    if (q >= e) break;
    acc += mapTouch(m, treeHash(kp, kn), kn);
    const v = <u32>load<u8>(q);
    if (v < 0x80 || v >= 0xe0 || v == 0xc0 || v == 0xc2 || v == 0xc3) q += 1;
    else if (v == 0xcb || v == 0xcf || v == 0xd3) q += 9;
    else if (v == 0xca || v == 0xce || v == 0xd2) q += 5;
    else if (v == 0xcd || v == 0xd1) q += 3;
    else if (v == 0xcc || v == 0xd0) q += 2;
    else if ((v & 0xe0) == 0xa0) q += 1 + <usize>(v & 31);
    else break;
  }
  return acc;
}

/** Merges a routed publish into its aggregate and lists its fan-out, into its record. */
function applyFrame(storeH: i32, routerH: i32, flagsMask: i32, i: i32): void {
  const f = fields + <usize>i * FIELDS;
  const flags = load<u32>(f, 24);
  const keys = load<i32>(f, 28);
  let rec = ioRecord(i);
  const slot = load<i32>(rec, PIPELINE_RECORD_SLOT);
  const channelId = load<i32>(rec, PIPELINE_RECORD_CHANNEL_ID);
  if (keys > 0 && (flags & FLAG_REPLACE) == 0) {
    // The keys were checked by the parse pass: copy them as [u32 len][bytes] for doc.ts.
    p = <usize>load<u32>(f, 32);
    const k = readArray();
    let q = rkBuf;
    for (let j = 0; j < k; j++) {
      readBytes(1);
      store<u32>(q, sLen);
      memory.copy(q + 4, sPtr, <usize>sLen);
      q += 4 + <usize>sLen;
    }
    docSetReplaceKeys(rkBuf, keys);
  }
  const applyFlags = (flagsMask & APPLY_DO_DELETE) | ((flags & FLAG_REPLACE) ? APPLY_REPLACE : 0);
  let version: f64 = 0, diffOff = outPos(), dLen = 0, fanOff = 0, fanCount: u32 = 0, changed = false;
  const saveP = p, saveEnd = end;
  const st = storeApplyInto(storeH, slot, <usize>load<u32>(f, 16), <i32>load<u32>(f, 20), applyFlags);
  p = saveP; end = saveEnd;
  if (st == OK) {
    dLen = outPos() - diffOff;
    version = storeLastVersion();
    changed = storeLastChanged();
    if (changed) {
      const list = routerMatchId(routerH, channelId);
      if (list) {
        fanCount = load<u32>(list);
        // Align so JavaScript can view the ids as a Uint32Array in place.
        const pad = (4 - (outPos() & 3)) & 3;
        if (pad) { memory.fill(outEnsure(pad), 0, <usize>pad); outAdvance(pad); }
        fanOff = outPos();
        const bytes = <i32>fanCount << 2;
        memory.copy(outEnsure(bytes), list + 4, <usize>bytes);
        outAdvance(bytes);
      }
    }
  } else {
    diffOff = 0;
  }
  rec = ioRecord(i);
  store<i32>(rec, st, PIPELINE_RECORD_STATUS);
  store<f64>(rec, version, PIPELINE_RECORD_VERSION);
  store<u32>(rec, <u32>diffOff, PIPELINE_RECORD_DIFF_OFF);
  store<u32>(rec, <u32>dLen, PIPELINE_RECORD_DIFF_LEN);
  store<u32>(rec, <u32>fanOff, PIPELINE_RECORD_FAN_OFF);
  store<u32>(rec, fanCount, PIPELINE_RECORD_FAN_COUNT);
  store<u32>(rec, changed ? 1 : 0, PIPELINE_RECORD_CHANGED);
}

/**
 * Processes the batch in the input region's first `batchLen` bytes. When `writerLen` > 0, the
 * writer restriction (an agent id) follows the batch in the input region. `flagsMask` holds the
 * apply flags every publish gets (bit 0: doDelete). Returns the number of frames (records), or a
 * negative status when the batch itself is unreadable (then no record and nothing applied).
 *
 * Passes over the frames: the first parses every envelope into its record and `fields`, so the
 * whole batch is read before any frame is applied (a cut or trailing-garbage batch is refused
 * whole: a client never sees half a batch take effect) without a separate walk over it; then
 * every publish is routed, its aggregate's lines are warmed (warmFrames), and it is merged and
 * its fan-out listed, frame by frame in order.
 */
export function pipelineIngest(h: i32, batchLen: i32, writerLen: i32, flagsMask: i32): i32 {
  const ps = changetype<PipelineState | null>(pipelines.get(h));
  if (!ps) return -ERR_NOT_FOUND;
  if (ps.removals != storeRemovals()) {
    cacheClear(ps);
    ps.removals = storeRemovals();
  }
  const storeH = ps.storeH;
  const routerH = ps.routerH;
  const base = ioInPtr();
  const writer = base + <usize>batchLen;
  p = base;
  end = base + <usize>batchLen;
  err = OK;
  outReset();
  const count = readArray();
  if (err || count < 1 || <u32>count > <u32>MAX_FRAMES) return -batchFailure(base);
  // Records first, so their offsets are fixed while diffs and fan-out lists append after them.
  const recBytes = count * RECORD;
  memory.fill(outEnsure(recBytes), 0, <usize>recBytes);
  outAdvance(recBytes);
  for (let i = 0; i < count; i++) {
    if (!parseFrame(i, base, writer, writerLen)) return -batchFailure(base);
  }
  if (p != end) return -batchFailure(base);
  for (let i = 0; i < count; i++) {
    if (load<i32>(ioRecord(i), PIPELINE_RECORD_STATUS) == OK) routeFrame(ps, storeH, routerH, i);
  }
  warmFrames(storeH, count);
  for (let i = 0; i < count; i++) {
    if (load<i32>(ioRecord(i), PIPELINE_RECORD_STATUS) == OK) applyFrame(storeH, routerH, flagsMask, i);
  }
  return count;
}

function cacheAdd(ps: PipelineState, e: usize, hv: u32, keyLen: u32, slot: i32, channelId: i32): void {
  const used = ps.used;
  if (used >= CACHE_MAX) {
    cacheClear(ps);
  } else if ((used + 1) * 2 > ps.mask + 1) {
    cacheGrow(ps);
    e = cacheFind(ps.cache, <u32>ps.mask, keyBuf, keyLen, hv);
  }
  if (ps.used == 0) e = cacheFind(ps.cache, <u32>ps.mask, keyBuf, keyLen, hv);
  const k = heap.alloc(<usize>keyLen);
  memory.copy(k, keyBuf, <usize>keyLen);
  store<u32>(e, hv);
  store<u32>(e, <u32>k, 4);
  store<u32>(e, keyLen, 8);
  store<i32>(e, slot, 12);
  store<i32>(e, channelId, 16);
  ps.used++;
}

// The output region may move while diffs are appended, so records are addressed afresh.
@inline function ioRecord(i: i32): usize {
  return ioOutPtr() + <usize>(i * RECORD);
}
