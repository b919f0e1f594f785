// The durable outbox for Node: one SQLite file (better-sqlite3, WAL) per agent in `outboxDir`.
// Each `add`, fold, mark and remove is its own committed statement, so once `add` returns the
// write survives the process dying (and, with `synchronous: "full"`, a power cut).
// Loaded only by dynamic import from connect() when an `outboxDir` is given, so browser bundles
// never see better-sqlite3 or node:fs.
//
// Table outbox, one row per entry, in sending order:
//   seq           INTEGER PRIMARY KEY AUTOINCREMENT   order of sending; never reused
//   id            TEXT      client write id (wire messageId)
//   kind          INTEGER   1 publish, 2 message
//   agent,channel TEXT      address
//   flags         INTEGER   bit 0 log, bit 1 replace, bit 2 attempted (possibly sent: frozen)
//   replace_keys  TEXT      JSON array of top-level keys, or NULL
//   data          BLOB      the document as msgpack (the exact bytes that go on the wire)

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { TagwireError } from "../core/errors.js";
import { encodeValue, decodeValue } from "../protocol/msgpack.js";
import type { Json } from "../sdk/session.js";
import { foldInto, type Outbox, type OutboxEntry, type OutboxWrite } from "./outbox.js";

const LOG = 1;
const REPLACE = 2;
const ATTEMPTED = 4;

export interface SqliteOutboxOptions {
  /** "normal" (default): survives a process crash. "full": also an OS crash or power cut. */
  synchronous?: "normal" | "full";
}

interface Row {
  seq: number;
  id: string;
  kind: number;
  agent: string;
  channel: string;
  flags: number;
  replace_keys: string | null;
  data: Uint8Array;
}

/** The outbox file for `agentId` in `dir` (created if missing). */
export function outboxPath(dir: string, agentId: string): string {
  return join(dir, `outbox-${agentId}.db`);
}

export class SqliteOutbox implements Outbox {
  private readonly db: any;
  private readonly stmts: Record<"insert" | "update" | "mark" | "remove" | "peek" | "count", any>;
  private count: number;
  private readonly lastByKey = new Map<string, OutboxEntry>();
  private closed = false;

  /** Opens (or creates) the outbox file at `path`. */
  constructor(path: string, options: SqliteOutboxOptions = {}) {
    const Database = loadSqlite();
    const dir = path.replace(/[/\\][^/\\]*$/, "");
    if (dir && dir !== path) mkdirSync(dir, { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL,
      kind INTEGER NOT NULL,
      agent TEXT NOT NULL,
      channel TEXT NOT NULL,
      flags INTEGER NOT NULL,
      replace_keys TEXT,
      data BLOB NOT NULL
    )`);
    this.stmts = {
      insert: this.db.prepare("INSERT INTO outbox (id, kind, agent, channel, flags, replace_keys, data) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      update: this.db.prepare("UPDATE outbox SET data = ?, flags = ? WHERE seq = ? AND (flags & 4) = 0"),
      mark: this.db.prepare("UPDATE outbox SET flags = flags | 4 WHERE seq = ?"),
      remove: this.db.prepare("DELETE FROM outbox WHERE seq = ?"),
      peek: this.db.prepare("SELECT * FROM outbox ORDER BY seq LIMIT ?"),
      count: this.db.prepare("SELECT COUNT(*) AS n FROM outbox"),
    };
    this.count = this.stmts.count.get().n as number;
    // Only the newest entry of a channel can take a fold; find them once.
    for (const row of this.db.prepare("SELECT * FROM outbox ORDER BY seq").iterate() as Iterable<Row>) {
      this.lastByKey.set(`${row.agent}/${row.channel}`, toEntry(row));
    }
  }

  get size(): number {
    return this.count;
  }

  add(write: OutboxWrite, attempted = false): OutboxEntry {
    this.checkOpen();
    const key = `${write.agentId}/${write.channel}`;
    const last = this.lastByKey.get(key);
    if (last && !attempted && write.kind === "publish" && !write.log) {
      const folded = foldInto(last, write);
      if (folded) {
        const info = this.stmts.update.run(encodeValue(folded.data), flagsOf(folded), folded.seq);
        if (info.changes === 1) {
          this.lastByKey.set(key, folded);
          return folded;
        }
      }
    }
    const flags = (write.log ? LOG : 0) | (write.replace ? REPLACE : 0) | (attempted ? ATTEMPTED : 0);
    const keys = write.replaceKeys?.length ? JSON.stringify(write.replaceKeys) : null;
    const info = this.stmts.insert.run(
      write.id,
      write.kind === "publish" ? 1 : 2,
      write.agentId,
      write.channel,
      flags,
      keys,
      encodeValue(write.data),
    );
    const entry: OutboxEntry = { ...write, seq: Number(info.lastInsertRowid), attempted };
    if (!write.log) delete entry.log;
    if (!write.replace) delete entry.replace;
    this.count++;
    this.lastByKey.set(key, entry);
    return entry;
  }

  peek(limit = 1 << 30): OutboxEntry[] {
    this.checkOpen();
    return (this.stmts.peek.all(limit) as Row[]).map(toEntry);
  }

  markAttempted(seqs: readonly number[]): void {
    this.checkOpen();
    if (seqs.length === 0) return;
    this.db.transaction(() => {
      for (const seq of seqs) this.stmts.mark.run(seq);
    })();
    for (const [key, e] of this.lastByKey) {
      if (!e.attempted && seqs.includes(e.seq)) this.lastByKey.set(key, { ...e, attempted: true });
    }
  }

  remove(seqs: readonly number[]): void {
    this.checkOpen();
    if (seqs.length === 0) return;
    let removed = 0;
    this.db.transaction(() => {
      for (const seq of seqs) removed += this.stmts.remove.run(seq).changes as number;
    })();
    this.count -= removed;
    const gone = new Set(seqs);
    for (const [key, e] of this.lastByKey) if (gone.has(e.seq)) this.lastByKey.delete(key);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", "outbox is closed");
  }
}

function flagsOf(e: OutboxEntry): number {
  return (e.log ? LOG : 0) | (e.replace ? REPLACE : 0) | (e.attempted ? ATTEMPTED : 0);
}

function toEntry(row: Row): OutboxEntry {
  const e: OutboxEntry = {
    seq: row.seq,
    id: row.id,
    kind: row.kind === 1 ? "publish" : "message",
    agentId: row.agent,
    channel: row.channel,
    data: decodeValue(row.data) as Json,
    attempted: (row.flags & ATTEMPTED) !== 0,
  };
  if (row.flags & LOG) e.log = true;
  if (row.flags & REPLACE) e.replace = true;
  if (row.replace_keys) e.replaceKeys = JSON.parse(row.replace_keys) as string[];
  return e;
}

let sqlite: any;

function loadSqlite(): any {
  // better-sqlite3 is CommonJS with a native addon; require keeps the constructor synchronous.
  sqlite ??= createRequire(import.meta.url)("better-sqlite3");
  return sqlite;
}

/** Opens the durable outbox of `agentId` under `dir`. */
export function openSqliteOutbox(dir: string, agentId: string, options?: SqliteOutboxOptions): SqliteOutbox {
  return new SqliteOutbox(outboxPath(dir, agentId), options);
}
