// The channel store: named channels, each holding its aggregate as a tree in linear memory
// (tree.ts) and a version that rises by one on every real change. Diffs arrive as msgpack bytes
// and are merged straight into the tree (doc.ts); the effective diff goes to the output region.
//
// Store block, 40 bytes:
//   +0 maxBytes i32  +4 maxDepth i32  +8 channel records ptr  +12 capacity u32
//   +16 records in use (high-water) u32  +20 live channels u32  +24 free-list head i32 (-1: none)
//   +28 name index ptr  +32 name index mask u32  +36 name index cells in use (live + tombstones)
// Channel record, 48 bytes (slot id = record number; freed records are reused first):
//   +0 root value slot (16)  +16 version f64  +24 name hash u32  +28 name ptr  +32 name length
//   +36 live u32  +40 next free i32
// Name index: open addressing over u32 cells, 0 = empty, 0xffffffff = tombstone, else slot + 1.
//
// Handles are small integers (>= 1) from the core's one handle table (handles.ts).
import { isLevelByte } from "./names";
import { HandleTable } from "./handles";
import { STORE_RESULT_CHANGED, STORE_RESULT_OUT_LEN, STORE_RESULT_OUT_PTR, STORE_RESULT_SIZE, STORE_RESULT_VERSION } from "./layout.generated";
import { ERR_ARGUMENT, ERR_NAME, ERR_NOT_FOUND, OK } from "./errors";
import { ioInPtr, ioOutLen, ioOutPtr, outReset } from "./io";
import { writeArrayHeader, writeStr } from "./msgpack";
import { APPLY_REPLACE, MAX_DEPTH_LIMIT, docApply, docLastChanged, docSetReplaceKeys, setEpochWrapHandler } from "./doc";
import { bytesEqual, clearMarks, encodeValue, freeValue, hashBytes, mapNew, T_MAP } from "./tree";

const CHAN: usize = 48;
const TOMB: u32 = 0xffffffff;

const stores = new HandleTable();

// @ts-ignore: decorator
@inline function storeBlock(h: i32): usize {
  return stores.get(h);
}

/** The record of a live channel, or 0. */
function chan(s: usize, slot: i32): usize {
  if (slot < 0 || <u32>slot >= load<u32>(s, 16)) return 0;
  const c = <usize>load<u32>(s, 8) + <usize>slot * CHAN;
  return load<u32>(c, 36) ? c : 0;
}

function clearAllMarks(): void {
  for (let h = 1; h < stores.limit; h++) {
    const s = storeBlock(h);
    if (!s) continue;
    const used = load<u32>(s, 16);
    const base = <usize>load<u32>(s, 8);
    for (let i: u32 = 0; i < used; i++) {
      const c = base + <usize>i * CHAN;
      if (load<u32>(c, 36)) clearMarks(c);
    }
  }
}
setEpochWrapHandler(clearAllMarks);

/** Creates a store; returns its handle (>= 1), or -ERR_ARGUMENT for bad limits. */
export function storeCreate(maxBytes: i32, maxDepth: i32): i32 {
  if (maxBytes < 1 || maxDepth < 1 || maxDepth > MAX_DEPTH_LIMIT) return -ERR_ARGUMENT;
  const s = heap.alloc(40);
  memory.fill(s, 0, 40);
  store<i32>(s, maxBytes);
  store<i32>(s, maxDepth, 4);
  store<i32>(s, -1, 24);
  const cells: u32 = 16;
  const index = heap.alloc(<usize>cells << 2);
  memory.fill(index, 0, <usize>cells << 2);
  store<u32>(s, <u32>index, 28);
  store<u32>(s, cells - 1, 32);
  return stores.claim(s);
}

/** Frees a store and everything in it. */
export function storeDispose(h: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  const used = load<u32>(s, 16);
  const base = <usize>load<u32>(s, 8);
  for (let i: u32 = 0; i < used; i++) {
    const c = base + <usize>i * CHAN;
    if (!load<u32>(c, 36)) continue;
    freeValue(c);
    heap.free(<usize>load<u32>(c, 28));
  }
  if (base) heap.free(base);
  heap.free(<usize>load<u32>(s, 28));
  heap.free(s);
  stores.release(h);
  return OK;
}

/** Channel names: 1..255 bytes, levels split by "/", none empty, chars [A-Za-z0-9_.:-]. */
export function validChannelName(p: usize, n: i32): bool {
  if (n < 1 || n > 255) return false;
  let levelLen = 0;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x2f) {
      if (levelLen == 0) return false;
      levelLen = 0;
      continue;
    }
    if (!isLevelByte(c)) return false;
    levelLen++;
  }
  return levelLen > 0;
}

/** Slot of channel (p, n) with hash hv, or -1. */
function findName(s: usize, p: usize, n: u32, hv: u32): i32 {
  const index = <usize>load<u32>(s, 28);
  const mask = load<u32>(s, 32);
  const base = <usize>load<u32>(s, 8);
  let i = hv & mask;
  while (true) {
    const cell = load<u32>(index + (<usize>i << 2));
    if (cell == 0) return -1;
    if (cell != TOMB) {
      const c = base + <usize>(cell - 1) * CHAN;
      if (load<u32>(c, 24) == hv && load<u32>(c, 32) == n && bytesEqual(<usize>load<u32>(c, 28), p, <usize>n)) {
        return <i32>(cell - 1);
      }
    }
    i = (i + 1) & mask;
  }
}

function indexPut(index: usize, mask: u32, hv: u32, slot: u32): void {
  let i = hv & mask;
  while (true) {
    const cell = load<u32>(index + (<usize>i << 2));
    if (cell == 0 || cell == TOMB) break;
    i = (i + 1) & mask;
  }
  store<u32>(index + (<usize>i << 2), slot + 1);
}

/** Rebuilds the name index (dropping tombstones), doubling it when live names need the room. */
function indexRebuild(s: usize): void {
  const live = load<u32>(s, 20);
  let cells = load<u32>(s, 32) + 1;
  while ((live + 1) * 2 > cells) cells <<= 1;
  const index = heap.alloc(<usize>cells << 2);
  memory.fill(index, 0, <usize>cells << 2);
  const mask = cells - 1;
  const used = load<u32>(s, 16);
  const base = <usize>load<u32>(s, 8);
  for (let i: u32 = 0; i < used; i++) {
    const c = base + <usize>i * CHAN;
    if (load<u32>(c, 36)) indexPut(index, mask, load<u32>(c, 24), i);
  }
  heap.free(<usize>load<u32>(s, 28));
  store<u32>(s, <u32>index, 28);
  store<u32>(s, mask, 32);
  store<u32>(s, live, 36);
}

/**
 * Opens channel (p, n): returns its slot, creating an empty aggregate `{}` at version 0 the
 * first time. Returns -ERR_NAME for an invalid name, -ERR_NOT_FOUND for a bad handle.
 */
export function storeOpenAt(h: i32, p: usize, n: i32): i32 {
  const s = storeBlock(h);
  if (!s) return -ERR_NOT_FOUND;
  if (!validChannelName(p, n)) return -ERR_NAME;
  const hv = hashBytes(p, <u32>n);
  const found = findName(s, p, <u32>n, hv);
  if (found >= 0) return found;
  if ((load<u32>(s, 36) + 1) * 2 > load<u32>(s, 32) + 1) indexRebuild(s);
  let slot = load<i32>(s, 24);
  let c: usize;
  if (slot >= 0) {
    c = <usize>load<u32>(s, 8) + <usize>slot * CHAN;
    store<i32>(s, load<i32>(c, 40), 24);
  } else {
    const used = load<u32>(s, 16);
    const cap = load<u32>(s, 12);
    if (used == cap) {
      const ncap = cap == 0 ? 8 : cap << 1;
      const old = <usize>load<u32>(s, 8);
      store<u32>(s, <u32>(old ? heap.realloc(old, <usize>ncap * CHAN) : heap.alloc(<usize>ncap * CHAN)), 8);
      store<u32>(s, ncap, 12);
    }
    slot = <i32>used;
    store<u32>(s, used + 1, 16);
    c = <usize>load<u32>(s, 8) + <usize>slot * CHAN;
  }
  const name = heap.alloc(<usize>n);
  memory.copy(name, p, <usize>n);
  store<u64>(c, <u64>T_MAP);
  store<u64>(c, <u64>mapNew(), 8);
  store<f64>(c, 0, 16);
  store<u32>(c, hv, 24);
  store<u32>(c, <u32>name, 28);
  store<u32>(c, <u32>n, 32);
  store<u32>(c, 1, 36);
  store<i32>(c, -1, 40);
  store<u32>(s, load<u32>(s, 20) + 1, 20);
  indexPut(<usize>load<u32>(s, 28), load<u32>(s, 32), hv, <u32>slot);
  store<u32>(s, load<u32>(s, 36) + 1, 36);
  return slot;
}

/** Address of the records of store `h` (channel slot i at + i * 48), or 0; valid until the next
 *  open. For read-only warm-up loads (the pipeline), through storeRootMap. */
export function storeRecords(h: i32): usize {
  const s = storeBlock(h);
  return s ? <usize>load<u32>(s, 8) : 0;
}

/** The map node at the root of live channel `slot` in the records at `base`, or 0. */
@inline export function storeRootMap(base: usize, slot: i32): usize {
  const c = base + <usize>slot * CHAN;
  return load<u8>(c) == T_MAP ? <usize>load<u32>(c, 8) : 0;
}

/** storeOpenAt with the name (nameLen bytes) in the input region. */
export function storeOpen(h: i32, nameLen: i32): i32 {
  return storeOpenAt(h, ioInPtr(), nameLen);
}

/** Slot of the channel named in the input region, or -1. */
export function storeSlotOf(h: i32, nameLen: i32): i32 {
  const s = storeBlock(h);
  if (!s) return -1;
  const p = ioInPtr();
  if (!validChannelName(p, nameLen)) return -1;
  return findName(s, p, <u32>nameLen, hashBytes(p, <u32>nameLen));
}

let removals: u32 = 0;

/** Rises on every channel removal: caches of name -> slot (the pipeline's) drop themselves. */
export function storeRemovals(): u32 {
  return removals;
}

/** Removes a channel and frees its memory; the slot is reused by a later open. */
export function storeRemove(h: i32, slot: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  const c = chan(s, slot);
  if (!c) return ERR_NOT_FOUND;
  removals++;
  const index = <usize>load<u32>(s, 28);
  const mask = load<u32>(s, 32);
  let i = load<u32>(c, 24) & mask;
  while (load<u32>(index + (<usize>i << 2)) != <u32>slot + 1) i = (i + 1) & mask;
  store<u32>(index + (<usize>i << 2), TOMB);
  freeValue(c);
  heap.free(<usize>load<u32>(c, 28));
  store<u32>(c, 0, 28);
  store<u32>(c, 0, 36);
  store<i32>(c, load<i32>(s, 24), 40);
  store<i32>(s, slot, 24);
  store<u32>(s, load<u32>(s, 20) - 1, 20);
  return OK;
}

// Result of the last apply, at a fixed address so JS reads it without a call: STORE_RESULT in
// layout.json (version, changed, output length, output ptr).
const result: usize = memory.data(STORE_RESULT_SIZE);

export function storeResultPtr(): usize {
  return result;
}

/** Version produced by the last successful storeApplyInto / storeApply. */
export function storeLastVersion(): f64 {
  return load<f64>(result, STORE_RESULT_VERSION);
}

/** Whether the last successful storeApplyInto / storeApply changed the aggregate. */
export function storeLastChanged(): bool {
  return load<u32>(result, STORE_RESULT_CHANGED) != 0;
}

/**
 * For in-core pipelines: merges the msgpack diff at (diffPtr, diffLen) into channel `slot` of
 * store `h` and APPENDS the effective diff (msgpack; an empty map when nothing changed) to the
 * output region at its current position. `flags`: bit 0 doDelete, bit 1 replace (the aggregate
 * becomes exactly the new value; the diff written is generate_diff(old, new, doDelete)). Before
 * the call, docSetReplaceKeys may name top-level keys to replace rather than merge (that call
 * only). The diff bytes must not lie in the output region (the output may move while it grows).
 * Returns a status; on error the aggregate, its version and the output are unchanged. Read
 * storeLastVersion() / storeLastChanged() after a success.
 */
export function storeApplyInto(h: i32, slot: i32, diffPtr: usize, diffLen: i32, flags: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  const c = chan(s, slot);
  if (!c) return ERR_NOT_FOUND;
  const st = docApply(c, diffPtr, diffLen, flags, load<i32>(s), load<i32>(s, 4));
  if (st) return st;
  let v = load<f64>(c, 16);
  const ch = docLastChanged();
  if (ch) {
    v += 1;
    store<f64>(c, v, 16);
  }
  store<f64>(result, v, STORE_RESULT_VERSION);
  store<u32>(result, ch ? 1 : 0, STORE_RESULT_CHANGED);
  return OK;
}

/**
 * storeApplyInto for the binding: the diff is the first diffLen bytes of the input region,
 * followed by `keyCount` replace-keys as [u32 length][bytes]; the output is reset first and its
 * address and length are left in the result block.
 */
export function storeApply(h: i32, slot: i32, diffLen: i32, flags: i32, keyCount: i32): i32 {
  outReset();
  const p = ioInPtr();
  if (keyCount > 0 && (flags & APPLY_REPLACE) == 0) docSetReplaceKeys(p + <usize>diffLen, keyCount);
  const st = storeApplyInto(h, slot, p, diffLen, flags);
  store<u32>(result, <u32>ioOutLen(), STORE_RESULT_OUT_LEN);
  store<u32>(result, <u32>ioOutPtr(), STORE_RESULT_OUT_PTR);
  return st;
}

/** Writes the aggregate of a channel to the output region as msgpack. */
export function storeGet(h: i32, slot: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  const c = chan(s, slot);
  if (!c) return ERR_NOT_FOUND;
  outReset();
  encodeValue(c);
  return OK;
}

/** Version of a channel, or -1 when there is no such channel. */
export function storeVersion(h: i32, slot: i32): f64 {
  const s = storeBlock(h);
  if (!s) return -1;
  const c = chan(s, slot);
  return c ? load<f64>(c, 16) : -1;
}

export function storeSize(h: i32): i32 {
  const s = storeBlock(h);
  return s ? load<i32>(s, 20) : -1;
}

/** Writes the names of all live channels to the output region as a msgpack array of strings. */
export function storeNames(h: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  outReset();
  writeArrayHeader(load<u32>(s, 20));
  const used = load<u32>(s, 16);
  const base = <usize>load<u32>(s, 8);
  for (let i: u32 = 0; i < used; i++) {
    const c = base + <usize>i * CHAN;
    if (load<u32>(c, 36)) writeStr(<usize>load<u32>(c, 28), load<u32>(c, 32));
  }
  return OK;
}

/** Writes a channel's name to the output region as a msgpack string. */
export function storeName(h: i32, slot: i32): i32 {
  const s = storeBlock(h);
  if (!s) return ERR_NOT_FOUND;
  const c = chan(s, slot);
  if (!c) return ERR_NOT_FOUND;
  outReset();
  writeStr(<usize>load<u32>(c, 28), load<u32>(c, 32));
  return OK;
}
