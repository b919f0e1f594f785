// The SQLite storage's message history (hub/storage/sqlite.ts owns the connection, the tick's
// transaction and durability). Messages are kept in SEGMENTS: the messages a channel received in
// one tick are one row (up to SEGMENT_MAX_MESSAGES), written when the tick commits.
//
//   segments   seq INTEGER PRIMARY KEY      write order; a channel's segments in seq order hold
//                                           its messages in append order
//              channel_id INTEGER           -> channels.id
//              n INTEGER                    messages in the row
//              min_ts, max_ts INTEGER       their smallest and largest ts
//              hashes, payload BLOB         see hub/storage/segment.ts
//   segments_by_max_ts (channel_id, max_ts): history reads from the newest end, trimming and
//              expiry from the oldest end. One index keyed by channel: each is a B-tree leaf a
//              busy tick dirties per channel written (a second one cost a fleet of trickling
//              channels ~25% more storage CPU per message)
//   disordered_channels  channel_id: channels whose ts ever went down (below)
//
// Why: one row per message cost a statement and three B-tree inserts (the row, a unique
// (channel, id) index, a (channel, ts) index) per message, and as many deletes when it was
// trimmed: 2.5-3 us of the hub's CPU per stored message. A statement alone costs ~0.3 us and a
// row insert ~1 us whatever its size. A tick of a busy channel is now one insert per 64 messages,
// and trimming deletes whole rows.
//
// What SQLite no longer has is an index on message ids. Replay detection needs one on every
// append, so it lives in memory (hub/storage/id-index.ts): (channel, id) -> segment, rebuilt
// from the `hashes` column when the hub starts and after a rollback. It holds one 16-byte cell per
// kept message at most half full (32-64 bytes per message: ~0.5 GB for 10 million kept).
//
// Order. History reads and count trimming order a channel's messages by (ts, write order), as
// the row-per-message table did. The hub stamps ts from its clock, so a channel's ts rarely goes
// down; while it never has, the channel's segments do not overlap in ts and segment order is
// message order: trims and expiry cut whole rows plus a prefix of one. A channel whose ts once
// went down (a clock stepped back) is recorded in disordered_channels, and its trims and expiry
// decide message by message over all its segments: slower, still exact. Reads are exact either
// way (they walk segments by falling max_ts and stop only once nothing further can place).
import { IdIndex } from "./id-index.js";
import { TagwireError } from "../../bindings/core/errors.js";
import { Draft, EMPTY, MAX_ID_UNITS, SegmentBatch, SegmentView, dropFirst, encodeSegment, hash1At, hash2At } from "./segment.js";
import type { Database, Statement } from "./sqlite-driver.js";
import type { StoredMessage } from "./storage.js";

/**
 * A channel's open segment is written once it holds this many messages or bytes, even inside a
 * tick. A lookup by id, an update and a read of the newest few read a whole row, so rows stay
 * small: with 4,096 messages or 1 MiB a lookup in a busy channel took 120 us (a row per message:
 * 9-13 us), with 64 it takes 20-50 us, and a busy tick's dozen rows instead of one cost the hub
 * nothing measurable (hub-cpu A/B 0.987). Also the size a schema 1 table is converted in.
 */
export const SEGMENT_MAX_MESSAGES = 64;
export const SEGMENT_MAX_BYTES = 32 << 10;

/** A message found while scanning: its ts and where it is (segment, position, and its read-back view). */
interface Found {
  ts: number;
  seq: number;
  i: number;
  view: SegmentView | undefined;
}

/** Newest first: ts, then write order. */
const newestFirst = (a: Found, b: Found): number => b.ts - a.ts || b.seq - a.seq || b.i - a.i;
const oldestFirst = (a: Found, b: Found): number => a.ts - b.ts || a.seq - b.seq || a.i - b.i;

type Row = [channelId: number, n: number, hashes: Buffer, payload: Buffer];

export class MessageLog {
  private readonly db: Database;
  /** Opens the tick's transaction (owned by the storage) before anything is recorded. */
  private readonly begin: () => void;
  private readonly index = new IdIndex();
  /** The messages appended since the last flush, and each channel's draft (its open segment) in it. */
  private readonly batch = new SegmentBatch();
  private readonly drafts = new Map<number, Draft>();
  /** The largest ts each channel holds (an append below it makes the channel disordered). */
  private readonly lastTs = new Map<number, number>();
  /** Channels whose ts went down at some append (see the header). */
  private readonly disordered = new Set<number>();
  private nextSeq = 1;
  private readonly s: {
    insert: Statement;
    row: Statement;
    hashes: Statement;
    rewrite: Statement;
    updatePayload: Statement;
    remove: Statement;
    removeUpTo: Statement;
    removeOlder: Statement;
    newestFirst: Statement;
    oldestFirst: Statement;
    olderHashes: Statement;
    firstFrom: Statement;
    allOf: Statement;
    payloadsOf: Statement;
    countOf: Statement;
    allHashes: Statement;
    lastTs: Statement;
    disordered: Statement;
    markDisordered: Statement;
    maxSeq: Statement;
  };

  constructor(db: Database, begin: () => void) {
    this.db = db;
    this.begin = begin;
    db.exec(`
      CREATE TABLE IF NOT EXISTS segments (
        seq INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL,
        n INTEGER NOT NULL,
        min_ts INTEGER NOT NULL,
        max_ts INTEGER NOT NULL,
        hashes BLOB NOT NULL,
        payload BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS segments_by_max_ts ON segments (channel_id, max_ts);
      CREATE TABLE IF NOT EXISTS disordered_channels (channel_id INTEGER PRIMARY KEY);
    `);
    this.s = {
      insert: db.prepare("INSERT INTO segments (seq, channel_id, n, min_ts, max_ts, hashes, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      row: db.prepare("SELECT channel_id, n, hashes, payload FROM segments WHERE seq = ?").raw(),
      hashes: db.prepare("SELECT hashes FROM segments WHERE seq = ?").pluck(),
      rewrite: db.prepare("UPDATE segments SET n = ?, min_ts = ?, max_ts = ?, hashes = ?, payload = ? WHERE seq = ?"),
      updatePayload: db.prepare("UPDATE segments SET payload = ? WHERE seq = ?"),
      remove: db.prepare("DELETE FROM segments WHERE seq = ?"),
      removeUpTo: db.prepare("DELETE FROM segments WHERE channel_id = ? AND (max_ts, seq) <= (?, ?)"),
      removeOlder: db.prepare("DELETE FROM segments WHERE channel_id = ? AND max_ts < ?"),
      newestFirst: db
        .prepare(
          "SELECT seq, n, max_ts, payload FROM segments WHERE channel_id = ? AND max_ts > ? AND min_ts < ? ORDER BY max_ts DESC, seq DESC",
        )
        .raw(),
      oldestFirst: db.prepare("SELECT seq, n, max_ts, hashes FROM segments WHERE channel_id = ? ORDER BY max_ts, seq").raw(),
      olderHashes: db.prepare("SELECT seq, n, hashes FROM segments WHERE channel_id = ? AND max_ts < ?").raw(),
      firstFrom: db.prepare("SELECT seq, min_ts FROM segments WHERE channel_id = ? AND max_ts >= ? ORDER BY max_ts, seq LIMIT 1").raw(),
      allOf: db.prepare("SELECT seq, n, min_ts, max_ts FROM segments WHERE channel_id = ?").raw(),
      payloadsOf: db.prepare("SELECT seq, n, payload FROM segments WHERE channel_id = ?").raw(),
      countOf: db.prepare("SELECT COALESCE(SUM(n), 0) FROM segments WHERE channel_id = ?").pluck(),
      allHashes: db.prepare("SELECT seq, channel_id, n, hashes FROM segments").raw(),
      lastTs: db.prepare("SELECT channel_id, MAX(max_ts) FROM segments GROUP BY channel_id").raw(),
      disordered: db.prepare("SELECT channel_id FROM disordered_channels").pluck(),
      markDisordered: db.prepare("INSERT INTO disordered_channels (channel_id) VALUES (?) ON CONFLICT DO NOTHING"),
      maxSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) FROM segments").pluck(),
    };
  }

  /**
   * Converts the one-row-per-message `messages` table of schema 1 into segments (in one
   * transaction, keeping every message, its id, ts and order) and drops it. False when there is
   * no such table.
   */
  migrateMessagesTable(): boolean {
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get();
    if (!exists) return false;
    // in (ts, seq) order per channel: the converted channels are never disordered
    const channels = this.db.prepare("SELECT DISTINCT channel_id FROM messages").pluck().all() as number[];
    const rows = this.db.prepare("SELECT id, ts, data FROM messages WHERE channel_id = ? ORDER BY ts, seq").raw();
    let seq = (this.s.maxSeq.get() as number) + 1;
    const batch = new SegmentBatch();
    let draft: Draft | undefined;
    let channel = -1;
    const write = (): void => {
      if (draft) this.insert(channel, draft, batch);
      batch.clear();
      draft = undefined;
    };
    this.db.exec("BEGIN IMMEDIATE");
    try {
      // a channel at a time, read whole before writing (a statement cannot write while another
      // one's rows are being read)
      for (const ch of channels) {
        channel = ch;
        for (const [id, ts, data] of rows.all(ch) as [string, number, Uint8Array][]) {
          if (draft?.count === SEGMENT_MAX_MESSAGES) write();
          draft ??= new Draft(seq++);
          this.index.probe(ch, id);
          batch.add(draft, id, ts, data, this.index.lastHash1, this.index.lastHash2);
        }
        write();
      }
      this.db.exec("DROP TABLE messages");
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
    return true;
  }

  /** (Re)builds the id index and the order bookkeeping from what is stored; returns message counts by channel. */
  load(): Map<number, number> {
    this.drafts.clear();
    this.batch.clear();
    this.index.clear();
    const counts = new Map<number, number>();
    for (const [seq, ch, n, hashes] of this.s.allHashes.iterate() as Iterable<[number, number, number, Buffer]>) {
      counts.set(ch, (counts.get(ch) ?? 0) + n);
      for (let i = 0; i < n; i++) this.index.addHashed(hash1At(hashes, i), hash2At(hashes, i), seq);
    }
    this.lastTs.clear();
    for (const [ch, ts] of this.s.lastTs.all() as [number, number][]) this.lastTs.set(ch, ts);
    this.disordered.clear();
    for (const ch of this.s.disordered.all() as number[]) this.disordered.add(ch);
    this.nextSeq = (this.s.maxSeq.get() as number) + 1;
    return counts;
  }

  /** Appends a message; false (nothing written) when the channel already holds `id`. */
  append(channelId: number, id: string, ts: number, data: Uint8Array): boolean {
    if (id.length > MAX_ID_UNITS) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `message id of ${id.length} characters (at most ${MAX_ID_UNITS} are stored)`);
    }
    if (this.locate(channelId, id)) return false;
    const index = this.index;
    this.begin();
    let draft = this.drafts.get(channelId);
    if (!draft) {
      draft = new Draft(this.nextSeq++);
      this.drafts.set(channelId, draft);
    }
    index.addProbed(draft.seq);
    this.batch.add(draft, id, ts, data, index.lastHash1, index.lastHash2);
    if (draft.count >= SEGMENT_MAX_MESSAGES || draft.bytes >= SEGMENT_MAX_BYTES) this.flushChannel(channelId);
    const last = this.lastTs.get(channelId);
    if (last === undefined || ts > last) this.lastTs.set(channelId, ts);
    else if (ts < last && !this.disordered.has(channelId)) {
      this.disordered.add(channelId);
      this.s.markDisordered.run(channelId);
    }
    return true;
  }

  /** A message of the channel by id, including one appended in the open tick. */
  find(channelId: number, id: string): StoredMessage | undefined {
    const loc = this.locate(channelId, id);
    if (!loc) return undefined;
    const { i, view } = loc;
    if (!view) return { id, ts: this.batch.ts[i]!, data: this.batch.data[i]! };
    return { id, ts: view.ts(i), data: view.data(i) };
  }

  /** Replaces a kept message's data; false when the channel holds no such id. */
  updateData(channelId: number, id: string, data: Uint8Array): boolean {
    const loc = this.locate(channelId, id);
    if (!loc) return false;
    this.begin();
    if (!loc.view) {
      this.batch.data[loc.i] = data;
      return true;
    }
    const { batch, draft } = this.asDraft(loc.seq, loc.view);
    batch.data[loc.i] = data;
    this.s.updatePayload.run(encodeSegment(batch, draft).payload, loc.seq);
    return true;
  }

  /** Writes every open segment (the storage calls it just before COMMIT). */
  flush(): void {
    for (const [ch, draft] of this.drafts) this.insert(ch, draft, this.batch);
    this.drafts.clear();
    this.batch.clear();
  }

  /** Drops the open segments and reloads what is stored (after the storage rolled back). */
  rollback(): void {
    this.load();
  }

  /** Drops the open segments without writing them (the storage is closing). */
  close(): void {
    this.drafts.clear();
    this.batch.clear();
  }

  /**
   * Messages with after < ts < before, the newest `limit`, oldest first; with `maxBytes`, the
   * newest whose id and data fit in it (at least one).
   */
  read(channelId: number, before: number, after: number, limit: number, maxBytes: number): StoredMessage[] {
    if (limit <= 0) return [];
    this.flushChannel(channelId);
    let found: Found[] = [];
    const rows = this.s.newestFirst.iterate(channelId, after, before) as Iterable<[number, number, number, Buffer]>;
    for (const [seq, n, maxTs, payload] of rows) {
      // Segments come by falling max_ts: once `limit` messages are newer than everything this one
      // holds, no later one can place a message among the newest `limit` either.
      if (found.length >= limit && countAbove(found, maxTs) >= limit) break;
      const view = new SegmentView(EMPTY, payload, n);
      for (let i = 0; i < n; i++) {
        const t = view.ts(i);
        if (t < before && t > after) found.push({ ts: t, seq, i, view });
      }
      if (found.length > 2 * limit) found = found.sort(newestFirst).slice(0, limit);
    }
    found.sort(newestFirst);
    // only the messages returned are made into ids and documents
    const out: StoredMessage[] = [];
    let bytes = 0;
    for (const m of found) {
      if (out.length === limit) break;
      const id = m.view!.id(m.i);
      const data = m.view!.data(m.i);
      bytes += data.length + id.length;
      if (bytes > maxBytes && out.length > 0) break;
      out.push({ id, ts: m.ts, data });
    }
    return out.reverse();
  }

  /**
   * Deletes all but the newest `keep` messages of a channel; returns how many went. `count` is
   * how many it holds (asked of SQLite when not given).
   */
  trim(channelId: number, keep: number, count?: number): number {
    this.flushChannel(channelId);
    const total = count ?? (this.s.countOf.get(channelId) as number);
    const drop = total - keep;
    if (drop <= 0) return 0;
    this.begin();
    if (this.disordered.has(channelId)) return this.trimAnyOrder(channelId, drop);
    return this.trimInOrder(channelId, drop);
  }

  /** Deletes messages older than `cutoffMs` in the given channels; returns counts removed by channel. */
  expire(channelIds: Iterable<number>, cutoffMs: number): Map<number, number> {
    this.begin();
    this.flush();
    const removed = new Map<number, number>();
    for (const ch of channelIds) {
      const n = this.disordered.has(ch) ? this.expireAnyOrder(ch, cutoffMs) : this.expireInOrder(ch, cutoffMs);
      if (n > 0) removed.set(ch, n);
    }
    return removed;
  }

  /**
   * An ordered channel (see the header): the oldest `drop` are its first segments by max_ts and
   * a prefix of the next; whole rows go in one range delete, the prefix by rewriting its row.
   */
  private trimInOrder(channelId: number, drop: number): number {
    let need = drop;
    let last: [number, number] | undefined;
    let partial: number | undefined;
    const rows = this.s.oldestFirst.iterate(channelId) as Iterable<[number, number, number, Buffer]>;
    for (const [seq, n, maxTs, hashes] of rows) {
      if (n > need) {
        partial = seq;
        break;
      }
      this.removeIds(hashes, n, seq);
      last = [maxTs, seq];
      need -= n;
      if (need === 0) break;
    }
    if (last) this.s.removeUpTo.run(channelId, last[0], last[1]);
    if (partial !== undefined && need > 0) {
      const [, n, hashes, payload] = this.s.row.get(partial) as Row;
      this.removeIds(hashes, need, partial);
      const rest = dropFirst(hashes, payload, n, need);
      // the rest of an ordered segment is in ts order: its bounds are its ends
      const view = new SegmentView(EMPTY, payload, n);
      this.s.rewrite.run(n - need, view.ts(need), view.ts(n - 1), rest.hashes, rest.payload, partial);
      need = 0;
    }
    return drop - need;
  }

  /** Any channel: the `drop` oldest in (ts, write order), decided message by message. */
  private trimAnyOrder(channelId: number, drop: number): number {
    const found: Found[] = [];
    for (const [seq, n, payload] of this.s.payloadsOf.all(channelId) as [number, number, Buffer][]) {
      const view = new SegmentView(EMPTY, payload, n);
      for (let i = 0; i < n; i++) found.push({ ts: view.ts(i), seq, i, view: undefined });
    }
    found.sort(oldestFirst);
    const doomed = new Map<number, Set<number>>();
    const n = Math.min(drop, found.length);
    for (let k = 0; k < n; k++) {
      const m = found[k]!;
      let set = doomed.get(m.seq);
      if (!set) doomed.set(m.seq, (set = new Set()));
      set.add(m.i);
    }
    for (const [seq, set] of doomed) this.removeSome(seq, (_, i) => set.has(i));
    return n;
  }

  /** An ordered channel: whole segments older than the cutoff, then a prefix of the next one. */
  private expireInOrder(channelId: number, cutoffMs: number): number {
    let n = 0;
    for (const [seq, count, hashes] of this.s.olderHashes.all(channelId, cutoffMs) as [number, number, Buffer][]) {
      this.removeIds(hashes, count, seq);
      n += count;
    }
    if (n > 0) this.s.removeOlder.run(channelId, cutoffMs);
    const next = this.s.firstFrom.get(channelId, cutoffMs) as [number, number] | undefined;
    if (next && next[1] < cutoffMs) n += this.removeSome(next[0], (ts) => ts < cutoffMs);
    return n;
  }

  /** Any channel: every segment that holds something older than the cutoff. */
  private expireAnyOrder(channelId: number, cutoffMs: number): number {
    let n = 0;
    for (const [seq, count, minTs, maxTs] of this.s.allOf.all(channelId) as [number, number, number, number][]) {
      if (minTs >= cutoffMs) continue;
      if (maxTs < cutoffMs) {
        this.removeIds(this.s.hashes.get(seq) as Buffer, count, seq);
        this.s.remove.run(seq);
        n += count;
      } else {
        n += this.removeSome(seq, (ts) => ts < cutoffMs);
      }
    }
    return n;
  }

  /** Writes one channel's open segment now (a read or trim within the tick needs it stored). */
  private flushChannel(channelId: number): void {
    const draft = this.drafts.get(channelId);
    if (!draft) return;
    this.insert(channelId, draft, this.batch);
    this.drafts.delete(channelId);
  }

  private insert(channelId: number, d: Draft, batch: SegmentBatch): void {
    const b = encodeSegment(batch, d);
    this.s.insert.run(d.seq, channelId, d.count, d.minTs, d.maxTs, b.hashes, b.payload);
  }

  /** Takes the first `n` ids of segment `seq` (given its `hashes` blob) out of the index. */
  private removeIds(hashes: Buffer, n: number, seq: number): void {
    for (let i = 0; i < n; i++) this.index.removeHashed(hash1At(hashes, i), hash2At(hashes, i), seq);
  }

  /**
   * Removes the messages of segment `seq` that `gone(ts, i)` picks: deletes the row when none is
   * left, rewrites it with the rest otherwise; the removed ids leave the index. Returns how many.
   */
  private removeSome(seq: number, gone: (ts: number, i: number) => boolean): number {
    const [, count, hashes, payload] = this.s.row.get(seq) as Row;
    const view = new SegmentView(hashes, payload, count);
    const kept = new SegmentBatch();
    const d = new Draft(seq);
    const n = view.count;
    for (let i = 0; i < n; i++) {
      const t = view.ts(i);
      if (gone(t, i)) this.index.removeHashed(hash1At(hashes, i), hash2At(hashes, i), seq);
      else kept.add(d, view.id(i), t, view.data(i), hash1At(hashes, i), hash2At(hashes, i));
    }
    if (d.count === 0) this.s.remove.run(seq);
    else if (d.count < n) {
      const b = encodeSegment(kept, d);
      this.s.rewrite.run(d.count, d.minTs, d.maxTs, b.hashes, b.payload, seq);
    }
    return n - d.count;
  }

  /** A stored segment's messages as a batch of one draft (to change and write back). */
  private asDraft(seq: number, view: SegmentView): { batch: SegmentBatch; draft: Draft } {
    const batch = new SegmentBatch();
    const draft = new Draft(seq);
    for (let i = 0; i < view.count; i++) {
      batch.add(draft, view.id(i), view.ts(i), view.data(i), hash1At(view.hashes, i), hash2At(view.hashes, i));
    }
    return { batch, draft };
  }

  /**
   * Where the channel holds `id`: the segment, the position in it and the segment read back, or
   * (no view) the position in the batch for an open segment; undefined when it holds no such id.
   * The index's candidates are confirmed by the hashes in the segment, then the id itself.
   */
  private locate(channelId: number, id: string): { seq: number; i: number; view: SegmentView | undefined } | undefined {
    const index = this.index;
    let cell = index.probe(channelId, id);
    const h1 = index.lastHash1;
    const h2 = index.lastHash2;
    for (; cell >= 0; cell = index.next(cell)) {
      const seq = index.segment(cell);
      const draft = this.drafts.get(channelId);
      if (draft?.seq === seq) {
        const i = this.batch.indexOf(draft, id);
        if (i >= 0) return { seq, i, view: undefined };
        continue;
      }
      const row = this.s.row.get(seq) as Row | undefined;
      if (!row || row[0] !== channelId) continue;
      const view = new SegmentView(row[2], row[3], row[1]);
      for (let i = view.findHash(h1, h2); i >= 0; i = view.findHash(h1, h2, i + 1)) {
        if (view.id(i) === id) return { seq, i, view };
      }
    }
    return undefined;
  }
}

/** How many found messages are newer than `ts`. */
function countAbove(found: Found[], ts: number): number {
  let n = 0;
  for (const m of found) if (m.ts > ts) n++;
  return n;
}
