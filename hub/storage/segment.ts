// A segment: consecutive messages of one channel kept as one row of the `segments` table
// (hub/storage/message-log.ts), in two blobs:
//
//   hashes   per message: the two i32 LE hashes of its (channel, id) in the id index
//            (hub/storage/id-index.ts): loading the index and removing trimmed ids make no
//            strings, and read nothing else
//   payload  for n messages: n f64 LE timestamps (ms since the epoch), then per message its id
//            (u16 LE byte length, UTF-8), then per message its document (u32 LE byte length,
//            msgpack)
//
// One payload blob rather than three: every blob column read costs a Buffer, and a history read
// over channels that write one message per tick reads a row per message. Messages are in append
// order; the row also keeps their count and smallest and largest ts.

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

/** The two blobs of a segment. */
export interface SegmentBlobs {
  hashes: Uint8Array;
  payload: Uint8Array;
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
  for (let i = d.first; i >= 0; i = next[i]!) {
    const len = b.write(ids[i]!, o + 2, "utf8");
    b.writeUInt16LE(len, o);
    o += 2 + len;
  }
  for (let i = d.first; i >= 0; i = next[i]!) {
    const m = data[i]!;
    b.writeUInt32LE(m.length, o);
    b.set(m, o + 4);
    o += 4 + m.length;
  }
  return { hashes: b.subarray(0, n * 8), payload: b.subarray(n * 8, o) };
}

/** An empty blob, for views that never read hashes. */
export const EMPTY = Buffer.alloc(0);

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The ids of a segment's `n` messages (tools and tests; the log reads through SegmentView). */
export function decodeIds(payload: Uint8Array, n: number): string[] {
  const v = new SegmentView(EMPTY, asBuffer(payload), n);
  return Array.from({ length: n }, (_, i) => v.id(i));
}

/** The first hash of message `i` in a `hashes` blob (a Buffer, as better-sqlite3 returns blobs). */
export function hash1At(blob: Buffer, i: number): number {
  return blob.readInt32LE(i * 8);
}

/** The second hash of message `i` in a `hashes` blob. */
export function hash2At(blob: Buffer, i: number): number {
  return blob.readInt32LE(i * 8 + 4);
}

/** The blobs of a segment of `n` messages without its first `k` (`k` < `n`). */
export function dropFirst(hashes: Buffer, payload: Buffer, n: number, k: number): SegmentBlobs {
  const v = new SegmentView(hashes, payload, n);
  const idFrom = v.idOffset(k);
  const bodyFrom = v.bodyOffset(k);
  return {
    hashes: hashes.subarray(k * 8),
    payload: Buffer.concat([payload.subarray(k * 8, n * 8), payload.subarray(idFrom, v.bodyOffset(0)), payload.subarray(bodyFrom)]),
  };
}

/**
 * A stored segment read back, without decoding it: messages are reached by position, and only
 * the ids and documents asked for are made (a lookup in a segment of 500 messages decoded all of
 * them: 350 us against 13 us for the row-per-message table).
 */
export class SegmentView {
  private idOff: Int32Array | undefined;
  private bodyOff: Int32Array | undefined;

  /** `hashes` may be empty when they are not read. */
  constructor(
    readonly hashes: Buffer,
    readonly payload: Buffer,
    readonly count: number,
  ) {}

  ts(i: number): number {
    return this.payload.readDoubleLE(i * 8);
  }

  /** The first position at or after `from` whose hashes are (h1, h2), or -1. */
  findHash(h1: number, h2: number, from = 0): number {
    const n = this.count;
    for (let i = from; i < n; i++) if (hash1At(this.hashes, i) === h1 && hash2At(this.hashes, i) === h2) return i;
    return -1;
  }

  id(i: number): string {
    const o = this.idOffset(i);
    return this.payload.toString("utf8", o + 2, o + 2 + this.payload.readUInt16LE(o));
  }

  data(i: number): Uint8Array {
    const o = this.bodyOffset(i);
    return this.payload.subarray(o + 4, o + 4 + this.payload.readUInt32LE(o));
  }

  /** Where message `i`'s id starts in the payload (`count`: where the ids end). */
  idOffset(i: number): number {
    this.idOff ??= this.walk(this.count * 8, 2);
    return this.idOff[i]!;
  }

  /** Where message `i`'s document starts in the payload (`count`: its end). */
  bodyOffset(i: number): number {
    this.bodyOff ??= this.walk(this.idOffset(this.count), 4);
    return this.bodyOff[i]!;
  }

  /** The offsets of `count` entries from `start`, each a u16 or u32 LE length and its bytes, and their end. */
  private walk(start: number, prefix: 2 | 4): Int32Array {
    const off = new Int32Array(this.count + 1);
    let o = start;
    for (let k = 0; k < this.count; k++) {
      off[k] = o;
      o += prefix + (prefix === 2 ? this.payload.readUInt16LE(o) : this.payload.readUInt32LE(o));
    }
    off[this.count] = o;
    return off;
  }
}
