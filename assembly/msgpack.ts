// MessagePack reading and writing for the document model.
//
// Reading works on one cursor (`rp` .. `rend`) held in module globals, so the recursive walkers in
// doc.ts pass no state around. `readHeader` decodes one type header and leaves what it found in
// `hKind` / `hLen` / `hInt` / `hFloat`; string bodies are not consumed (the caller either compares,
// copies or skips them). Errors set `rstatus` (first error wins) and return K_ERR:
//   - input that ends inside a header or body  -> ERR_INCOMPLETE (more bytes could make it valid);
//   - the reserved byte 0xc1                   -> ERR_MSGPACK;
//   - bin (0xc4-0xc6) and ext (0xc7-0xc9, 0xd4-0xd8): valid msgpack but with no JSON equivalent,
//     so the data model rejects them                  -> ERR_MSGPACK.
// Bounds are checked once per header (and once per string body), never per byte.
//
// Writing appends to the io output region (io.ts). Maps whose entry count is only known at the
// end reserve a one-byte fixmap header and widen it afterwards if more than 15 entries came.
import { ERR_INCOMPLETE, ERR_MSGPACK, OK } from "./errors";
import { ioOutPtr, outAdvance, outEnsure, outPos } from "./io";

export const K_ERR: i32 = 0;
export const K_NIL: i32 = 1;
export const K_FALSE: i32 = 2;
export const K_TRUE: i32 = 3;
/** Signed integer in hInt (every msgpack int that fits i64). */
export const K_INT: i32 = 4;
/** Unsigned integer >= 2^63 in hInt (as raw u64 bits). */
export const K_UINT: i32 = 5;
/** float32 or float64, widened to f64 in hFloat. */
export const K_FLOAT: i32 = 6;
/** String of hLen bytes starting at rp (body not consumed). */
export const K_STR: i32 = 7;
/** Array of hLen elements. */
export const K_ARR: i32 = 8;
/** Map of hLen key/value pairs. */
export const K_MAP: i32 = 9;

export let rp: usize = 0;
export let rend: usize = 0;
export let rstatus: i32 = OK;

export let hKind: i32 = 0;
export let hLen: u32 = 0;
export let hInt: i64 = 0;
export let hFloat: f64 = 0;

@inline export function readerStart(ptr: usize, len: i32): void {
  rp = ptr;
  rend = ptr + <usize>len;
  rstatus = OK;
}

@inline export function readerSeek(ptr: usize): void {
  rp = ptr;
}

export function readerFail(status: i32): i32 {
  if (rstatus == OK) rstatus = status;
  return K_ERR;
}

/** True when `n` more bytes are available at rp. */
@inline function has(n: usize): bool {
  return rend - rp >= n;
}

/** Decodes the header at rp; see the file comment. Containers get a cheap sanity check: a count
 *  larger than the bytes left cannot be satisfied, so the input is reported as cut short. */
export function readHeader(): i32 {
  if (rp >= rend) return readerFail(ERR_INCOMPLETE);
  const b = <u32>load<u8>(rp);
  if (b < 0x80) {
    rp += 1;
    hInt = <i64>b;
    return (hKind = K_INT);
  }
  if (b >= 0xe0) {
    rp += 1;
    hInt = <i64>(<i8>b);
    return (hKind = K_INT);
  }
  if (b < 0x90) {
    rp += 1;
    hLen = b & 15;
    return (hKind = K_MAP);
  }
  if (b < 0xa0) {
    rp += 1;
    hLen = b & 15;
    return (hKind = K_ARR);
  }
  if (b < 0xc0) {
    rp += 1;
    hLen = b & 31;
    if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
    return (hKind = K_STR);
  }
  switch (b) {
    case 0xc0: rp += 1; return (hKind = K_NIL);
    case 0xc2: rp += 1; return (hKind = K_FALSE);
    case 0xc3: rp += 1; return (hKind = K_TRUE);
    case 0xca: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hFloat = <f64>reinterpret<f32>(bswap<u32>(load<u32>(rp + 1)));
      rp += 5;
      return (hKind = K_FLOAT);
    }
    case 0xcb: {
      if (!has(9)) return readerFail(ERR_INCOMPLETE);
      hFloat = reinterpret<f64>(bswap<u64>(load<u64>(rp + 1)));
      rp += 9;
      return (hKind = K_FLOAT);
    }
    case 0xcc: {
      if (!has(2)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>load<u8>(rp + 1);
      rp += 2;
      return (hKind = K_INT);
    }
    case 0xcd: {
      if (!has(3)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>bswap<u16>(load<u16>(rp + 1));
      rp += 3;
      return (hKind = K_INT);
    }
    case 0xce: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>bswap<u32>(load<u32>(rp + 1));
      rp += 5;
      return (hKind = K_INT);
    }
    case 0xcf: {
      if (!has(9)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>bswap<u64>(load<u64>(rp + 1));
      rp += 9;
      return (hKind = hInt < 0 ? K_UINT : K_INT);
    }
    case 0xd0: {
      if (!has(2)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>load<i8>(rp + 1);
      rp += 2;
      return (hKind = K_INT);
    }
    case 0xd1: {
      if (!has(3)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>(<i16>bswap<u16>(load<u16>(rp + 1)));
      rp += 3;
      return (hKind = K_INT);
    }
    case 0xd2: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>(<i32>bswap<u32>(load<u32>(rp + 1)));
      rp += 5;
      return (hKind = K_INT);
    }
    case 0xd3: {
      if (!has(9)) return readerFail(ERR_INCOMPLETE);
      hInt = <i64>bswap<u64>(load<u64>(rp + 1));
      rp += 9;
      return (hKind = K_INT);
    }
    case 0xd9: {
      if (!has(2)) return readerFail(ERR_INCOMPLETE);
      hLen = <u32>load<u8>(rp + 1);
      rp += 2;
      if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_STR);
    }
    case 0xda: {
      if (!has(3)) return readerFail(ERR_INCOMPLETE);
      hLen = <u32>bswap<u16>(load<u16>(rp + 1));
      rp += 3;
      if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_STR);
    }
    case 0xdb: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hLen = bswap<u32>(load<u32>(rp + 1));
      rp += 5;
      if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_STR);
    }
    case 0xdc: {
      if (!has(3)) return readerFail(ERR_INCOMPLETE);
      hLen = <u32>bswap<u16>(load<u16>(rp + 1));
      rp += 3;
      if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_ARR);
    }
    case 0xdd: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hLen = bswap<u32>(load<u32>(rp + 1));
      rp += 5;
      if (!has(<usize>hLen)) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_ARR);
    }
    case 0xde: {
      if (!has(3)) return readerFail(ERR_INCOMPLETE);
      hLen = <u32>bswap<u16>(load<u16>(rp + 1));
      rp += 3;
      if ((rend - rp) >> 1 < <usize>hLen) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_MAP);
    }
    case 0xdf: {
      if (!has(5)) return readerFail(ERR_INCOMPLETE);
      hLen = bswap<u32>(load<u32>(rp + 1));
      rp += 5;
      if ((rend - rp) >> 1 < <usize>hLen) return readerFail(ERR_INCOMPLETE);
      return (hKind = K_MAP);
    }
    default:
      // 0xc1 (never used), bin 0xc4-0xc6, ext 0xc7-0xc9 and fixext 0xd4-0xd8.
      return readerFail(ERR_MSGPACK);
  }
}

/**
 * Copies n bytes. Small copies use plain loads and stores: the wasm `memory.copy` instruction
 * goes through a runtime call in V8 whose fixed cost dwarfs a 10-byte copy.
 */
@inline export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n >= 8) {
    if (n > 64) {
      memory.copy(dst, src, n);
      return;
    }
    // whole words, then one last word that may overlap the previous one
    let i: usize = 0;
    while (i + 8 < n) {
      store<u64>(dst + i, load<u64>(src + i));
      i += 8;
    }
    store<u64>(dst + n - 8, load<u64>(src + n - 8));
  } else if (n >= 4) {
    store<u32>(dst, load<u32>(src));
    store<u32>(dst + n - 4, load<u32>(src + n - 4));
  } else {
    for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
  }
}

// ---- writing (appends to the io output region) ----

@inline export function writeU8(v: u32): void {
  store<u8>(outEnsure(1), <u8>v);
  outAdvance(1);
}

export function writeNil(): void {
  writeU8(0xc0);
}

export function writeBool(v: bool): void {
  writeU8(v ? 0xc3 : 0xc2);
}

export function writeInt(v: i64): void {
  if (v >= 0) {
    writeUint(<u64>v);
  } else if (v >= -32) {
    writeU8(<u32>(<u8>(<i8>v)));
  } else if (v >= -128) {
    const p = outEnsure(2);
    store<u8>(p, 0xd0);
    store<i8>(p + 1, <i8>v);
    outAdvance(2);
  } else if (v >= -32768) {
    const p = outEnsure(3);
    store<u8>(p, 0xd1);
    store<u16>(p + 1, bswap<u16>(<u16>v));
    outAdvance(3);
  } else if (v >= -2147483648) {
    const p = outEnsure(5);
    store<u8>(p, 0xd2);
    store<u32>(p + 1, bswap<u32>(<u32>v));
    outAdvance(5);
  } else {
    const p = outEnsure(9);
    store<u8>(p, 0xd3);
    store<u64>(p + 1, bswap<u64>(<u64>v));
    outAdvance(9);
  }
}

export function writeUint(v: u64): void {
  if (v < 128) {
    writeU8(<u32>v);
  } else if (v < 256) {
    const p = outEnsure(2);
    store<u8>(p, 0xcc);
    store<u8>(p + 1, <u8>v);
    outAdvance(2);
  } else if (v < 65536) {
    const p = outEnsure(3);
    store<u8>(p, 0xcd);
    store<u16>(p + 1, bswap<u16>(<u16>v));
    outAdvance(3);
  } else if (v < 4294967296) {
    const p = outEnsure(5);
    store<u8>(p, 0xce);
    store<u32>(p + 1, bswap<u32>(<u32>v));
    outAdvance(5);
  } else {
    const p = outEnsure(9);
    store<u8>(p, 0xcf);
    store<u64>(p + 1, bswap<u64>(v));
    outAdvance(9);
  }
}

export function writeFloat(v: f64): void {
  const p = outEnsure(9);
  store<u8>(p, 0xcb);
  store<u64>(p + 1, bswap<u64>(reinterpret<u64>(v)));
  outAdvance(9);
}

export function writeStr(src: usize, len: u32): void {
  let p: usize;
  let h: i32;
  if (len < 32) {
    p = outEnsure(1 + <i32>len);
    store<u8>(p, <u8>(0xa0 | len));
    h = 1;
  } else if (len < 256) {
    p = outEnsure(2 + <i32>len);
    store<u8>(p, 0xd9);
    store<u8>(p + 1, <u8>len);
    h = 2;
  } else if (len < 65536) {
    p = outEnsure(3 + <i32>len);
    store<u8>(p, 0xda);
    store<u16>(p + 1, bswap<u16>(<u16>len));
    h = 3;
  } else {
    p = outEnsure(5 + <i32>len);
    store<u8>(p, 0xdb);
    store<u32>(p + 1, bswap<u32>(len));
    h = 5;
  }
  copyBytes(p + <usize>h, src, <usize>len);
  outAdvance(h + <i32>len);
}

export function writeArrayHeader(n: u32): void {
  if (n < 16) {
    writeU8(0x90 | n);
  } else if (n < 65536) {
    const p = outEnsure(3);
    store<u8>(p, 0xdc);
    store<u16>(p + 1, bswap<u16>(<u16>n));
    outAdvance(3);
  } else {
    const p = outEnsure(5);
    store<u8>(p, 0xdd);
    store<u32>(p + 1, bswap<u32>(n));
    outAdvance(5);
  }
}

/** Copies raw bytes (an already valid msgpack value) to the output. */
@inline export function writeRaw(src: usize, n: usize): void {
  copyBytes(outEnsure(<i32>n), src, n);
  outAdvance(<i32>n);
}

/** Reserves a one-byte map header; returns its output position for `mapEnd`. */
@inline export function mapBegin(): i32 {
  const pos = outPos();
  writeU8(0x80);
  return pos;
}

/** Writes the final entry count into the header reserved at `pos`, widening it if needed. */
export function mapEnd(pos: i32, n: u32): void {
  if (n < 16) {
    store<u8>(ioOutPtr() + <usize>pos, <u8>(0x80 | n));
    return;
  }
  const extra = n < 65536 ? 2 : 4;
  const body = outPos() - pos - 1;
  outEnsure(extra);
  const base = ioOutPtr() + <usize>pos;
  memory.copy(base + 1 + <usize>extra, base + 1, <usize>body);
  if (extra == 2) {
    store<u8>(base, 0xde);
    store<u16>(base + 1, bswap<u16>(<u16>n));
  } else {
    store<u8>(base, 0xdf);
    store<u32>(base + 1, bswap<u32>(n));
  }
  outAdvance(extra);
}
