// The single-hub storage (hub/storage/storage.ts, ordering "local"): one SQLite file
// (better-sqlite3, WAL) in the data dir. The hub orders writes itself: `submit` applies a write
// at once, and what applying it produced (channel rows, message rows, write ids, aggregates) is
// recorded in the tick's open transaction
// (messages are written as one segment per channel when the tick commits).
//
// Tables:
//   channels   id INTEGER PRIMARY KEY      the hub's channel number (stable across restarts)
//              agent TEXT, name TEXT        UNIQUE(agent, name)
//              version INTEGER              rises by exactly 1 per effective change
//              aggregate BLOB               msgpack document; NULL while the channel has only messages
//              updated_ms INTEGER
//   segments   the message history, a tick's messages of a channel per row: hub/storage/message-log.ts
//   applied_ids  ids of unlogged publishes (replay detection): hub/storage/write-claims.ts
//
// Transactions: the hub opens one transaction on the first write of an event-loop tick and commits
// it once at the end of the tick (group commit). The tick sends that tick's acks only once the
// commit is durable: when `commit()` returns (inline) or when the promise it returns resolves.
//
// Durability. In WAL mode a COMMIT appends the transaction's pages and a commit record to the
// -wal file with write(2). Once write(2) returns the bytes are in the kernel's page cache, which
// outlives the process: a kill -9 right after it loses nothing. An OS crash or power cut loses
// what was not fsync'd (never corrupting the file: a torn tail of the WAL fails its checksums and
// is ignored). The modes:
//   durability "fsync": PRAGMA synchronous=NORMAL, so COMMIT only write(2)s the WAL
//     frames, and this file makes each commit durable itself by fdatasync(2) of the -wal file on
//     libuv's thread pool. `commit()` returns a promise that resolves once everything committed
//     up to that call is on disk; the event loop keeps reading and applying writes meanwhile
//     (the fsync was most of the commit's time: 0.65 ms quiet, 3.8 ms median on a busy disk,
//     every other socket of the hub standing still). At most one fsync is in flight: the tick
//     commits again only once it is done, and what was applied meanwhile shares the next
//     commit and fsync (pipelined group commit, hub/tick.ts). With NORMAL SQLite itself
//     still syncs the WAL before a checkpoint copies it into the database, the database after
//     it, and a reused WAL's new header with its first frames — here those are covered by our
//     fdatasync of the same file — so a checkpoint never moves undurable frames.
//   durability "auto" (the default): as "fsync", but while fsyncs are fast the fdatasync runs
//     right after COMMIT on the event loop (durable when `commit()` returns). On a fast disk
//     (0.1-0.3 ms) that costs the loop less than the thread-pool round trip and the extra loop
//     turns it causes (fleet bench: the hub's CPU per write 16-19 us inline against 18-22 us on
//     the pool, the rate 6-12% lower). Once the average sync passes SLOW_SYNC_MS it moves to the
//     thread pool, and every PROBE_EVERY pooled commits it times one inline sync to see whether
//     the disk is fast again.
//   durability "inline": PRAGMA synchronous=FULL: SQLite fsyncs the WAL inside COMMIT, on the
//     event loop. Durable when `commit()` returns. Kept to compare (benches, A/B).
//   synchronous "normal": no fsync at all; acks survive a process crash, not an OS crash or power
//     loss. For workloads that accept that window.
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsync, fsyncSync, mkdirSync, openSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { TagwireError } from "../../bindings/core/errors.js";
import { MessageLog } from "./message-log.js";
import { type Database, type Statement, openDatabase } from "./sqlite-driver.js";
import { WriteClaims } from "./write-claims.js";
import type { Storage, StoredChannel, StoredMessage, Write, WriteDone, WriteOutcome, WriteSink } from "./storage.js";

export type { StoredChannel, StoredMessage } from "./storage.js";

export type SyncMode = "full" | "normal";
/** How a "full" commit is made durable; see the header of this file. */
export type Durability = "auto" | "fsync" | "inline";

/**
 * "auto": an average inline sync above this (ms) moves the fsync to the thread pool. Fleet bench
 * (1,000 devices, ~100 writes per commit, inline syncs 0.57 ms on average with spikes to 10 ms):
 * inline still cost the hub less CPU per write than the pool; fan-out with a 4 ms sync: the pool
 * 1.6-1.9x the inline rate. The average moves slowly (1/10 per sync) so lone spikes do not count.
 */
const SLOW_SYNC_MS = 2;
/** "auto": pooled commits between two timed inline syncs (is the disk fast again?). */
const PROBE_EVERY = 64;

export interface SqliteStorageOptions {
  /** See the header of this file. Default "full". */
  synchronous?: SyncMode;
  /**
   * With synchronous "full": "auto" (default: our fdatasync, inline while the disk is fast, on
   * the thread pool while it is slow), "fsync" (always the thread pool) or "inline" (SQLite's FULL).
   */
  durability?: Durability;
  /**
   * Test hook: makes the file behind `fd` durable (default: fdatasync on libuv's thread pool).
   * Tests inject a slow or failing one.
   */
  syncFile?: (fd: number) => Promise<void>;
  /** Test hook: the same, on the event loop ("auto" while the disk is fast; default fdatasyncSync). */
  syncFileSync?: (fd: number) => void;
}

/** fdatasync(2) on the thread pool: the WAL's data and its size, which is all a reader needs. */
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

export const DB_FILE = "tagwire.db";
const PAGE_BYTES = 16384;
/** 2: messages in segments (hub/storage/message-log.ts); 1 had a row per message, converted at open. */
const SCHEMA_VERSION = 2;

export class SqliteStorage implements Storage {
  readonly kind = "sqlite";
  readonly ordering = "local" as const;
  private sink: WriteSink | undefined;
  private readonly db: Database;
  /** The message history (segments and the id index). */
  private readonly log: MessageLog;
  /** Ids of unlogged publishes (replay detection). */
  private readonly claims: WriteClaims;
  private readonly s: {
    insertChannel: Statement;
    updateAggregate: Statement;
    channelIds: Statement;
    begin: Statement;
    commit: Statement;
    rollback: Statement;
  };
  private closed = false;
  /** The tick's transaction is open (see `begin`). */
  private transactionOpen = false;
  /** Durability "fsync" or "auto": the WAL is made durable here, not by SQLite. */
  private readonly asyncSync: boolean;
  private readonly adaptive: boolean;
  private readonly syncFile: (fd: number) => Promise<void>;
  private readonly syncFileSync: (fd: number) => void;
  /** "auto": moving average of inline sync times (ms), and pooled commits since the last one. */
  private inlineSyncMs = 0;
  private pooledSinceProbe = 0;
  private readonly dataDir: string;
  private readonly walPath: string;
  /** An fd on the -wal file (opened at the first commit) and the inode it is on. */
  private walFd = -1;
  private walIno = -1;
  /** The directory entry of a new -wal file is not durable until the directory is fsync'd. */
  private dirSyncDue = false;
  /** The fsync in flight, if any. */
  private syncing: Promise<void> | undefined;
  /** Set when an fsync failed: what was committed since the last good one may not be on disk. */
  private syncError: TagwireError | undefined;

  constructor(dataDir: string, options: SqliteStorageOptions = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.dataDir = dataDir;
    this.walPath = `${join(dataDir, DB_FILE)}-wal`;
    this.db = openDatabase(join(dataDir, DB_FILE));
    // 16 KiB pages (SQLite's default is 4 KiB): a message row and its two index entries touch a
    // quarter as many pages, B-trees split a quarter as often and a commit writes a quarter as
    // many WAL frames. Storage CPU per message (insert, trim, commit, fdatasync) fell from 3.8 to
    // 3.0 us. Only a new database takes it (before its first table); an existing one keeps its size.
    this.db.pragma(`page_size = ${PAGE_BYTES}`);
    this.db.pragma("journal_mode = WAL");
    const full = options.synchronous !== "normal";
    this.asyncSync = full && options.durability !== "inline";
    this.adaptive = this.asyncSync && options.durability !== "fsync";
    this.syncFile = options.syncFile ?? fdatasyncAsync;
    this.syncFileSync = options.syncFileSync ?? fdatasyncSync;
    this.db.pragma(`synchronous = ${full && !this.asyncSync ? "FULL" : "NORMAL"}`);
    // Checkpoints happen on commit once the WAL passes 1000 pages (the default); keep it.
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS channels (
        id INTEGER PRIMARY KEY,
        agent TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        aggregate BLOB,
        updated_ms INTEGER NOT NULL,
        UNIQUE (agent, name)
      );
    `);
    const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get();
    if (version && Number(version.value) > SCHEMA_VERSION) {
      throw new Error(`tagwire.db has schema ${version.value}; this hub reads schema ${SCHEMA_VERSION} and older`);
    }
    this.claims = new WriteClaims(this.db, () => this.begin());
    this.log = new MessageLog(this.db, () => this.begin());
    if (!version || Number(version.value) < SCHEMA_VERSION) {
      this.log.migrateMessagesTable();
      this.db
        .prepare("INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .run(String(SCHEMA_VERSION));
    }
    this.s = {
      insertChannel: this.db.prepare("INSERT INTO channels (agent, name, version, aggregate, updated_ms) VALUES (?, ?, 0, NULL, ?)"),
      updateAggregate: this.db.prepare("UPDATE channels SET version = ?, aggregate = ?, updated_ms = ? WHERE id = ?"),
      channelIds: this.db.prepare("SELECT id FROM channels").pluck(),
      begin: this.db.prepare("BEGIN"),
      commit: this.db.prepare("COMMIT"),
      rollback: this.db.prepare("ROLLBACK"),
    };
  }

  /** Hands every stored channel to the hub (aggregates and versions as last committed). */
  async open(sink: WriteSink): Promise<void> {
    if (this.sink) throw new Error("storage opened twice");
    this.sink = sink;
    for (const row of this.loadChannels()) sink.restore(row);
  }

  /** Every channel with its aggregate and message count. */
  loadChannels(): StoredChannel[] {
    const counts = this.log.load();
    const rows = this.db.prepare("SELECT id, agent, name, version, aggregate FROM channels ORDER BY id").all();
    return rows.map((r) => ({
      id: r.id,
      agent: r.agent,
      name: r.name,
      version: r.version,
      aggregate: r.aggregate ?? null,
      messageCount: counts.get(r.id) ?? 0,
    }));
  }

  /** The hub orders writes: apply now; durable at the tick's commit (the hub holds the ack till then). */
  submit(write: Write, done: WriteDone): void {
    let outcome: WriteOutcome;
    try {
      outcome = this.sink!.apply(write);
    } catch (err) {
      done(undefined, err as Error);
      return;
    }
    done(outcome, undefined);
  }

  get hasUncommitted(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Opens the tick's transaction if none is open. Known here, not asked of better-sqlite3 (its
   * `inTransaction` is a native call, ~60 ns, and every recorded write asks). A statement error
   * that made SQLite roll back on its own leaves this set, but such an error is fail-stop: the
   * tick rolls back (which clears it) and takes nothing more.
   */
  private begin(): void {
    if (this.transactionOpen) return;
    this.s.begin.run();
    this.transactionOpen = true;
  }

  /**
   * Commits the open transaction. Inline and "normal": as durable as the mode makes it when this
   * returns. "fsync": returns a promise that resolves once everything committed up to now is
   * on disk (rejects with TAGWIRE_ERR_CLOSED when the fsync failed: fail-stop). Never called
   * while that promise is pending: hub/tick.ts keeps one commit in flight and gathers what
   * arrives meanwhile into the next one, so no second fsync waits here.
   */
  commit(): Promise<void> | undefined {
    if (this.syncError) throw this.syncError;
    if (this.syncing) {
      throw new TagwireError("TAGWIRE_ERR_INTERNAL", "commit while the previous commit's fsync is in flight (hub/tick.ts keeps one)");
    }
    this.transactionOpen = false;
    if (this.db.inTransaction) {
      this.log.flush();
      this.s.commit.run();
    }
    if (!this.asyncSync) return undefined;
    if (this.adaptive && (this.inlineSyncMs < SLOW_SYNC_MS || ++this.pooledSinceProbe >= PROBE_EVERY)) {
      this.syncInline();
      return undefined;
    }
    this.syncing = this.startSync();
    return this.syncing;
  }

  /** One fsync of the WAL on the thread pool (see `commit`). */
  private startSync(): Promise<void> {
    let sync: Promise<void>;
    try {
      sync = this.syncWal();
    } catch (err) {
      sync = Promise.reject(err);
    }
    return sync.then(
      () => {
        this.syncing = undefined;
      },
      (err: Error) => {
        this.syncing = undefined;
        throw this.syncFailed(err);
      },
    );
  }

  /**
   * fsyncs the -wal file. The fd is opened once; SQLite reuses the file after a checkpoint (same
   * inode), but if it was ever deleted and recreated (another connection closing the database
   * last, a journal-mode change) the fd would sync a dead inode, so its inode is checked against
   * the path's at every sync (one stat per tick) and the fd reopened when they differ. (Our open
   * fd keeps a deleted inode allocated, so a new file cannot come back with the same number.)
   */
  private syncWal(): Promise<void> {
    const wal = this.syncFile(this.currentWalFd());
    if (!this.dirSyncDue) return wal;
    this.dirSyncDue = false;
    return wal.then(() => this.syncDir());
  }

  /** The fd to sync: reopened when the -wal file is not the one it was opened on. */
  private currentWalFd(): number {
    const ino = statSync(this.walPath).ino;
    if (ino !== this.walIno) {
      if (this.walFd >= 0) closeSync(this.walFd);
      this.walFd = openSync(this.walPath, "r");
      this.walIno = fstatSync(this.walFd).ino;
      this.dirSyncDue = true;
    }
    return this.walFd;
  }

  /**
   * "auto" while the disk is fast: fdatasync on the event loop, durable on return; timed, so a
   * slow disk moves the next commits to the thread pool. A failure is fail-stop as on the pool.
   */
  private syncInline(): void {
    const t0 = performance.now();
    try {
      this.syncFileSync(this.currentWalFd());
      if (this.dirSyncDue) {
        const fd = openSync(this.dataDir, "r");
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        this.dirSyncDue = false;
      }
    } catch (err) {
      throw this.syncFailed(err as Error);
    }
    const ms = performance.now() - t0;
    // A probe after a pooled stretch is a fresh start: one fast sync brings the loop back.
    this.inlineSyncMs = this.pooledSinceProbe >= PROBE_EVERY ? ms : this.inlineSyncMs * 0.9 + ms * 0.1;
    this.pooledSinceProbe = 0;
  }

  /** A failed sync stops the storage (fail-stop): every later commit throws this error. */
  private syncFailed(err: Error): TagwireError {
    this.syncError = new TagwireError("TAGWIRE_ERR_CLOSED", `fsync of ${this.walPath} failed: ${err.message}`, { cause: err });
    return this.syncError;
  }

  private async syncDir(): Promise<void> {
    const fd = openSync(this.dataDir, "r");
    try {
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
  }

  rollback(): void {
    this.transactionOpen = false;
    if (this.db.inTransaction) this.s.rollback.run();
    this.log.rollback();
  }

  /** Inserts a new channel row (inside the open transaction); returns its id. */
  createChannel(agent: string, name: string, nowMs: number): number {
    this.begin();
    return Number(this.s.insertChannel.run(agent, name, nowMs).lastInsertRowid);
  }

  saveAggregate(channelId: number, version: number, aggregate: Uint8Array, nowMs: number): void {
    this.begin();
    this.s.updateAggregate.run(version, aggregate, nowMs, channelId);
  }

  /** Appends a message; false (and nothing written) when the channel already holds `id`. */
  appendMessage(channelId: number, id: string, ts: number, data: Uint8Array): boolean {
    return this.log.append(channelId, id, ts, data);
  }

  claimWriteId(channelId: number, id: string, ts: number): boolean {
    return this.claims.claim(channelId, id, ts);
  }

  releaseWriteId(channelId: number, id: string): void {
    this.claims.release(channelId, id);
  }

  /** Replaces a message's data (Doover's message update; hub/doover/) in the open transaction. */
  updateMessageData(channelId: number, id: string, data: Uint8Array): boolean {
    return this.log.updateData(channelId, id, data);
  }

  findMessage(channelId: number, id: string): StoredMessage | undefined {
    return this.log.find(channelId, id);
  }

  /**
   * Messages with after < ts < before, the newest `limit`, oldest first; with `maxBytes`, the
   * newest whose data fits in it (at least one), read no further (a reply budget, hub/limits.ts).
   */
  messages(channelId: number, before: number, after: number, limit: number, maxBytes = Infinity): StoredMessage[] {
    return this.log.read(channelId, before, after, limit, maxBytes);
  }

  /** Deletes all but the newest `keep` messages of a channel; returns how many went. */
  trimMessages(channelId: number, keep: number, count?: number): number {
    return this.log.trim(channelId, keep, count);
  }

  /** Deletes messages older than `cutoffMs`; returns the affected channel ids with counts. */
  expireMessages(cutoffMs: number): Map<number, number> {
    this.begin();
    const removed = this.log.expire(this.s.channelIds.all() as number[], cutoffMs);
    this.claims.expire(cutoffMs);
    return removed;
  }

  /** Waits for the fsync in flight, then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.db.inTransaction) this.s.rollback.run();
    this.log.close();
    try {
      await this.syncing;
    } catch {
      // the tick already failed the hub; nothing more to make durable
    }
    this.db.close();
    if (this.walFd >= 0) closeSync(this.walFd);
    this.walFd = -1;
  }
}
