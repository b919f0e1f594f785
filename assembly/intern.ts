// Interning: each distinct byte string (UTF-8, any content) gets a dense integer id the first time
// it is seen, and keeps it for the life of the instance. Hot paths (routing, stores) then work on
// ids: comparing two names is comparing two integers, and per-name state lives in arrays indexed
// by id. Ids are never released, so the table only grows with the number of DISTINCT strings,
// never with traffic; that keeps memory flat under overwrite-heavy telemetry.
//
// One table per instance, shared by every module. All storage is raw heap memory (no GC):
//
//   records  [ptr u32][len u32][hash u32] per id, 12 bytes, indexed by id (realloc-grown)
//   slots    [hash u32][id+1 u32] per slot, 8 bytes; open addressing with linear probing,
//            capacity a power of two, at most half full; id+1 == 0 marks an empty slot
//   bytes    the strings themselves, packed into 16 KiB chunks that are never moved or freed, so
//            internedPtr(id) stays valid forever (a string longer than 1 KiB gets its own block)

// @ts-ignore: decorator
@inline const RECORD: usize = 12;
// @ts-ignore: decorator
@inline const CHUNK: i32 = 16 * 1024;
// @ts-ignore: decorator
@inline const BIG: i32 = 1024;

let count: i32 = 0;
let recordCap: i32 = 256;
let records: usize = heap.alloc(<usize>recordCap * RECORD);

let slotCap: i32 = 512; // power of two
let slots: usize = heap.alloc(<usize>slotCap << 3);
memory.fill(slots, 0, <usize>slotCap << 3);

let chunk: usize = heap.alloc(<usize>CHUNK);
let chunkUsed: i32 = 0;

/**
 * MurmurHash3 (x86, 32-bit) over raw bytes, one 32-bit word at a time: short level names hash in a
 * handful of multiplies. Unaligned loads are fine in WebAssembly.
 */
export function hashBytes(ptr: usize, len: i32): u32 {
  let h: u32 = 0x9747b28c;
  const c1: u32 = 0xcc9e2d51;
  const c2: u32 = 0x1b873593;
  const end = ptr + <usize>(len & ~3);
  let p = ptr;
  while (p < end) {
    let k = load<u32>(p);
    k *= c1;
    k = rotl<u32>(k, 15);
    k *= c2;
    h ^= k;
    h = rotl<u32>(h, 13);
    h = h * 5 + 0xe6546b64;
    p += 4;
  }
  const rest = len & 3;
  if (rest) {
    let k: u32 = 0;
    if (rest == 3) k ^= <u32>load<u8>(p, 2) << 16;
    if (rest >= 2) k ^= <u32>load<u8>(p, 1) << 8;
    k ^= <u32>load<u8>(p);
    k *= c1;
    k = rotl<u32>(k, 15);
    k *= c2;
    h ^= k;
  }
  h ^= <u32>len;
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** Slot address holding `ptr/len` (hash `h`), or the empty slot where it would go. */
// @ts-ignore: decorator
@inline function probe(ptr: usize, len: i32, h: u32): usize {
  const mask = slotCap - 1;
  let i = <i32>h & mask;
  while (true) {
    const slot = slots + (<usize>i << 3);
    const idp1 = load<u32>(slot, 4);
    if (idp1 == 0) return slot;
    if (load<u32>(slot) == h) {
      const rec = records + <usize>(idp1 - 1) * RECORD;
      if (load<i32>(rec, 4) == len && memory.compare(load<u32>(rec), ptr, <usize>len) == 0) return slot;
    }
    i = (i + 1) & mask;
  }
  return 0; // unreachable: the table is never more than half full
}

/** The id of these bytes, or -1 if they were never interned. */
export function internFind(ptr: usize, len: i32): i32 {
  const slot = probe(ptr, len, hashBytes(ptr, len));
  return <i32>load<u32>(slot, 4) - 1;
}

/** The id of these bytes, interning a copy of them first if needed. */
export function internAdd(ptr: usize, len: i32): i32 {
  const h = hashBytes(ptr, len);
  let slot = probe(ptr, len, h);
  const found = load<u32>(slot, 4);
  if (found != 0) return <i32>found - 1;

  // Copy the bytes into stable storage first: `ptr` may point into the io region.
  let dst: usize;
  if (len > BIG) {
    dst = heap.alloc(<usize>len);
  } else {
    if (chunkUsed + len > CHUNK) {
      chunk = heap.alloc(<usize>CHUNK);
      chunkUsed = 0;
    }
    dst = chunk + <usize>chunkUsed;
    chunkUsed += len;
  }
  memory.copy(dst, ptr, <usize>len);

  const id = count;
  if (id == recordCap) {
    recordCap <<= 1;
    records = heap.realloc(records, <usize>recordCap * RECORD);
  }
  const rec = records + <usize>id * RECORD;
  store<u32>(rec, <u32>dst);
  store<i32>(rec, len, 4);
  store<u32>(rec, h, 8);
  count = id + 1;

  if (count * 2 > slotCap) {
    grow();
  } else {
    store<u32>(slot, h);
    store<u32>(slot, <u32>id + 1, 4);
  }
  return id;
}

/** Doubles the slot table and reinserts every id (hashes are kept in the records). */
function grow(): void {
  heap.free(slots);
  slotCap <<= 1;
  const bytes = <usize>slotCap << 3;
  slots = heap.alloc(bytes);
  memory.fill(slots, 0, bytes);
  const mask = slotCap - 1;
  for (let id = 0; id < count; id++) {
    const h = load<u32>(records + <usize>id * RECORD, 8);
    let i = <i32>h & mask;
    while (load<u32>(slots + (<usize>i << 3), 4) != 0) i = (i + 1) & mask;
    const slot = slots + (<usize>i << 3);
    store<u32>(slot, h);
    store<u32>(slot, <u32>id + 1, 4);
  }
}

/** Address of the interned bytes of `id` (stable for the life of the instance). */
export function internedPtr(id: i32): usize {
  return <usize>load<u32>(records + <usize>id * RECORD);
}

/** Byte length of the interned string `id`. */
export function internedLen(id: i32): i32 {
  return load<i32>(records + <usize>id * RECORD, 4);
}

/** Number of ids handed out so far (ids are 0 .. internCount() - 1). */
export function internCount(): i32 {
  return count;
}
