// The SQLite storage's record of UNLOGGED publishes applied under a client id (hub/storage/
// sqlite.ts owns the connection and the tick's transaction). An outbox replay of such a publish
// must not apply its diff again: it could undo another writer's change made in between. Logged
// publishes are found by their message instead (hub/storage/message-log.ts).
//
//   applied_ids   channel_id INTEGER, id TEXT, ts INTEGER    PRIMARY KEY (id, channel_id), WITHOUT ROWID
//
// Keyed id first: clients generate time-ordered ids (bindings/client/remote-session.ts), so a
// tick's rows append at the right edge of the tree. Keyed channel first, a fleet's tick dirtied
// one leaf page per device written, and the WAL write and checkpoint of those pages was most of
// the commit (2.6 ms against 0.3 ms per 200 writes, 1,000 channels). A table made with the old
// order is rebuilt in this one when opened.
//
// No index on ts: it cost every claim a second B-tree insert (about 1 us of a fleet write's
// storage CPU, 6.8 -> 6.1 us) and every expired id a second delete. A claim older than the last
// expiry cutoff counts as absent instead (`claim`), and expiry deletes such rows by sweeping the
// key order a slice at a time (`expire`). Claims are kept as long as messages are (the age
// limit), which can be far more than fit in memory, so unlike message ids they stay on disk.
import type { Database, Statement } from "./sqlite-driver.js";

/** The smallest slice of applied_ids one expiry sweeps. */
const SWEEP_MIN_ROWS = 10_000;

export class WriteClaims {
  private readonly db: Database;
  /** Opens the tick's transaction (owned by the storage) before anything is recorded. */
  private readonly begin: () => void;
  /** Claims older than this (ms) have expired (the last expiry cutoff, kept in meta). */
  private cutoffMs = -1;
  /** Where the sweep of expired claims goes on (a key of applied_ids) and claims since it ran. */
  private sweepAfter: [string, number] = ["", -1];
  private claimsSinceSweep = 0;
  private readonly s: {
    insert: Statement;
    remove: Statement;
    sweepEnd: Statement;
    sweepRange: Statement;
    sweepRest: Statement;
    saveCutoff: Statement;
  };

  constructor(db: Database, begin: () => void) {
    this.db = db;
    this.begin = begin;
    db.exec(`
      CREATE TABLE IF NOT EXISTS applied_ids (
        channel_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (id, channel_id)
      ) WITHOUT ROWID;
    `);
    this.rekey();
    db.exec("DROP INDEX IF EXISTS applied_ids_ts");
    const cutoff = db.prepare("SELECT value FROM meta WHERE key = 'applied_cutoff'").get();
    if (cutoff) this.cutoffMs = Number(cutoff.value);
    this.s = {
      // A row older than the expiry cutoff is an expired claim not yet swept: claimed anew. (A
      // claim's ts is this hub's clock, far past any cutoff, so a live claim never looks expired.)
      insert: db.prepare(
        "INSERT INTO applied_ids (channel_id, id, ts) VALUES (?, ?, ?) ON CONFLICT (id, channel_id) DO UPDATE SET ts = excluded.ts WHERE applied_ids.ts < ?",
      ),
      remove: db.prepare("DELETE FROM applied_ids WHERE channel_id = ? AND id = ?"),
      sweepEnd: db
        .prepare("SELECT id, channel_id FROM applied_ids WHERE (id, channel_id) > (?, ?) ORDER BY id, channel_id LIMIT 1 OFFSET ?")
        .raw(),
      sweepRange: db.prepare("DELETE FROM applied_ids WHERE (id, channel_id) > (?, ?) AND (id, channel_id) <= (?, ?) AND ts < ?"),
      sweepRest: db.prepare("DELETE FROM applied_ids WHERE (id, channel_id) > (?, ?) AND ts < ?"),
      saveCutoff: db.prepare(
        "INSERT INTO meta (key, value) VALUES ('applied_cutoff', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
    };
  }

  /**
   * Records that a publish with this id was applied without a log entry (in the open
   * transaction); false when it was recorded before (a replay), which writes nothing.
   */
  claim(channelId: number, id: string, ts: number): boolean {
    this.begin();
    this.claimsSinceSweep++;
    return this.s.insert.run(channelId, id, ts, this.cutoffMs).changes === 1;
  }

  /** Undoes `claim` in the open transaction (the publish was refused after all). */
  release(channelId: number, id: string): void {
    this.s.remove.run(channelId, id);
  }

  /**
   * Claims older than `cutoffMs` count as absent from now on (replay protection lasts as long as
   * messages are kept), and the next slice of the key order drops the expired ones: twice the
   * claims made since the last sweep (at least SWEEP_MIN_ROWS), so the sweep outpaces the claims.
   * A pass over a table of T + P worth of claims (age limit T, pass P) at twice the claim rate
   * takes P = (T + P) / 2, so P <= T and the table holds at most twice the claims of the age
   * limit (1.5 times on average). Visiting a live row costs a step of the walk, not an index update.
   */
  expire(cutoffMs: number): void {
    this.begin();
    if (cutoffMs > this.cutoffMs) {
      this.cutoffMs = cutoffMs;
      this.s.saveCutoff.run(String(cutoffMs));
    }
    const rows = Math.max(SWEEP_MIN_ROWS, 2 * this.claimsSinceSweep);
    this.claimsSinceSweep = 0;
    const [afterId, afterChannel] = this.sweepAfter;
    const end = this.s.sweepEnd.get(afterId, afterChannel, rows - 1) as [string, number] | undefined;
    if (end) {
      this.s.sweepRange.run(afterId, afterChannel, end[0], end[1], this.cutoffMs);
      this.sweepAfter = end;
    } else {
      this.s.sweepRest.run(afterId, afterChannel, this.cutoffMs);
      this.sweepAfter = ["", -1];
    }
  }

  /**
   * Rebuilds an `applied_ids` made keyed (channel_id, id), by hubs before the time-first write
   * ids, in the (id, channel_id) order: with the old key a fleet's commit keeps dirtying one
   * page per device however the ids are made. Once, in one transaction; the rows are kept.
   */
  private rekey(): void {
    const columns = this.db.prepare("PRAGMA table_info(applied_ids)").all() as { name: string; pk: number }[];
    if (columns.find((c) => c.name === "id")?.pk !== 2) return;
    try {
      this.db.exec(`
        BEGIN IMMEDIATE;
        CREATE TABLE applied_ids_rekeyed (
          channel_id INTEGER NOT NULL,
          id TEXT NOT NULL,
          ts INTEGER NOT NULL,
          PRIMARY KEY (id, channel_id)
        ) WITHOUT ROWID;
        INSERT INTO applied_ids_rekeyed (channel_id, id, ts) SELECT channel_id, id, ts FROM applied_ids;
        DROP TABLE applied_ids;
        ALTER TABLE applied_ids_rekeyed RENAME TO applied_ids;
        COMMIT;
      `);
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }
}
