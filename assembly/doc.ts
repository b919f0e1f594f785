// Doover's document semantics over the in-memory tree (tree.ts): apply_diff (deep merge) and
// generate_diff, as pinned down by pydoover and the compat fixtures (test/fixtures/doover-compat/, produced by running pydoover).
//
//   apply_diff(data, diff, do_delete): a diff that is not a map, or a target that is not a map, is
//     returned whole (so a map diff onto a scalar keeps its nulls). Otherwise per key: a map value
//     merges into data.get(k, {}); null removes the key (do_delete) or stores null; anything else
//     replaces.
//   generate_diff(old, new, do_delete): if either side is not a map, `new`. Otherwise per key of
//     new: a map value recurses into old.get(k, {}) and is kept only if non-empty (so an empty map
//     never appears, even when it is new); other values are kept when the key is new or the value
//     differs by Python equality (1 == 1.0 == True); with do_delete, keys only in old map to null.
//
// The store also offers `replace`: the tree becomes exactly the new value, and the effective diff
// written is generate_diff(old, new).
//
// Every mutation runs in two passes over the incoming msgpack, so that bad input leaves the tree
// exactly as it was:
//   1. plan: read the bytes once, validating everything (types, string keys, duplicate keys,
//      depth), compare against the tree, write the effective diff to the output region, and
//      record the changes to make (set / delete / insert / replace root) as references into the
//      input bytes. The one change made during the plan is a scalar overwriting a scalar (no
//      memory owned on either side): it is written at once and its old 16 bytes go to an undo
//      log, which an error replays backwards.
//   2. commit: only when the plan succeeded; touches only what changed.
// So merging 3 keys into a 50-key aggregate hashes 3 keys and touches 3 entries (one cache line
// each: see the map layout in tree.ts). The usual telemetry pair (a short key the map holds, a
// scalar over a scalar) takes fastPairs, one loop that does the same with less decoding.
//
// Marks: every map entry visited by a plan is stamped with that plan's epoch. A second stamp in
// the same plan means a duplicate key (rejected as ERR_MSGPACK: msgpack allows it, JSON does not
// say what it means); after a replace, unstamped entries are the keys the new state dropped. Keys
// the tree does not have yet are checked for duplicates in a scratch set instead. When the u32
// epoch wraps, every stamp in every live tree is cleared first (store.ts registers the walk).
//
// Equality: merges compare numbers by value (1 == 1.0: not a change, the stored form is kept) but
// keep booleans apart from numbers (true -> 1 is a change). generate_diff (and so `replace`) uses
// Python's rule, where True == 1, because that is what the fixtures record. NaN equals NaN, so
// re-sending NaN is not a change.
import { ERR_DEPTH, ERR_INCOMPLETE, ERR_MSGPACK, ERR_PAYLOAD, ERR_SIZE, OK } from "./errors";
import { ioInPtr, outPos, outReset, outTruncate } from "./io";
import {
  K_ARR, K_ERR, K_MAP, K_STR, hLen, readHeader, readerFail, readerSeek, readerStart, rend, rp, rstatus,
  mapBegin, mapEnd, writeNil, writeRaw, writeStr, writeU8,
} from "./msgpack";
import {
  BUILD_DROP_NULLS, E_MARK, E_VAL, SLOT, T_ARR, T_FALSE, T_FLOAT, T_INT, T_MAP, T_NULL, T_STR, T_TRUE, T_UINT,
  buildValue, bytesEqual, encodeValue, entryKey, entryKeyLen, freeValue, hashBytes, hashShortKey, intEqFloat,
  mapAt, mapCount, mapDelete, mapFind, mapFindShort, mapInsert, mapUsed, scalarEquals, setNull, slotAux, slotPtr,
  slotTag, strBytes,
} from "./tree";

// apply flags (also the `flags` of storeApplyInto): bit 0 do_delete, bit 1 replace (layout.json).
export { APPLY_DO_DELETE, APPLY_REPLACE } from "./layout.generated";
import { APPLY_DO_DELETE, APPLY_REPLACE } from "./layout.generated";

export const DEFAULT_MAX_BYTES: i32 = 1 << 20;
export const DEFAULT_MAX_DEPTH: i32 = 64;
/** Nesting is walked by recursion; this keeps the wasm stack safe whatever the caller asks. */
export const MAX_DEPTH_LIMIT: i32 = 1000;

// ---- plan state ----

let epoch: u32 = 0;
let doDel: bool = true;
let depthLimit: i32 = DEFAULT_MAX_DEPTH;
let changed: bool = false;
let epochWrapHandler: () => void = (): void => {};

/** Registers the walk that clears all marks of all live trees (store.ts). */
export function setEpochWrapHandler(fn: () => void): void {
  epochWrapHandler = fn;
}

/** Test hook: jump the plan epoch (to exercise the wrap-around path). */
export function docSetEpoch(value: u32): void {
  epoch = value;
}

// Change records, 32 bytes each:
//   +0 op u8  +1 build flags u8  +4 map node  +8 entry  +12 key ptr  +16 key len  +20 key hash
//   +24 value ptr (msgpack in the input)
const OP_SET: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_INSERT: u8 = 3;
const OP_ROOT: u8 = 4;
const REC: usize = 32;
let recBuf: usize = heap.alloc(64 * REC);
let recCap: i32 = 64;
let recLen: i32 = 0;

function record(op: u8, flags: i32, m: usize, e: usize, kp: usize, kn: u32, h: u32, vp: usize): void {
  if (recLen == recCap) {
    recCap <<= 1;
    recBuf = heap.realloc(recBuf, <usize>recCap * REC);
  }
  const r = recBuf + <usize>recLen * REC;
  store<u8>(r, op);
  store<u8>(r, <u8>flags, 1);
  store<u32>(r, <u32>m, 4);
  store<u32>(r, <u32>e, 8);
  store<u32>(r, <u32>kp, 12);
  store<u32>(r, kn, 16);
  store<u32>(r, h, 20);
  store<u32>(r, <u32>vp, 24);
  recLen++;
}

// Undo log: an inline scalar replaced by an inline scalar is written during the plan (no record,
// no second parse) and its old 16 bytes saved here, so a later error can put it back. Entry,
// 24 bytes: +0 slot address  +8 old slot (16).
const UNDO: usize = 24;
let undoBuf: usize = heap.alloc(64 * UNDO);
let undoCap: i32 = 64;
let undoLen: i32 = 0;

@inline function undoSave(slot: usize): void {
  if (undoLen == undoCap) {
    undoCap <<= 1;
    undoBuf = heap.realloc(undoBuf, <usize>undoCap * UNDO);
  }
  const u = undoBuf + <usize>undoLen * UNDO;
  store<u32>(u, <u32>slot);
  store<u64>(u, load<u64>(slot), 8);
  store<u64>(u, load<u64>(slot, 8), 16);
  undoLen++;
}

function undoAll(): void {
  while (undoLen > 0) {
    undoLen--;
    const u = undoBuf + <usize>undoLen * UNDO;
    const slot = <usize>load<u32>(u);
    store<u64>(slot, load<u64>(u, 8));
    store<u64>(slot, load<u64>(u, 16), 8);
  }
}

/** Whether a slot owns no memory (null, booleans, numbers, strings of up to 8 bytes). */
@inline function inlineSlot(s: usize): bool {
  const tag = load<u8>(s);
  return tag < T_STR || (tag == T_STR && load<u32>(s, 4) <= 8);
}

/** Whether the msgpack value starting with byte b decodes to an inline slot (nil excluded). */
@inline function inlineEncoding(b: u32, p: usize): bool {
  if (b < 0x80 || b >= 0xe0) return true; // fixints
  if ((b & 0xe0) == 0xa0) return (b & 31) <= 8; // fixstr
  if (b >= 0xca && b <= 0xd3) return true; // floats, ints
  return b == 0xc2 || b == 0xc3 || (b == 0xd9 && load<u8>(p + 1) <= 8);
}

// Scratch set for duplicate detection among keys the tree does not hold. Cell, 16 bytes:
//   +0 scope u32 (live when >= dupBase)  +4 hash  +8 key ptr  +12 key len
// Each map being read gets a fresh scope id, so one table serves all maps of a plan.
let dupTable: usize = 0;
let dupMask: u32 = 0;
let dupCount: u32 = 0;
let dupBase: u32 = 1;
let dupScope: u32 = 0;

function dupReset(): void {
  if (dupTable == 0) {
    dupMask = 255;
    dupTable = heap.alloc(256 * 16);
    memory.fill(dupTable, 0, 256 * 16);
  }
  if (dupScope > 0xf0000000) {
    memory.fill(dupTable, 0, (<usize>dupMask + 1) * 16);
    dupScope = 0;
  }
  dupBase = dupScope + 1;
  dupCount = 0;
}

function dupGrow(): void {
  const oldTable = dupTable;
  const oldSize = dupMask + 1;
  const size = oldSize << 1;
  dupTable = heap.alloc(<usize>size * 16);
  memory.fill(dupTable, 0, <usize>size * 16);
  dupMask = size - 1;
  for (let i: u32 = 0; i < oldSize; i++) {
    const c = oldTable + <usize>i * 16;
    if (load<u32>(c) < dupBase) continue;
    let j = load<u32>(c, 4) & dupMask;
    while (load<u32>(dupTable + <usize>j * 16) >= dupBase) j = (j + 1) & dupMask;
    memory.copy(dupTable + <usize>j * 16, c, 16);
  }
  heap.free(oldTable);
}

/** Records key (p, n) in map scope `scope`; true when it was already there. */
function dupSeen(scope: u32, h: u32, p: usize, n: u32): bool {
  if ((dupCount + 1) << 1 > dupMask + 1) dupGrow();
  let i = h & dupMask;
  while (true) {
    const c = dupTable + <usize>i * 16;
    const s = load<u32>(c);
    if (s < dupBase) {
      store<u32>(c, scope);
      store<u32>(c, h, 4);
      store<u32>(c, <u32>p, 8);
      store<u32>(c, n, 12);
      dupCount++;
      return false;
    }
    if (s == scope && load<u32>(c, 4) == h && load<u32>(c, 12) == n && bytesEqual(<usize>load<u32>(c, 8), p, <usize>n)) {
      return true;
    }
    i = (i + 1) & dupMask;
  }
}

// Keys listed in `replaceKeys` for the next apply: [u32 len][bytes] repeated, set by the caller.
let replaceKeysPtr: usize = 0;
let replaceKeysCount: i32 = 0;

/** Sets the top-level keys the next docApply replaces instead of merging into (one call only). */
export function docSetReplaceKeys(ptr: usize, count: i32): void {
  replaceKeysPtr = ptr;
  replaceKeysCount = count;
}

function replaceKeyListed(p: usize, n: u32): bool {
  let q = replaceKeysPtr;
  for (let i = 0; i < replaceKeysCount; i++) {
    const len = load<u32>(q);
    if (len == n && bytesEqual(q + 4, p, <usize>n)) return true;
    q += 4 + <usize>len;
  }
  return false;
}

function planBegin(doDelete: bool, maxDepth: i32): void {
  epoch++;
  if (epoch == 0) {
    epochWrapHandler();
    epoch = 1;
  }
  doDel = doDelete;
  depthLimit = maxDepth;
  changed = false;
  recLen = 0;
  undoLen = 0;
  dupReset();
}

/** copyMap: drop map values that generate_diff would prune as empty. */
const COPY_PRUNE_EMPTY: i32 = 2;

// ---- validating walkers over the input (cursor in msgpack.ts) ----

let keyLen: u32 = 0;

/** Reads a map key, which must be a string; returns its bytes (length in keyLen). */
@inline function readKey(): usize {
  const k = readHeader();
  if (k != K_STR) {
    if (k != K_ERR) readerFail(ERR_MSGPACK);
    return 0;
  }
  const p = rp;
  keyLen = hLen;
  readerSeek(p + <usize>hLen);
  return p;
}

@inline function isMapByte(b: u32): bool {
  return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

/** Consumes one value, validating it; `depth` is the depth it has if it is a container. */
function skipValue(depth: i32): void {
  const k = readHeader();
  if (k == K_STR) {
    readerSeek(rp + <usize>hLen);
  } else if (k == K_ARR) {
    if (depth > depthLimit) {
      readerFail(ERR_DEPTH);
      return;
    }
    const n = hLen;
    for (let i: u32 = 0; i < n; i++) {
      skipValue(depth + 1);
      if (rstatus) return;
    }
  } else if (k == K_MAP) {
    if (depth > depthLimit) {
      readerFail(ERR_DEPTH);
      return;
    }
    const n = hLen;
    const scope = ++dupScope;
    for (let i: u32 = 0; i < n; i++) {
      const kp = readKey();
      if (rstatus) return;
      const kn = keyLen;
      if (dupSeen(scope, hashBytes(kp, kn), kp, kn)) {
        readerFail(ERR_MSGPACK);
        return;
      }
      skipValue(depth + 1);
      if (rstatus) return;
    }
  }
}

/** Copies the map whose `n` pairs follow (header consumed) to the output, dropping null values
 *  (BUILD_DROP_NULLS) or map values that prune to nothing (COPY_PRUNE_EMPTY: generate_diff's
 *  view of a map under a new key). Returns the
 *  entries written; validates like skipValue. */
function copyMap(n: u32, depth: i32, flags: i32): u32 {
  const hdr = mapBegin();
  let w: u32 = 0;
  const scope = ++dupScope;
  for (let i: u32 = 0; i < n; i++) {
    const ks = rp;
    const kp = readKey();
    if (rstatus) return 0;
    const kn = keyLen;
    if (dupSeen(scope, hashBytes(kp, kn), kp, kn)) {
      readerFail(ERR_MSGPACK);
      return 0;
    }
    const ke = rp;
    if (ke >= rend) {
      readerFail(ERR_INCOMPLETE);
      return 0;
    }
    const b = <u32>load<u8>(ke);
    if (b == 0xc0 && (flags & BUILD_DROP_NULLS)) {
      readerSeek(ke + 1);
      continue;
    }
    if (isMapByte(b)) {
      const mark = outPos();
      writeRaw(ks, ke - ks);
      readHeader();
      if (rstatus) return 0;
      if (depth + 1 > depthLimit) {
        readerFail(ERR_DEPTH);
        return 0;
      }
      const c = copyMap(hLen, depth + 1, flags);
      if (rstatus) return 0;
      if (c == 0 && (flags & COPY_PRUNE_EMPTY)) {
        outTruncate(mark);
        continue;
      }
      w++;
      continue;
    }
    skipValue(depth + 1);
    if (rstatus) return 0;
    writeRaw(ks, rp - ks);
    w++;
  }
  mapEnd(hdr, w);
  return w;
}

// cmpValue result bits: equal under Python's rule (generate_diff) / equal strictly (merges).
const EQ_PY: i32 = 1;
const EQ_STRICT: i32 = 2;
const EQ_BOTH: i32 = 3;

/** Consumes one value and says how it equals slot `s` (EQ_* bits; 0 when different). */
function cmpValue(s: usize, depth: i32): i32 {
  const k = readHeader();
  if (k == K_ERR) return 0;
  const tag = slotTag(s);
  if (k == K_STR) {
    const n = hLen;
    const p = rp;
    readerSeek(p + <usize>n);
    return tag == T_STR && slotAux(s) == n && bytesEqual(strBytes(s), p, <usize>n) ? EQ_BOTH : 0;
  }
  if (k == K_ARR) {
    if (depth > depthLimit) {
      readerFail(ERR_DEPTH);
      return 0;
    }
    const n = hLen;
    let eq = tag == T_ARR && slotAux(s) == n ? EQ_BOTH : 0;
    const base = slotPtr(s);
    for (let i: u32 = 0; i < n; i++) {
      if (eq) eq &= cmpValue(base + <usize>i * SLOT, depth + 1);
      else skipValue(depth + 1);
      if (rstatus) return 0;
    }
    return eq;
  }
  if (k == K_MAP) {
    if (depth > depthLimit) {
      readerFail(ERR_DEPTH);
      return 0;
    }
    const n = hLen;
    const m = tag == T_MAP ? slotPtr(s) : 0;
    let eq = m != 0 && mapCount(m) == n ? EQ_BOTH : 0;
    const scope = ++dupScope;
    for (let i: u32 = 0; i < n; i++) {
      const kp = readKey();
      if (rstatus) return 0;
      const kn = keyLen;
      const h = hashBytes(kp, kn);
      const e = m ? mapFind(m, h, kp, kn) : 0;
      if (e) {
        if (load<u32>(e, E_MARK) == epoch) {
          readerFail(ERR_MSGPACK);
          return 0;
        }
        store<u32>(e, epoch, E_MARK);
      } else {
        if (dupSeen(scope, h, kp, kn)) {
          readerFail(ERR_MSGPACK);
          return 0;
        }
        eq = 0;
      }
      if (eq) eq &= cmpValue(e + E_VAL, depth + 1);
      else skipValue(depth + 1);
      if (rstatus) return 0;
    }
    return eq;
  }
  if (scalarEquals(s, k, false)) return EQ_BOTH;
  return scalarEquals(s, k, true) ? EQ_PY : 0;
}

/**
 * Fast paths for the common encodings (float64, 8-32-bit ints, fixstr, booleans) against a slot
 * of the same kind: consumes the value and returns EQ_* bits, or -1 (nothing consumed) to let
 * cmpValue handle it.
 */
@inline function quickCmp(s: usize, p: usize, b: u32): i32 {
  const tag = load<u8>(s);
  if (b == 0xcb) {
    if (tag != T_FLOAT || rend - p < 9) return -1;
    const f = reinterpret<f64>(bswap<u64>(load<u64>(p + 1)));
    const g = load<f64>(s, 8);
    readerSeek(p + 9);
    return f == g || (f != f && g != g) ? EQ_BOTH : 0;
  }
  if (b < 0x80) {
    if (tag != T_INT) return -1;
    readerSeek(p + 1);
    return load<i64>(s, 8) == <i64>b ? EQ_BOTH : 0;
  }
  if (b >= 0xcc && b <= 0xd2 && b != 0xcf) {
    // 8/16/32-bit ints, unsigned 0xcc-0xce and signed 0xd0-0xd2
    if (tag != T_INT) return -1;
    let v: i64;
    let w: usize;
    if (b == 0xcc) { w = 2; v = <i64>load<u8>(p + 1); }
    else if (b == 0xcd) { w = 3; v = <i64>bswap<u16>(load<u16>(p + 1)); }
    else if (b == 0xce) { w = 5; v = <i64>bswap<u32>(load<u32>(p + 1)); }
    else if (b == 0xd0) { w = 2; v = <i64>load<i8>(p + 1); }
    else if (b == 0xd1) { w = 3; v = <i64>(<i16>bswap<u16>(load<u16>(p + 1))); }
    else { w = 5; v = <i64>(<i32>bswap<u32>(load<u32>(p + 1))); }
    if (rend - p < w) return -1; // let the generic path report the truncation
    readerSeek(p + w);
    return load<i64>(s, 8) == v ? EQ_BOTH : 0;
  }
  if (b >= 0xe0) {
    if (tag != T_INT) return -1;
    readerSeek(p + 1);
    return load<i64>(s, 8) == <i64>(<i8>b) ? EQ_BOTH : 0;
  }
  if ((b & 0xe0) == 0xa0) {
    const n = b & 31;
    if (tag != T_STR || rend - p < <usize>(n + 1)) return -1;
    readerSeek(p + 1 + <usize>n);
    return load<u32>(s, 4) == n && bytesEqual(strBytes(s), p + 1, <usize>n) ? EQ_BOTH : 0;
  }
  if (b == 0xc2 || b == 0xc3) {
    if (tag != T_TRUE && tag != T_FALSE) return -1;
    readerSeek(p + 1);
    return (tag == T_TRUE) == (b == 0xc3) ? EQ_BOTH : 0;
  }
  return -1;
}

/**
 * The `n` (1..8) input bytes at p, which end at or before `end`, as one word (the bytes in order,
 * zero above: hashShortKey's and mapFindShort's form of a key). Near the end of the input it
 * reads the 8 bytes that end at `end` instead and shifts: no read past the input, and none of
 * loadTail's byte loop (memory below the input always exists: the input is a heap block).
 */
@inline function inputWord(p: usize, n: u32, end: usize): u64 {
  const left = end - p;
  const word = left >= 8 ? load<u64>(p) : load<u64>(end - 8) >> (<u64>(8 - left) << 3);
  return word & (<u64>-1 >> (<u64>(8 - n) << 3));
}

// Entries fastPairs wrote to the effective diff in its last call.
let fastWritten: u32 = 0;
// The pair fastPairs stopped at after looking its key up (its address, 0 when none), with the
// key's hash and entry (0: not in the map), so the general path does not look it up again.
let stopAt: usize = 0;
let stopHash: u32 = 0;
let stopEntry: usize = 0;

/**
 * The merge's common case in one tight loop, ahead of planMap's general path: a key (fixstr) that
 * the map already holds, whose value is an inline scalar (see inlineSlot) and arrives as float64,
 * an int of up to 32 bits, a boolean or a fixstr of up to 8 bytes. Per pair it does what the
 * general path does for it (mark the entry, compare strictly, overwrite in place with an undo
 * record, copy the pair to the effective diff) but decodes the value once, and hashes and
 * compares a key of up to 8 bytes as one word. Consumes such pairs from rp, at most `count`, and
 * returns how many; it stops, consuming nothing of it, at the first other pair, including any the
 * general path must reject (a repeated key, bytes cut short), which it then reports. With `sameOnly`
 * (generate_diff, replaced keys: a change needs the general path's rules) it takes only values
 * strictly equal to the stored ones, which every mode skips alike.
 */
function fastPairs(m: usize, count: u32, sameOnly: bool): u32 {
  const end = rend;
  const ep = epoch;
  let p = rp;
  let w: u32 = 0;
  let i: u32 = 0;
  stopAt = 0;
  for (; i < count; i++) {
    if (p >= end) break;
    const n = <u32>load<u8>(p) - 0xa0;
    if (n > 31) break; // a fixstr key (unsigned: below 0xa0 wraps)
    const vp = p + 1 + <usize>n;
    if (vp >= end) break;
    let h: u32;
    let e: usize;
    if (n - 1 < 8) {
      const k = inputWord(p + 1, n, end);
      h = hashShortKey(k, n);
      e = mapFindShort(m, h, k, n);
    } else {
      h = hashBytes(p + 1, n);
      e = mapFind(m, h, p + 1, n);
    }
    // from here on, a stop leaves the lookup for the general path
    stopAt = p;
    stopHash = h;
    stopEntry = e;
    if (e == 0 || load<u32>(e, E_MARK) == ep) break;
    const s = e + E_VAL;
    const tag = load<u8>(s);
    if (tag > T_STR || tag == T_UINT || (tag == T_STR && load<u32>(s, 4) > 8)) break;
    const b = <u32>load<u8>(vp);
    const avail = end - vp;
    let len: usize = 1;
    let head: u64 = 0; // the new slot's first 8 bytes: tag, then the string length at +4
    let bits: u64 = 0;
    let eq = false;
    if (b == 0xcb) {
      if (avail < 9) break;
      len = 9;
      bits = bswap<u64>(load<u64>(vp + 1));
      const f = reinterpret<f64>(bits);
      head = <u64>T_FLOAT;
      if (tag == T_FLOAT) {
        const g = load<f64>(s, 8);
        eq = f == g || (f != f && g != g);
      } else {
        eq = tag == T_INT && intEqFloat(load<i64>(s, 8), f);
      }
    } else if (b < 0x80 || b >= 0xe0 || (b >= 0xcc && b <= 0xd2 && b != 0xcf)) {
      let v = <i64>(<i8>b); // a fixint
      if (b < 0xe0 && b >= 0x80) {
        // uint8/16/32 (0xcc-0xce) and int8/16/32 (0xd0-0xd2): 1, 2 or 4 big-endian bytes
        const w = <u32>1 << ((b - 0xcc) & 3);
        len = 1 + <usize>w;
        if (avail < len) break;
        const top = bswap<u64>(inputWord(vp + 1, w, end)); // the value in the top w bytes
        const shift = <u64>(64 - (w << 3));
        v = b >= 0xd0 ? <i64>top >> shift : <i64>(top >> shift);
      }
      bits = <u64>v;
      head = <u64>T_INT;
      eq = tag == T_INT ? load<i64>(s, 8) == v : tag == T_FLOAT && intEqFloat(v, load<f64>(s, 8));
    } else if (b == 0xc2 || b == 0xc3) {
      const t = b == 0xc3 ? T_TRUE : T_FALSE;
      head = <u64>t;
      eq = tag == t;
    } else if ((b & 0xe0) == 0xa0 && (b & 31) <= 8) {
      const sn = b & 31;
      len = 1 + <usize>sn;
      if (avail < len) break;
      if (sn) bits = inputWord(vp + 1, sn, end);
      head = <u64>T_STR | (<u64>sn << 32);
      // inline strings are kept zero-padded (buildValue), so one word compares them
      eq = tag == T_STR && load<u32>(s, 4) == sn && load<u64>(s, 8) == bits;
    } else {
      break;
    }
    if (!eq && sameOnly) break;
    store<u32>(e, ep, E_MARK);
    const ks = p;
    p = vp + len;
    if (eq) continue;
    undoSave(s);
    store<u64>(s, head);
    store<u64>(s, bits, 8);
    writeRaw(ks, p - ks);
    w++;
  }
  readerSeek(p);
  if (w) changed = true;
  fastWritten = w;
  return i;
}

/** True when the map header at `p` says zero entries (input already validated). */
function emptyMapAt(p: usize): bool {
  const b = <u32>load<u8>(p);
  if (b == 0x80) return true;
  if (b == 0xde) return load<u16>(p + 1) == 0;
  if (b == 0xdf) return load<u32>(p + 1) == 0;
  return false;
}

/**
 * Plans the `n` pairs at rp against map node `m` at `depth`; writes the effective sub-diff and
 * returns its entry count.
 *   merge (`gen` false): apply_diff; the records and the written diff are the same changes.
 *   replace (`gen` true): the written diff is generate_diff(old, new) (Python equality, empty
 *     maps pruned, nulls for dropped keys only with do_delete) while the records make the tree
 *     exactly `new` (strict equality).
 * `top` enables the per-key replaceKeys check.
 */
function planMap(m: usize, n: u32, depth: i32, gen: bool, top: bool): u32 {
  const hdr = mapBegin();
  let w: u32 = 0;
  let seen: u32 = 0;
  const scope = ++dupScope;
  const dd = doDel;
  // the common pairs go through fastPairs; a change under generate_diff's rules does not
  const sameOnly = gen || (top && replaceKeysCount > 0);
  for (let i: u32 = 0; i < n; i++) {
    const done = fastPairs(m, n - i, sameOnly);
    i += done;
    seen += done;
    w += fastWritten;
    if (i == n) break;
    const ks = rp;
    let kp: usize;
    let kn: u32;
    if (ks < rend && (<u32>load<u8>(ks) & 0xe0) == 0xa0) {
      kn = <u32>load<u8>(ks) & 31;
      kp = ks + 1;
      if (rend - kp < <usize>kn) {
        readerFail(ERR_INCOMPLETE);
        return 0;
      }
      readerSeek(kp + <usize>kn);
    } else {
      kp = readKey();
      if (rstatus) return 0;
      kn = keyLen;
    }
    // One hash and one probe: the entry holds hash, key and value in one cache line.
    let h: u32;
    let e: usize;
    if (ks == stopAt) {
      h = stopHash;
      e = stopEntry;
    } else {
      h = hashBytes(kp, kn);
      e = mapFind(m, h, kp, kn);
    }
    if (e) {
      if (load<u32>(e, E_MARK) == epoch) {
        readerFail(ERR_MSGPACK);
        return 0;
      }
      store<u32>(e, epoch, E_MARK);
      seen++;
    } else if (dupSeen(scope, h, kp, kn)) {
      readerFail(ERR_MSGPACK);
      return 0;
    }
    const ke = rp;
    if (ke >= rend) {
      readerFail(ERR_INCOMPLETE);
      return 0;
    }
    const b = <u32>load<u8>(ke);
    // A null under a replaceKeys key still means "remove" (or "store null"), as in a merge.
    const g = gen || (top && b != 0xc0 && replaceKeysCount > 0 && replaceKeyListed(kp, kn));

    if (isMapByte(b)) {
      const mark = outPos();
      writeRaw(ks, ke - ks);
      if (e && slotTag(e + E_VAL) == T_MAP) {
        // map into map: recurse; an empty sub-diff is dropped
        readHeader();
        if (rstatus) return 0;
        if (depth + 1 > depthLimit) {
          readerFail(ERR_DEPTH);
          return 0;
        }
        const c = planMap(slotPtr(e + E_VAL), hLen, depth + 1, g, false);
        if (rstatus) return 0;
        if (c == 0) outTruncate(mark);
        else w++;
      } else if (e) {
        // map onto a non-map: the map replaces it whole, nulls and all
        skipValue(depth + 1);
        if (rstatus) return 0;
        record(OP_SET, 0, m, e, 0, 0, 0, ke);
        changed = true;
        if (g && emptyMapAt(ke)) {
          outTruncate(mark); // generate_diff never emits an empty map
        } else {
          writeRaw(ke, rp - ke);
          w++;
        }
      } else {
        // map under a new key: merged into a fresh {} (merge) or stored as is (replace)
        readHeader();
        if (rstatus) return 0;
        if (depth + 1 > depthLimit) {
          readerFail(ERR_DEPTH);
          return 0;
        }
        const dropFlag = dd && !g ? BUILD_DROP_NULLS : 0;
        const c = copyMap(hLen, depth + 1, g ? COPY_PRUNE_EMPTY : dropFlag);
        if (rstatus) return 0;
        record(OP_INSERT, dropFlag, m, 0, kp, kn, h, ke);
        changed = true;
        if (g && c == 0) outTruncate(mark);
        else w++;
      }
      continue;
    }

    if (b == 0xc0) {
      readerSeek(ke + 1);
      if (e) {
        if (slotTag(e + E_VAL) == T_NULL && (g || !dd)) continue; // already null
        record(dd && !g ? OP_DELETE : OP_SET, 0, m, e, 0, 0, 0, ke);
        changed = true;
      } else if (g) {
        record(OP_INSERT, 0, m, 0, kp, kn, h, ke); // new state holds null; generate_diff lists it
        changed = true;
      } else if (dd) {
        continue; // removing a key that is not there
      } else {
        record(OP_INSERT, 0, m, 0, kp, kn, h, ke);
        changed = true;
      }
      writeRaw(ks, rp - ks);
      w++;
      continue;
    }

    if (e) {
      let eq = quickCmp(e + E_VAL, ke, b);
      if (eq < 0) {
        eq = cmpValue(e + E_VAL, depth + 1);
        if (rstatus) return 0;
      }
      if (eq & EQ_STRICT) continue;
      if (inlineSlot(e + E_VAL) && inlineEncoding(b, ke)) {
        // scalar over scalar: write it now, keep the old one for a rollback
        undoSave(e + E_VAL);
        if (b == 0xcb) {
          store<u64>(e + E_VAL, <u64>T_FLOAT);
          store<u64>(e + E_VAL, bswap<u64>(load<u64>(ke + 1)), 8);
        } else {
          const end = rp;
          readerSeek(ke);
          buildValue(e + E_VAL, 0);
          readerSeek(end);
        }
      } else {
        record(OP_SET, 0, m, e, 0, 0, 0, ke);
      }
      changed = true;
      if (g && (eq & EQ_PY)) continue; // generate_diff sees no difference (True == 1)
    } else {
      skipValue(depth + 1);
      if (rstatus) return 0;
      record(OP_INSERT, 0, m, 0, kp, kn, h, ke);
      changed = true;
    }
    writeRaw(ks, rp - ks);
    w++;
  }

  if (gen && seen < mapCount(m)) {
    // keys the new state no longer has: removed; listed as null only with do_delete
    const used = mapUsed(m);
    for (let j: u32 = 0; j < used; j++) {
      const e = mapAt(m, j);
      if (e == 0 || load<u32>(e, E_MARK) == epoch) continue;
      if (dd) {
        writeStr(entryKey(e), entryKeyLen(e));
        writeNil();
        w++;
      }
      record(OP_DELETE, 0, m, e, 0, 0, 0, 0);
      changed = true;
    }
  }
  mapEnd(hdr, w);
  return w;
}

/** Applies the planned records to the tree whose root slot is `root`. */
function commit(root: usize): void {
  // In-place changes first: entry addresses stay valid until an insert regrows a table.
  for (let i = 0; i < recLen; i++) {
    const r = recBuf + <usize>i * REC;
    const op = load<u8>(r);
    if (op == OP_SET) {
      const e = <usize>load<u32>(r, 8);
      freeValue(e + E_VAL);
      readerSeek(<usize>load<u32>(r, 24));
      buildValue(e + E_VAL, <i32>load<u8>(r, 1));
    } else if (op == OP_DELETE) {
      mapDelete(<usize>load<u32>(r, 4), <usize>load<u32>(r, 8));
    } else if (op == OP_ROOT) {
      freeValue(root);
      readerSeek(<usize>load<u32>(r, 24));
      buildValue(root, 0);
    }
  }
  for (let i = 0; i < recLen; i++) {
    const r = recBuf + <usize>i * REC;
    if (load<u8>(r) != OP_INSERT) continue;
    const e = mapInsert(<usize>load<u32>(r, 4), load<u32>(r, 20), <usize>load<u32>(r, 12), load<u32>(r, 16));
    setNull(e + E_VAL);
    readerSeek(<usize>load<u32>(r, 24));
    buildValue(e + E_VAL, <i32>load<u8>(r, 1));
  }
  recLen = 0;
}

let lastChanged: bool = false;

/** Whether the last successful docApply changed the tree. */
export function docLastChanged(): bool {
  return lastChanged;
}

/**
 * Merges (or with APPLY_REPLACE replaces) the msgpack value at (ptr, len) into the tree rooted at
 * slot `root`, appending the effective diff to the output at its current position: only what
 * changed, or an empty map when nothing did. With APPLY_REPLACE the tree becomes exactly the new
 * value and the effective diff is generate_diff(old, new) (pydoover's, so it can miss changes
 * pydoover cannot express: an added empty map, true -> 1, and dropped keys without do_delete).
 * On any error the tree and the output are as before and the status is returned.
 */
export function docApply(root: usize, ptr: usize, len: i32, flags: i32, maxBytes: i32, maxDepth: i32): i32 {
  const nKeys = replaceKeysCount;
  replaceKeysCount = 0;
  lastChanged = false;
  if (len > maxBytes) return ERR_SIZE;
  planBegin((flags & APPLY_DO_DELETE) != 0, maxDepth);
  replaceKeysCount = (flags & APPLY_REPLACE) ? 0 : nKeys;
  readerStart(ptr, len);
  const start = outPos();
  if (len > 0 && isMapByte(<u32>load<u8>(ptr)) && slotTag(root) == T_MAP) {
    readHeader();
    if (!rstatus) planMap(slotPtr(root), hLen, 1, (flags & APPLY_REPLACE) != 0, true);
  } else {
    // A non-map on either side: the incoming value replaces the aggregate whole.
    const eq = cmpValue(root, 1);
    if (!rstatus && !(eq & EQ_STRICT)) {
      writeRaw(ptr, rp - ptr);
      record(OP_ROOT, 0, 0, 0, 0, 0, 0, ptr);
      changed = true;
    }
  }
  replaceKeysCount = 0;
  if (!rstatus && rp != rend) readerFail(ERR_MSGPACK); // bytes after the value
  if (rstatus) {
    undoAll();
    outTruncate(start);
    recLen = 0;
    return rstatus;
  }
  if (!changed) {
    outTruncate(start);
    writeU8(0x80);
    recLen = 0;
    return OK;
  }
  commit(root);
  lastChanged = true;
  return OK;
}

/** Validates the value at (ptr, len) completely, then builds it into the empty slot `s`. */
export function docBuild(s: usize, ptr: usize, len: i32, maxBytes: i32, maxDepth: i32): i32 {
  if (len > maxBytes) return ERR_SIZE;
  planBegin(true, maxDepth);
  readerStart(ptr, len);
  skipValue(1);
  if (!rstatus && rp != rend) readerFail(ERR_MSGPACK);
  if (rstatus) return rstatus;
  readerSeek(ptr);
  buildValue(s, 0);
  return OK;
}

// ---- the stateless codec: JS values in, JS values out (bindings/core/doc.ts) ----

let codecMaxBytes: i32 = DEFAULT_MAX_BYTES;
let codecMaxDepth: i32 = DEFAULT_MAX_DEPTH;
const scratchRoot: usize = memory.data(16);

/** Limits for docApplyDiff / docGenerateDiff / docValidatePayload. */
export function docSetLimits(maxBytes: i32, maxDepth: i32): void {
  codecMaxBytes = maxBytes;
  codecMaxDepth = maxDepth < 1 ? 1 : maxDepth > MAX_DEPTH_LIMIT ? MAX_DEPTH_LIMIT : maxDepth;
}

/** apply_diff(data, diff): input region holds data (dataLen bytes) then diff; output: result. */
export function docApplyDiff(dataLen: i32, diffLen: i32, doDelete: i32): i32 {
  outReset();
  const inp = ioInPtr();
  setNull(scratchRoot);
  let st = docBuild(scratchRoot, inp, dataLen, codecMaxBytes, codecMaxDepth);
  if (st == OK) {
    st = docApply(scratchRoot, inp + <usize>dataLen, diffLen, doDelete ? APPLY_DO_DELETE : 0, codecMaxBytes, codecMaxDepth);
    outReset();
    if (st == OK) encodeValue(scratchRoot);
  }
  freeValue(scratchRoot);
  return st;
}

/** generate_diff(old, new): input region holds old (oldLen bytes) then new; output: the diff. */
export function docGenerateDiff(oldLen: i32, newLen: i32, doDelete: i32): i32 {
  outReset();
  const inp = ioInPtr();
  setNull(scratchRoot);
  let st = docBuild(scratchRoot, inp, oldLen, codecMaxBytes, codecMaxDepth);
  if (st == OK) {
    const p = inp + <usize>oldLen;
    if (newLen > codecMaxBytes) {
      st = ERR_SIZE;
    } else {
      planBegin(doDelete != 0, codecMaxDepth);
      readerStart(p, newLen);
      if (newLen > 0 && isMapByte(<u32>load<u8>(p)) && slotTag(scratchRoot) == T_MAP) {
        readHeader();
        if (!rstatus) planMap(slotPtr(scratchRoot), hLen, 1, true, false);
      } else {
        skipValue(1);
        if (!rstatus) writeRaw(p, rp - p);
      }
      if (!rstatus && rp != rend) readerFail(ERR_MSGPACK);
      st = rstatus;
      recLen = 0;
      if (st) outReset();
    }
  }
  freeValue(scratchRoot);
  return st;
}

/**
 * Doover's strict payload rule: a map at the top, and every key at every depth (inside arrays
 * too) matching ^[a-zA-Z0-9_-]+$. Returns OK when valid, ERR_PAYLOAD when not, or the decoding
 * error. The value is in the input region.
 */
export function docValidatePayload(len: i32): i32 {
  if (len > codecMaxBytes) return ERR_SIZE;
  const p = ioInPtr();
  planBegin(true, codecMaxDepth);
  readerStart(p, len);
  skipValue(1);
  if (!rstatus && rp != rend) readerFail(ERR_MSGPACK);
  if (rstatus) return rstatus;
  if (!isMapByte(<u32>load<u8>(p))) return ERR_PAYLOAD;
  readerSeek(p);
  return keysValid() ? OK : ERR_PAYLOAD;
}

function keysValid(): bool {
  const k = readHeader();
  if (k == K_STR) {
    readerSeek(rp + <usize>hLen);
    return true;
  }
  if (k == K_ARR) {
    const n = hLen;
    for (let i: u32 = 0; i < n; i++) if (!keysValid()) return false;
    return true;
  }
  if (k == K_MAP) {
    const n = hLen;
    for (let i: u32 = 0; i < n; i++) {
      readHeader();
      const kp = rp;
      const kn = hLen;
      if (kn == 0) return false;
      for (let j: u32 = 0; j < kn; j++) {
        const c = <u32>load<u8>(kp + <usize>j);
        const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d;
        if (!ok) return false;
      }
      readerSeek(kp + <usize>kn);
      if (!keysValid()) return false;
    }
    return true;
  }
  return true;
}
