// Where each kept message id lives: (channel, id) -> the segment that holds it (hub/storage/
// message-log.ts). The message log stores a tick's messages of a channel as ONE row, so SQLite has
// no per-message index to find a repeated id; this index answers "does the channel hold this id?"
// on every append (replay detection) without a statement per message.
//
// It is an open-addressing table (linear probing) in typed arrays, not a Map of strings: the ids
// of everything kept (10,000 per channel by default) would otherwise be that many long-lived
// strings for the GC to trace and promote (a Set of 200k ids cost 1.3 us per add in a
// micro-bench, more than the whole segment write). Each cell holds two 32-bit hashes of the
// (channel, id) pair and the segment number (as two 32-bit halves: segment numbers pass 2^31
// within days on a busy hub), 16 bytes side by side, so a probe touches one cache line; the
// table stays at most half full.
//
// The hashes only narrow the search. A cell whose hashes match is a candidate, and the caller
// confirms it by reading the segment's ids (`probe` / `next`), so two ids that collide in all
// 64 bits cost an extra read, never a wrong answer.

const MIN_CAPACITY = 1024;

/** Int32 words per cell: h1 (0 = empty), h2, segment low 32 bits, segment high bits. */
const W = 4;
const TWO32 = 2 ** 32;

export class IdIndex {
  private cells: Int32Array;
  private mask: number;
  private size = 0;
  /** The key of the last `probe`: its hashes, and the empty cell that ended its probe sequence. */
  private keyH1 = 0;
  private keyH2 = 0;
  private emptyCell = -1;

  constructor(capacity = MIN_CAPACITY) {
    let cap = MIN_CAPACITY;
    while (cap < capacity * 2) cap *= 2;
    this.cells = new Int32Array(cap * W);
    this.mask = cap - 1;
  }

  /** Ids held. */
  get count(): number {
    return this.size;
  }

  /**
   * Starts a search for (channel, id): the first cell whose hashes match, or -1 when there is
   * none. Remembers the key, so `next` goes on with it and `add` may follow without hashing again.
   */
  probe(channelId: number, id: string): number {
    this.hash(channelId, id);
    return this.scan(this.keyH1 & this.mask);
  }

  /** The next candidate after `cell` for the key of the last `probe`, or -1. */
  next(cell: number): number {
    return this.scan((cell + 1) & this.mask);
  }

  /** The hashes of the key of the last `probe` (a segment keeps them, for `removeHashed`). */
  get lastHash1(): number {
    return this.keyH1;
  }
  get lastHash2(): number {
    return this.keyH2;
  }

  /** The segment a candidate cell points at. */
  segment(cell: number): number {
    return segmentAt(this.cells, cell * W);
  }

  /**
   * Adds the key of the last `probe` (which must have ended at -1: the id is not held) in the
   * segment `seg`.
   */
  addProbed(seg: number): void {
    const at = this.emptyCell * W;
    const c = this.cells;
    c[at] = this.keyH1;
    c[at + 1] = this.keyH2;
    c[at + 2] = (seg % TWO32) | 0;
    c[at + 3] = Math.floor(seg / TWO32);
    if (++this.size * 2 > this.mask + 1) this.grow();
  }

  /** Adds a key by the hashes `probe` gave it (loading from disk: no id string is made). */
  addHashed(h1: number, h2: number, seg: number): void {
    this.keyH1 = h1;
    this.keyH2 = h2;
    for (let cell = this.scan(h1 & this.mask); cell >= 0; cell = this.next(cell));
    this.addProbed(seg);
  }

  /**
   * Removes the key with these hashes held in segment `seg`; false when there is none. Ids are
   * unique per channel, so the hashes and the segment pick the cell (two ids of one segment
   * that collide in all 64 bits share their cells' content, and either cell may go).
   */
  removeHashed(h1: number, h2: number, seg: number): boolean {
    this.keyH1 = h1;
    this.keyH2 = h2;
    for (let cell = this.scan(h1 & this.mask); cell >= 0; cell = this.next(cell)) {
      if (segmentAt(this.cells, cell * W) === seg) {
        this.deleteCell(cell);
        return true;
      }
    }
    return false;
  }

  /** Forgets everything (the message log reloads the index from disk after a rollback). */
  clear(): void {
    this.cells.fill(0);
    this.size = 0;
  }

  private scan(from: number): number {
    const c = this.cells;
    const want1 = this.keyH1;
    const want2 = this.keyH2;
    for (let cell = from; ; cell = (cell + 1) & this.mask) {
      const v = c[cell * W]!;
      if (v === 0) {
        this.emptyCell = cell;
        return -1;
      }
      if (v === want1 && c[cell * W + 1] === want2) return cell;
    }
  }

  /**
   * Two FNV-1a-style hashes of the pair, over the id's UTF-16 code units (the id is a JS string:
   * no encoding step), with different primes and seeds. h1 is never 0 (0 marks an empty cell).
   */
  private hash(channelId: number, id: string): void {
    let a = Math.imul(0x811c9dc5 ^ channelId, 0x01000193);
    let b = Math.imul(0x9e3779b9 ^ channelId, 0x85ebca6b);
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0xc2b2ae35);
    }
    // a final mix, so ids that differ only in their last characters spread over the table
    a ^= a >>> 15;
    a = Math.imul(a, 0x2c1b3c6d);
    a ^= a >>> 12;
    this.keyH1 = a === 0 ? 1 : a;
    this.keyH2 = b ^ (b >>> 16);
  }

  /** Backward-shift deletion: later cells of the run move up, so no tombstones pile up. */
  private deleteCell(cell: number): void {
    const { cells: c, mask } = this;
    let hole = cell;
    for (let j = (cell + 1) & mask; c[j * W] !== 0; j = (j + 1) & mask) {
      const home = c[j * W]! & mask;
      // j may fill the hole unless its home lies cyclically in (hole, j]
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      c.copyWithin(hole * W, j * W, j * W + W);
      hole = j;
    }
    c[hole * W] = 0;
    this.size--;
  }

  private grow(): void {
    const old = this.cells;
    const cap = (this.mask + 1) * 2;
    const c = new Int32Array(cap * W);
    const mask = cap - 1;
    for (let at = 0; at < old.length; at += W) {
      const v = old[at]!;
      if (v === 0) continue;
      let cell = v & mask;
      while (c[cell * W] !== 0) cell = (cell + 1) & mask;
      c.set(old.subarray(at, at + W), cell * W);
    }
    this.cells = c;
    this.mask = mask;
  }
}

function segmentAt(c: Int32Array, at: number): number {
  return (c[at + 2]! >>> 0) + c[at + 3]! * TWO32;
}
