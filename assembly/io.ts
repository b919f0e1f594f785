// The two byte regions shared with JavaScript. Only numbers cross the boundary: the binding
// writes a request into the input region (after asking for capacity) and reads the reply from
// the output region through views it caches until memory grows.
//
// Both regions are raw heap blocks, not managed objects, so the GC never moves or scans them.

let inPtr: usize = heap.alloc(64 * 1024);
let inCap: i32 = 64 * 1024;

let outPtr: usize = heap.alloc(64 * 1024);
let outCap: i32 = 64 * 1024;
let outLen: i32 = 0;

/** Ensures the input region holds at least `len` bytes; returns its address (it may move). */
export function ioInReserve(len: i32): usize {
  if (len > inCap) {
    let cap = inCap;
    while (cap < len) cap <<= 1;
    heap.free(inPtr);
    inPtr = heap.alloc(<usize>cap);
    inCap = cap;
  }
  return inPtr;
}

export function ioInPtr(): usize {
  return inPtr;
}

export function ioOutPtr(): usize {
  return outPtr;
}

export function ioOutLen(): i32 {
  return outLen;
}

// ---- output writer, used by core modules (not exported to JS) ----

@inline export function outReset(): void {
  outLen = 0;
}

@inline export function outPos(): i32 {
  return outLen;
}

/** Rewinds the output to an earlier position (drops a partial reply on error). */
@inline export function outTruncate(pos: i32): void {
  outLen = pos;
}

/** Makes room for `extra` more bytes; returns the address to write them at. Inlined: the hot
 *  writers (the merge plan's effective diff) call it per key, and it rarely grows. */
@inline export function outEnsure(extra: i32): usize {
  const need = outLen + extra;
  if (need > outCap) outGrow(need);
  return outPtr + <usize>outLen;
}

function outGrow(need: i32): void {
  let cap = outCap;
  while (cap < need) cap <<= 1;
  outPtr = heap.realloc(outPtr, <usize>cap);
  outCap = cap;
}

@inline export function outAdvance(n: i32): void {
  outLen += n;
}

export function outU8(v: u8): void {
  store<u8>(outEnsure(1), v);
  outLen += 1;
}

export function outU32(v: u32): void {
  store<u32>(outEnsure(4), v);
  outLen += 4;
}

export function outF64(v: f64): void {
  store<f64>(outEnsure(8), v);
  outLen += 8;
}

export function outBytes(src: usize, n: i32): void {
  memory.copy(outEnsure(n), src, <usize>n);
  outLen += n;
}
