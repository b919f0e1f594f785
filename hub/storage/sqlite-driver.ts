// The part of better-sqlite3's API the SQLite storage uses (the package ships no types), shared
// by hub/storage/sqlite.ts (channels, write ids, transactions, durability) and
// hub/storage/message-log.ts (message history).
import { createRequire } from "node:module";

export interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): any;
  all(...params: unknown[]): any[];
  iterate(...params: unknown[]): IterableIterator<any>;
  /** Rows as arrays instead of objects. */
  raw(): Statement;
  /** Only the first column of each row. */
  pluck(): Statement;
}

export interface Database {
  pragma(source: string, options?: { simple?: boolean }): any;
  exec(source: string): void;
  prepare(source: string): Statement;
  close(): void;
  readonly inTransaction: boolean;
}

/** Opens (creating it if needed) the database file at `path`. */
export function openDatabase(path: string): Database {
  const BetterSqlite = createRequire(import.meta.url)("better-sqlite3") as new (path: string) => Database;
  return new BetterSqlite(path);
}
