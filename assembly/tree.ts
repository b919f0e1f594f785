// The document tree: a JSON-like value held in raw linear memory (heap.alloc/heap.free, never the
// GC), so an aggregate is updated in place instead of being re-parsed from msgpack.
//
// Value slot, 16 bytes, embedded in its parent (map entry, array block or channel record):
//   +0  tag u8   T_NULL .. T_MAP         +1..+3 unused
//   +4  aux u32  string byte length | array element count
//   +8  u64      T_INT: i64 | T_UINT: u64 (>= 2^63) | T_FLOAT: f64 bits
//                T_STR: the bytes themselves when len <= 8, else a pointer to a block of len bytes
//                T_ARR: pointer to count consecutive value slots (0 when empty)
//                T_MAP: pointer to a map node
// Scalars and short strings live inline, so overwriting a number or a short status string
// allocates nothing; that keeps memory flat under overwrite-heavy telemetry. Ints and floats stay
// apart: a float32 is widened to f64 and goes back out as float64, an integer goes out in its
// smallest msgpack encoding (int64/uint64 values are kept exactly).
//
// Map node, 24 bytes, at a stable address (the parent slot points at it; growth moves only the
// table):
//   +0 count u32 (live entries)  +4 used u32 (order cells written: live + deleted)  +8 cap u32
//   (entry cells)  +12 maxUsed u32 (used may not pass it: 3/4 of cap)  +16 table (32-aligned)
//   +20 the table's allocation
// Table: `cap` entry cells of 32 bytes, open addressing with linear probing, then `maxUsed` u32
// order cells holding the cell numbers in insertion order (JSON objects in JS and dicts in Python
// keep it). A lookup lands on the entry itself: hash, key and value share one 32-byte cell (the
// table is 32-aligned, so one cache line), instead of an index cell and then an entry elsewhere;
// on a store of thousands of aggregates each of those loads is a cache miss. Deleting an entry
// leaves a tombstone (hash word 0, value tag T_NULL; an empty cell is all zeros) that stays until
// the next rebuild, and is never reused before it, so a cell appears once in the order cells.
// Entry cell, 32 bytes:
//   +0 hash word u32: low 24 bits of the key's hash (never 0) | min(key length, 255) << 24;
//      0 = empty or deleted
//   +4 mark u32 (epoch of the last plan that visited it; see doc.ts)
//   +8 key: its bytes, zero-padded, when it has at most 8 (most telemetry keys), else a pointer
//      to a block [u32 length][bytes]
//   +16 value slot
import {
  K_ARR, K_FALSE, K_FLOAT, K_INT, K_MAP, K_NIL, K_STR, K_TRUE, K_UINT,
  hFloat, hInt, hLen, readHeader, rp, readerSeek,
  copyBytes, writeArrayHeader, writeBool, writeFloat, writeInt, writeNil, writeStr, writeUint, mapBegin, mapEnd,
} from "./msgpack";

export const T_NULL: u8 = 1;
export const T_FALSE: u8 = 2;
export const T_TRUE: u8 = 3;
export const T_INT: u8 = 4;
export const T_UINT: u8 = 5;
export const T_FLOAT: u8 = 6;
export const T_STR: u8 = 7;
export const T_ARR: u8 = 8;
export const T_MAP: u8 = 9;

export const SLOT: usize = 16;
const ENTRY: usize = 32;
/** Offsets in an entry: the plan mark and the value slot. */
export const E_MARK: usize = 4;
export const E_VAL: usize = 16;
const INLINE_STR: u32 = 8;
/** Keys of up to this many bytes are stored in their entry. */
const INLINE_KEY: u32 = 8;

/** The hash word an entry holds for a key of `n` bytes with hash `h`: never 0. */
@inline export function hashWord(h: u32, n: u32): u32 {
  const low = h & 0xffffff;
  return (low == 0 ? 1 : low) | ((n < 255 ? n : 255) << 24);
}

/** Byte length of an entry's key. */
@inline export function entryKeyLen(e: usize): u32 {
  const n = load<u32>(e) >> 24;
  return n <= INLINE_KEY ? n : load<u32>(<usize>load<u32>(e, 8));
}

/** Address of an entry's key bytes. */
@inline export function entryKey(e: usize): usize {
  return load<u32>(e) >> 24 <= INLINE_KEY ? e + 8 : <usize>load<u32>(e, 8) + 4;
}

@inline export function slotTag(s: usize): u8 {
  return load<u8>(s);
}
@inline export function slotAux(s: usize): u32 {
  return load<u32>(s, 4);
}
@inline export function slotPtr(s: usize): usize {
  return <usize>load<u32>(s, 8);
}
@inline export function setNull(s: usize): void {
  store<u64>(s, <u64>T_NULL);
  store<u64>(s, 0, 8);
}

/** Address of a string slot's bytes. */
@inline export function strBytes(s: usize): usize {
  return load<u32>(s, 4) <= INLINE_STR ? s + 8 : <usize>load<u32>(s, 8);
}

// ---- hashing and key comparison ----

/** End of linear memory as last seen; memory only grows, so a stale value is merely cautious. */
let memTop: usize = 0;

/**
 * Loads the `n` (1..7) bytes at p as the low bytes of a u64. Reads 8 bytes at once when that stays
 * inside linear memory (the extra bytes are masked off), else byte by byte.
 */
@inline function loadTail(p: usize, n: usize): u64 {
  if (p + 8 > memTop) memTop = <usize>memory.size() << 16;
  if (p + 8 <= memTop) return load<u64>(p) & ((<u64>1 << (<u64>n << 3)) - 1);
  let k: u64 = 0;
  for (let i: usize = 0; i < n; i++) k |= <u64>load<u8>(p + i) << (<u64>i << 3);
  return k;
}

// hashBytes in three steps, so that a key of up to 8 bytes already held in a register (the merge
// fast path, doc.ts) hashes exactly as hashBytes would hash its bytes.
@inline function hashStart(n: u32): u64 {
  return 0x9e3779b97f4a7c15 ^ <u64>n;
}
@inline function hashRound(h: u64, k: u64): u64 {
  const x = (h ^ k) * 0xff51afd7ed558ccd;
  return x ^ (x >> 32);
}
@inline function hashFinish(h: u64): u32 {
  let x = h * 0xc4ceb9fe1a85ec53;
  x ^= x >> 29;
  const r = <u32>x;
  return r == 0 ? 1 : r;
}

/** 32-bit hash of a byte string, 8 bytes per step (multiply-xorshift mixing); never 0. */
export function hashBytes(p: usize, n: u32): u32 {
  let h = hashStart(n);
  let i: usize = 0;
  const len = <usize>n;
  while (i + 8 <= len) {
    h = hashRound(h, load<u64>(p + i));
    i += 8;
  }
  if (i < len) h = hashRound(h, loadTail(p + i, len - i));
  return hashFinish(h);
}

/** hashBytes of a key of `n` (1..8) bytes given as one word: the bytes in order, zero above. */
@inline export function hashShortKey(k: u64, n: u32): u32 {
  return hashFinish(hashRound(hashStart(n), k));
}

export function bytesEqual(a: usize, b: usize, n: usize): bool {
  return keyEqual(a, b, n);
}

/** bytesEqual inlined, for the two hot key comparisons (map lookup, in-order match). */
@inline export function keyEqual(a: usize, b: usize, n: usize): bool {
  let i: usize = 0;
  while (i + 8 <= n) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
    i += 8;
  }
  if (i == n) return true;
  return loadTail(a + i, n - i) == loadTail(b + i, n - i);
}

// ---- maps ----

export function mapNew(): usize {
  const m = heap.alloc(24);
  store<u64>(m, 0);
  store<u64>(m, 0, 8);
  store<u64>(m, 0, 16);
  return m;
}

@inline export function mapCount(m: usize): u32 {
  return load<u32>(m);
}
/** Number of order cells written (live and deleted entries): the bound for mapAt. */
@inline export function mapUsed(m: usize): u32 {
  return load<u32>(m, 4);
}
/** The j-th entry in insertion order (j < mapUsed), or 0 when it was deleted. */
@inline export function mapAt(m: usize, j: u32): usize {
  const table = <usize>load<u32>(m, 16);
  const e = table + <usize>load<u32>(table + <usize>load<u32>(m, 8) * ENTRY + (<usize>j << 2)) * ENTRY;
  return load<u32>(e) ? e : 0;
}

/** First probe position of hash word hw in a table of `cap` cells (multiply-shift: any cap). */
@inline function home(hw: u32, cap: u32): u32 {
  return <u32>((<u64>(hw & 0xffffff) * <u64>cap) >> 24);
}

/** Whether entry e (whose hash word matched) holds key (p, n). */
@inline function entryHasKey(e: usize, p: usize, n: u32): bool {
  if (n <= INLINE_KEY) return keyEqual(e + 8, p, <usize>n);
  const k = <usize>load<u32>(e, 8);
  return load<u32>(k) == n && keyEqual(k + 4, p, <usize>n);
}

/**
 * The probe both lookups share: the entry whose hash word matches and whose key is (p, n), or,
 * with `short` (a constant at every call, folded away once inlined), whose zero-padded inline
 * key equals the word `k`; 0 when an empty cell ends the probe (a tombstone, tag T_NULL, does not).
 */
@inline function mapProbe(m: usize, h: u32, n: u32, p: usize, k: u64, short: bool): usize {
  const cap = load<u32>(m, 8);
  if (cap == 0) return 0;
  const table = <usize>load<u32>(m, 16);
  const hw = hashWord(h, n);
  let i = home(hw, cap);
  while (true) {
    const e = table + <usize>i * ENTRY;
    const w = load<u32>(e);
    if (w == hw) {
      if (short ? load<u64>(e, 8) == k : entryHasKey(e, p, n)) return e;
    } else if (w == 0 && load<u8>(e, E_VAL) == 0) {
      return 0;
    }
    if (++i == cap) i = 0;
  }
}

/** The entry for key (p, n) with hash h, or 0. */
export function mapFind(m: usize, h: u32, p: usize, n: u32): usize {
  return mapProbe(m, h, n, p, 0, false);
}

/**
 * mapFind for a key of `n` (1..8) bytes given as hashShortKey's word `k` with hash `h`: such keys
 * sit zero-padded in their entry, so one u64 compare replaces the byte compare.
 */
@inline export function mapFindShort(m: usize, h: u32, k: u64, n: u32): usize {
  return mapProbe(m, h, n, 0, k, true);
}

/** The first word of the cell where a lookup of (h, n) starts, read only to bring its cache line
 *  in early (the pipeline's warm pass); 0 for an empty map. */
export function mapTouch(m: usize, h: u32, n: u32): u32 {
  const cap = load<u32>(m, 8);
  if (cap == 0) return 0;
  return load<u32>(<usize>load<u32>(m, 16) + <usize>home(hashWord(h, n), cap) * ENTRY);
}

/** Moves the live entries, in order, into a fresh table with room for `need` more. */
function mapRebuild(m: usize, need: u32): void {
  const count = load<u32>(m);
  const oldCap = load<u32>(m, 8);
  const oldTable = <usize>load<u32>(m, 16);
  const oldRaw = <usize>load<u32>(m, 20);
  const live = count + need;
  // At most half full after a rebuild and at most 3/4 before the next, so probes stay short.
  let cap: u32 = (live * 2 + 3) & ~3;
  if (cap < 8) cap = 8;
  const maxUsed = (cap >> 2) * 3;
  const bytes = <usize>cap * ENTRY + (<usize>maxUsed << 2);
  const raw = heap.alloc(bytes + 32);
  const table = (raw + 31) & ~(<usize>31);
  memory.fill(table, 0, <usize>cap * ENTRY);
  const order = table + <usize>cap * ENTRY;
  let n: u32 = 0;
  if (oldTable) {
    const used = load<u32>(m, 4);
    const oldOrder = oldTable + <usize>oldCap * ENTRY;
    for (let j: u32 = 0; j < used; j++) {
      const src = oldTable + <usize>load<u32>(oldOrder + (<usize>j << 2)) * ENTRY;
      const hw = load<u32>(src);
      if (hw == 0) continue;
      let i = home(hw, cap);
      while (load<u32>(table + <usize>i * ENTRY) != 0) if (++i == cap) i = 0;
      copyBytes(table + <usize>i * ENTRY, src, ENTRY);
      store<u32>(order + (<usize>n << 2), i);
      n++;
    }
    heap.free(oldRaw);
  }
  store<u32>(m, n, 4);
  store<u32>(m, cap, 8);
  store<u32>(m, maxUsed, 12);
  store<u32>(m, <u32>table, 16);
  store<u32>(m, <u32>raw, 20);
}

/** Makes room for `n` more keys at once (a map about to be built from `n` pairs). */
export function mapReserve(m: usize, n: u32): void {
  if (load<u32>(m, 4) + n > load<u32>(m, 12)) mapRebuild(m, n);
}

/** Appends a new entry (the key must not be present); copies the key bytes. Returns the entry,
 *  whose value slot is left for the caller to fill. */
export function mapInsert(m: usize, h: u32, p: usize, n: u32): usize {
  if (load<u32>(m, 4) >= load<u32>(m, 12)) mapRebuild(m, 1);
  const cap = load<u32>(m, 8);
  const table = <usize>load<u32>(m, 16);
  const hw = hashWord(h, n);
  // Tombstones are not reused: each cell appears at most once in the order cells.
  let i = home(hw, cap);
  while (true) {
    const c = table + <usize>i * ENTRY;
    if (load<u32>(c) == 0 && load<u8>(c, E_VAL) == 0) break;
    if (++i == cap) i = 0;
  }
  const e = table + <usize>i * ENTRY;
  store<u32>(e, hw);
  store<u32>(e, 0, E_MARK);
  store<u64>(e, 0, 8);
  if (n <= INLINE_KEY) {
    copyBytes(e + 8, p, <usize>n);
  } else {
    const key = heap.alloc(4 + <usize>n);
    store<u32>(key, n);
    copyBytes(key + 4, p, <usize>n);
    store<u32>(e, <u32>key, 8);
  }
  const j = load<u32>(m, 4);
  store<u32>(table + <usize>cap * ENTRY + (<usize>j << 2), i);
  store<u32>(m, j + 1, 4);
  store<u32>(m, load<u32>(m) + 1);
  return e;
}

/** Removes an entry: frees its key and value and leaves a tombstone (hash word 0, value null). */
export function mapDelete(m: usize, e: usize): void {
  freeValue(e + E_VAL);
  if (load<u32>(e) >> 24 > INLINE_KEY) heap.free(<usize>load<u32>(e, 8));
  store<u32>(e, 0);
  store<u64>(e, 0, 8);
  store<u32>(m, load<u32>(m) - 1);
}

export function mapFree(m: usize): void {
  const table = <usize>load<u32>(m, 16);
  if (table) {
    const cap = load<u32>(m, 8);
    for (let i: u32 = 0; i < cap; i++) {
      const e = table + <usize>i * ENTRY;
      const hw = load<u32>(e);
      if (hw == 0) continue;
      freeValue(e + E_VAL);
      if (hw >> 24 > INLINE_KEY) heap.free(<usize>load<u32>(e, 8));
    }
    heap.free(<usize>load<u32>(m, 20));
  }
  heap.free(m);
}

/** Frees whatever a slot owns and leaves it null. */
export function freeValue(s: usize): void {
  const tag = load<u8>(s);
  if (tag == T_STR) {
    if (load<u32>(s, 4) > INLINE_STR) heap.free(<usize>load<u32>(s, 8));
  } else if (tag == T_ARR) {
    const p = <usize>load<u32>(s, 8);
    if (p) {
      const n = load<u32>(s, 4);
      for (let i: u32 = 0; i < n; i++) freeValue(p + <usize>i * SLOT);
      heap.free(p);
    }
  } else if (tag == T_MAP) {
    mapFree(<usize>load<u32>(s, 8));
  }
  setNull(s);
}

// ---- building from msgpack (input already validated by doc.ts) ----

/** Drop entries whose value is nil (apply_diff into a fresh object with do_delete). */
export const BUILD_DROP_NULLS: i32 = 1;

/** Decodes the value at rp into slot `s` (which must hold nothing). `flags` apply to the map
 *  levels reached from the top through maps only; arrays are copied verbatim. */
export function buildValue(s: usize, flags: i32): void {
  const kind = readHeader();
  switch (kind) {
    case K_NIL: setNull(s); break;
    case K_FALSE: store<u64>(s, <u64>T_FALSE); store<u64>(s, 0, 8); break;
    case K_TRUE: store<u64>(s, <u64>T_TRUE); store<u64>(s, 0, 8); break;
    case K_INT: store<u64>(s, <u64>T_INT); store<i64>(s, hInt, 8); break;
    case K_UINT: store<u64>(s, <u64>T_UINT); store<i64>(s, hInt, 8); break;
    case K_FLOAT: store<u64>(s, <u64>T_FLOAT); store<f64>(s, hFloat, 8); break;
    case K_STR: {
      const n = hLen;
      store<u32>(s, <u32>T_STR);
      store<u32>(s, n, 4);
      store<u64>(s, 0, 8);
      if (n <= INLINE_STR) {
        copyBytes(s + 8, rp, <usize>n);
      } else {
        const b = heap.alloc(<usize>n);
        memory.copy(b, rp, <usize>n);
        store<u64>(s, <u64>b, 8);
      }
      readerSeek(rp + <usize>n);
      break;
    }
    case K_ARR: {
      const n = hLen;
      store<u32>(s, <u32>T_ARR);
      store<u32>(s, n, 4);
      store<u64>(s, 0, 8);
      if (n) {
        const p = heap.alloc(<usize>n * SLOT);
        store<u64>(s, <u64>p, 8);
        for (let i: u32 = 0; i < n; i++) buildValue(p + <usize>i * SLOT, 0);
      }
      break;
    }
    case K_MAP: {
      const m = buildMap(hLen, flags);
      store<u64>(s, <u64>T_MAP);
      store<u64>(s, <u64>m, 8);
      break;
    }
    default: setNull(s); // unreachable: input was validated
  }
}

/** Builds a map of `n` pairs at rp (header consumed). Duplicate keys were rejected earlier. */
export function buildMap(n: u32, flags: i32): usize {
  const m = mapNew();
  if (n) mapReserve(m, n);
  for (let i: u32 = 0; i < n; i++) {
    readHeader(); // key: a string (validated)
    const kp = rp;
    const kn = hLen;
    readerSeek(rp + <usize>kn);
    const b = load<u8>(rp);
    if ((flags & BUILD_DROP_NULLS) && b == 0xc0) {
      readerSeek(rp + 1);
      continue;
    }
    const isMap = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
    const e = mapInsert(m, hashBytes(kp, kn), kp, kn);
    setNull(e + E_VAL);
    buildValue(e + E_VAL, isMap ? flags : 0);
  }
  return m;
}

// ---- encoding to msgpack ----

export function encodeValue(s: usize): void {
  switch (load<u8>(s)) {
    case T_NULL: writeNil(); break;
    case T_FALSE: writeBool(false); break;
    case T_TRUE: writeBool(true); break;
    case T_INT: writeInt(load<i64>(s, 8)); break;
    case T_UINT: writeUint(load<u64>(s, 8)); break;
    case T_FLOAT: writeFloat(load<f64>(s, 8)); break;
    case T_STR: writeStr(strBytes(s), load<u32>(s, 4)); break;
    case T_ARR: {
      const n = load<u32>(s, 4);
      const p = <usize>load<u32>(s, 8);
      writeArrayHeader(n);
      for (let i: u32 = 0; i < n; i++) encodeValue(p + <usize>i * SLOT);
      break;
    }
    case T_MAP: encodeMap(<usize>load<u32>(s, 8)); break;
    default: writeNil();
  }
}

export function encodeMap(m: usize): void {
  const hdr = mapBegin();
  const used = load<u32>(m, 4);
  let n: u32 = 0;
  for (let j: u32 = 0; j < used; j++) {
    const e = mapAt(m, j);
    if (e == 0) continue;
    writeStr(entryKey(e), entryKeyLen(e));
    encodeValue(e + E_VAL);
    n++;
  }
  mapEnd(hdr, n);
}

/** Zeroes every mark in a subtree (after the plan epoch wraps around, see doc.ts). */
export function clearMarks(s: usize): void {
  const tag = load<u8>(s);
  if (tag == T_ARR) {
    const n = load<u32>(s, 4);
    const p = <usize>load<u32>(s, 8);
    for (let i: u32 = 0; i < n; i++) clearMarks(p + <usize>i * SLOT);
  } else if (tag == T_MAP) {
    const m = <usize>load<u32>(s, 8);
    const used = load<u32>(m, 4);
    for (let j: u32 = 0; j < used; j++) {
      const e = mapAt(m, j);
      if (e == 0) continue;
      store<u32>(e, 0, E_MARK);
      clearMarks(e + E_VAL);
    }
  }
}

// ---- numbers compared by value ----

/** Python-style numeric equality of an i64 and an f64 (exact, no rounding surprises). */
@inline export function intEqFloat(i: i64, f: f64): bool {
  return f >= -9223372036854775808.0 && f < 9223372036854775808.0 && f == Math.floor(f) && <i64>f == i;
}
@inline function uintEqFloat(u: u64, f: f64): bool {
  return f >= 9223372036854775808.0 && f < 18446744073709551616.0 && f == Math.floor(f) && <u64>f == u;
}

/** Whether slot `s` equals the scalar just decoded by readHeader (kind `k`). `boolIsNumber` gives
 *  Python's rule (True == 1, False == 0.0), used by generate_diff; merges keep booleans distinct. */
export function scalarEquals(s: usize, k: i32, boolIsNumber: bool): bool {
  const tag = load<u8>(s);
  // Fold booleans into integers where Python would.
  let kk = k;
  let kv: i64 = hInt;
  if (boolIsNumber && (k == K_TRUE || k == K_FALSE)) {
    kk = K_INT;
    kv = k == K_TRUE ? 1 : 0;
  }
  let tt = tag;
  let tv: i64 = load<i64>(s, 8);
  if (boolIsNumber && (tag == T_TRUE || tag == T_FALSE)) {
    tt = T_INT;
    tv = tag == T_TRUE ? 1 : 0;
  }
  switch (kk) {
    case K_NIL: return tag == T_NULL;
    case K_FALSE: return tt == T_FALSE;
    case K_TRUE: return tt == T_TRUE;
    case K_INT: {
      if (tt == T_INT) return tv == kv;
      if (tt == T_FLOAT) return intEqFloat(kv, load<f64>(s, 8));
      return false;
    }
    case K_UINT: {
      if (tt == T_UINT) return tv == kv;
      if (tt == T_FLOAT) return uintEqFloat(<u64>kv, load<f64>(s, 8));
      return false;
    }
    case K_FLOAT: {
      const f = hFloat;
      if (tt == T_FLOAT) {
        const g = load<f64>(s, 8);
        return f == g || (f != f && g != g); // NaN equals NaN: re-sending NaN is not a change
      }
      if (tt == T_INT) return intEqFloat(tv, f);
      if (tt == T_UINT) return uintEqFloat(<u64>tv, f);
      return false;
    }
    default: return false;
  }
}
