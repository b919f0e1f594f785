// A segment: consecutive messages of one channel kept as one row of the `segments` table
// (hub/storage/message-log.ts), in four blobs, so a scan reads only what it needs (SQLite reads a
// row's columns up to the last one asked for, and `body` comes last):
//
//   hashes  per message: the two i32 LE hashes of its (channel, id) in the id index
//           (hub/storage/id-index.ts): loading the index and removing trimmed ids make no strings
//   ts      per message: f64 LE, ms since the epoch
//   ids     per message: u16 LE byte length, then the id in UTF-8
//   body    per message: u32 LE byte length, then the msgpack document
//
// Messages are in append order; the row also keeps their count and smallest and largest ts.

/** One channel's messages in a `SegmentBatch`: a run linked through `SegmentBatch.next`. */
export class Draft {
  first = -1;
  last = -1;
  count = 0;
  /** Bytes of its ids (UTF-16 units) and documents: bounds the row (see MessageLog.append). */
  bytes = 0;
  minTs = Infinity;
  maxTs = -Infinity;

  constructor(readonly seq: number) {}
}

/** The most UTF-16 units an id may have: its UTF-8 length (at most 3 bytes per unit) fits a u16. */
export const MAX_ID_UNITS = Math.floor(0xffff / 3);

/**
 * Messages waiting to become segments, held as parallel arrays that are reused from tick to tick
 * (a tick of 1,000 channels writing one message each made six arrays per channel per tick, and
 * the GC was a fifth of the storage's time). Each channel's messages form a run, in append
 * order, linked through `next`.
 */
export class SegmentBatch {
  readonly ids: string[] = [];
  readonly ts: number[] = [];
  readonly data: (Uint8Array | undefined)[] = [];
  readonly h1: number[] = [];
  readonly h2: number[] = [];
  /** The index of the same draft's next message, or -1. */
  readonly next: number[] = [];
  size = 0;

  add(d: Draft, id: string, ts: number, data: Uint8Array, h1: number, h2: number): void {
    const i = this.size++;
    this.ids[i] = id;
    this.ts[i] = ts;
    this.data[i] = data;
    this.h1[i] = h1;
    this.h2[i] = h2;
    this.next[i] = -1;
    if (d.count === 0) d.first = i;
    else this.next[d.last] = i;
    d.last = i;
    d.count++;
    d.bytes += id.length + data.length;
    if (ts < d.minTs) d.minTs = ts;
    if (ts > d.maxTs) d.maxTs = ts;
  }

  /** The index of `id` in draft `d`, or -1. */
  indexOf(d: Draft, id: string): number {
    for (let i = d.first; i >= 0; i = this.next[i]!) if (this.ids[i] === id) return i;
    return -1;
  }

  /** Empties the batch, keeping its arrays' room but none of its messages alive. */
  clear(): void {
    this.ids.fill("", 0, this.size);
    this.data.fill(undefined, 0, this.size);
    this.size = 0;
  }
}

/** The four blobs of a segment. */
export interface SegmentBlobs {
  hashes: Uint8Array;
  ts: Uint8Array;
  ids: Uint8Array;
  body: Uint8Array;
}

/** Encoding scratch, grown as needed (better-sqlite3 copies a bound blob, so it is reused). */
let scratch = Buffer.allocUnsafe(256 * 1024);

/**
 * Encodes draft `d` of `batch` into views of one scratch buffer, valid until the next call (bind
 * them, which copies, before encoding again).
 */
export function encodeSegment(batch: SegmentBatch, d: Draft): SegmentBlobs {
  const { ids, data, ts, h1, h2, next } = batch;
  const n = d.count;
  let need = n * 16;
  for (let i = d.first; i >= 0; i = next[i]!) need += 6 + ids[i]!.length * 3 + data[i]!.length;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  const b = scratch;
  let o = 0;
  for (let i = d.first; i >= 0; i = next[i]!, o += 8) {
    b.writeInt32LE(h1[i]!, o);
    b.writeInt32LE(h2[i]!, o + 4);
  }
  for (let i = d.first; i >= 0; i = next[i]!, o += 8) b.writeDoubleLE(ts[i]!, o);
  const idsAt = o;
  for (let i = d.first; i >= 0; i = next[i]!) {
    const len = b.write(ids[i]!, o + 2, "utf8");
    b.writeUInt16LE(len, o);
    o += 2 + len;
  }
  const bodyAt = o;
  for (let i = d.first; i >= 0; i = next[i]!) {
    const m = data[i]!;
    b.writeUInt32LE(m.length, o);
    b.set(m, o + 4);
    o += 4 + m.length;
  }
  return { hashes: b.subarray(0, n * 8), ts: b.subarray(n * 8, n * 16), ids: b.subarray(idsAt, bodyAt), body: b.subarray(bodyAt, o) };
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export function decodeIds(blob: Uint8Array): string[] {
  const b = asBuffer(blob);
  const out: string[] = [];
  for (let o = 0; o < b.length; ) {
    const n = b.readUInt16LE(o);
    out.push(b.toString("utf8", o + 2, o + 2 + n));
    o += 2 + n;
  }
  return out;
}

export function decodeTs(blob: Uint8Array): Float64Array {
  const b = asBuffer(blob);
  const out = new Float64Array(b.length >>> 3);
  for (let i = 0; i < out.length; i++) out[i] = b.readDoubleLE(i * 8);
  return out;
}

/** The documents of a `body` blob: views into it (better-sqlite3 gives every read its own Buffer). */
export function decodeBody(blob: Uint8Array): Uint8Array[] {
  const b = asBuffer(blob);
  const out: Uint8Array[] = [];
  for (let o = 0; o < b.length; ) {
    const n = b.readUInt32LE(o);
    out.push(b.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}

/** The first hash of message `i` in a `hashes` blob (a Buffer, as better-sqlite3 returns blobs). */
export function hash1At(blob: Buffer, i: number): number {
  return blob.readInt32LE(i * 8);
}

/** The second hash of message `i` in a `hashes` blob. */
export function hash2At(blob: Buffer, i: number): number {
  return blob.readInt32LE(i * 8 + 4);
}

/**
 * The blobs of a segment without its first `k` messages: views into the given ones (the length
 * prefixes are walked, nothing is decoded).
 */
export function dropFirst(blobs: SegmentBlobs, k: number): SegmentBlobs {
  const ids = asBuffer(blobs.ids);
  let io = 0;
  for (let i = 0; i < k; i++) io += 2 + ids.readUInt16LE(io);
  const body = asBuffer(blobs.body);
  let bo = 0;
  for (let i = 0; i < k; i++) bo += 4 + body.readUInt32LE(bo);
  return { hashes: blobs.hashes.subarray(k * 8), ts: blobs.ts.subarray(k * 8), ids: ids.subarray(io), body: body.subarray(bo) };
}
