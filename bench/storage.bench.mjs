// The hub's message storage, per stored message: one tick of appends, count trimming and the
// durable commit, three ways of spreading a tick's messages over channels.
//   tagwire: SqliteStorage (hub/storage/sqlite.ts): a tick's messages of a channel are one
//            segment row, replays found by the in-memory id index (hub/storage/message-log.ts).
//   anchor:  the usual SQLite layout, a row per message with a unique (channel, id) index for
//            replays and a (channel, ts) index for history reads and trimming (what tagwire's
//            schema 1 was), in the same WAL file settings, the same group commit per tick and
//            the same fdatasync of the WAL after it.
// Both keep 2,000 messages per channel, trimmed in steps of 250 as the hub does. Times are wall
// time per message, the tick's fdatasync included. `npm run build` first, then
// `node bench/storage.bench.mjs`.
import { fdatasyncSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStorage } from "../dist/hub/index.js";
import { printTable, runRounds } from "./common.mjs";

const KEEP = 2000;
const STEP = 250;
const ROUNDS = Number(process.env.TAGWIRE_BENCH_ROUNDS ?? 5);
const data = Buffer.from(JSON.stringify({ seq: 0, v: [21.5, 21.6, 21.4], unit: "celsius", note: "x".repeat(60) }));
const patterns = [
  { name: "1 channel x 500 per tick", channels: 1, perTick: 500 },
  { name: "50 channels x 10 per tick", channels: 50, perTick: 10 },
  { name: "500 channels x 1 per tick", channels: 500, perTick: 1 },
];

const dirs = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tw-storage-bench-"));
  dirs.push(d);
  return d;
};
let seq = 0;
const nextId = (ts) => `${ts.toString(36)}-b${(seq++).toString(36)}`;

/** tagwire's storage: one tick of `perTick` messages to each channel, then the commit. */
async function tagwireStore(p) {
  const st = new SqliteStorage(tempDir(), { synchronous: "full", durability: "auto" });
  await st.open({
    restore() {},
    apply: () => {
      throw new Error("not used: the bench records directly");
    },
  });
  const ids = Array.from({ length: p.channels }, (_, c) => st.createChannel("bench", `c${c}`, Date.now()));
  await st.commit();
  const counts = new Array(p.channels).fill(0);
  return async () => {
    for (let c = 0; c < p.channels; c++) {
      for (let k = 0; k < p.perTick; k++) {
        const ts = Date.now();
        st.appendMessage(ids[c], nextId(ts), ts, data);
        if (++counts[c] > KEEP + STEP) counts[c] -= st.trimMessages(ids[c], KEEP, counts[c]);
      }
    }
    await st.commit();
  };
}

/** The row-per-message anchor over better-sqlite3 directly. */
function rowStore(p) {
  const dir = tempDir();
  const Database = createRequire(import.meta.url)("better-sqlite3");
  const db = new Database(join(dir, "rows.db"));
  db.pragma("page_size = 16384");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE messages (seq INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE UNIQUE INDEX messages_by_id ON messages (channel_id, id);
    CREATE INDEX messages_by_ts ON messages (channel_id, ts);
  `);
  const insert = db.prepare("INSERT INTO messages (channel_id, id, ts, data) VALUES (?, ?, ?, ?) ON CONFLICT (channel_id, id) DO NOTHING");
  const cutFromOldest = db.prepare("SELECT ts, seq FROM messages WHERE channel_id = ? ORDER BY ts, seq LIMIT 1 OFFSET ?").raw();
  const deleteUpTo = db.prepare("DELETE FROM messages WHERE channel_id = ? AND (ts, seq) <= (?, ?)");
  const begin = db.prepare("BEGIN");
  const commit = db.prepare("COMMIT");
  let wal = -1;
  const counts = new Array(p.channels).fill(0);
  return () => {
    begin.run();
    for (let c = 0; c < p.channels; c++) {
      for (let k = 0; k < p.perTick; k++) {
        const ts = Date.now();
        insert.run(c, nextId(ts), ts, data);
        if (++counts[c] > KEEP + STEP) {
          const cut = cutFromOldest.get(c, counts[c] - KEEP - 1);
          counts[c] -= deleteUpTo.run(c, cut[0], cut[1]).changes;
        }
      }
    }
    commit.run();
    if (wal < 0) wal = openSync(join(dir, "rows.db-wal"), "r");
    fdatasyncSync(wal);
  };
}

try {
  for (const p of patterns) {
    const perTick = p.channels * p.perTick;
    const anchor = rowStore(p);
    const tagwire = await tagwireStore(p);
    const { rows, speedup } = await runRounds({ rounds: ROUNDS, batch: perTick, time: 600, warmupTime: 200 }, (bench) => {
      bench.add("row per message (SQLite, 2 indexes)", anchor);
      bench.add("tagwire segments", tagwire);
    });
    console.log(`\n${p.name} (${perTick} messages per tick, ${data.length} B each, ${ROUNDS} rounds)`);
    printTable(rows, "ns/message", 0, { "vs row per message": (_, i) => (i === 0 ? "1.00x" : speedup(i)) });
  }
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
