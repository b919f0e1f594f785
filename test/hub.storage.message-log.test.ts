// The SQLite storage's message history in segments (hub/storage/message-log.ts), against a plain
// model: a seeded random run of appends (new and repeated ids, clocks that sometimes step back),
// finds, data updates, history reads, count trims, expiry, commits, rollbacks and restarts, over
// a few channels. After every step the storage must answer as the model does. Plus: a schema 1
// database (a row per message) is converted on open, keeping every message.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { SEGMENT_MAX_BYTES, SEGMENT_MAX_MESSAGES } from "../hub/storage/message-log.js";
import { DB_FILE, SqliteStorage } from "../hub/storage/sqlite.js";
import type { StoredMessage, WriteSink } from "../hub/storage/storage.js";
import { seededRandom } from "./support/seed.js";

const sink: WriteSink = {
  restore() {},
  apply: () => {
    throw new Error("not used");
  },
};

interface ModelMessage {
  id: string;
  ts: number;
  data: number[];
  /** Append order across the run: ties on ts are decided by it. */
  order: number;
}

/** What the storage should hold: each channel's kept messages, and what was committed. */
class Model {
  channels = new Map<number, ModelMessage[]>();
  committed = new Map<number, ModelMessage[]>();

  list(ch: number): ModelMessage[] {
    let l = this.channels.get(ch);
    if (!l) this.channels.set(ch, (l = []));
    return l;
  }
  /** Kept messages in (ts, append order). */
  sorted(ch: number): ModelMessage[] {
    return [...this.list(ch)].sort((a, b) => a.ts - b.ts || a.order - b.order);
  }
  commit(): void {
    this.committed = new Map([...this.channels].map(([ch, l]) => [ch, l.map((m) => ({ ...m, data: [...m.data] }))]));
  }
  rollback(): void {
    this.channels = new Map([...this.committed].map(([ch, l]) => [ch, l.map((m) => ({ ...m, data: [...m.data] }))]));
  }
}

/** Runs `fn` in a fresh directory, deleted afterwards. */
async function inTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const view = (m: StoredMessage | undefined) => m && { id: m.id, ts: m.ts, data: [...m.data] };
const modelView = (m: ModelMessage | undefined) => m && { id: m.id, ts: m.ts, data: m.data };

test("message log: a seeded random run answers as the model does, through commits, rollbacks and restarts", () => {
  const rand = seededRandom("message-log");
  const int = (n: number) => Math.floor(rand() * n);
  return inTempDir("tw-msglog-", async (dir) => {
    let storage = new SqliteStorage(dir, { synchronous: "normal" });
    await storage.open(sink);
    const model = new Model();
    const channels = [0, 1, 2, 3].map((i) => storage.createChannel("dev", `ch${i}`, 1));
    await storage.commit();
    model.commit();
    let clock = 1_000_000;
    let order = 0;
    let nextId = 0;
    const checkChannel = (ch: number) => {
      const all = model.sorted(ch);
      expect(storage.messages(ch, Infinity, -Infinity, 1e9).map(view)).toEqual(all.map(modelView));
    };
    for (let step = 0; step < 4000; step++) {
      const ch = channels[int(channels.length)]!;
      const r = rand();
      if (r < 0.55) {
        // append: mostly new ids, sometimes a kept or a removed one; the clock mostly rises
        const list = model.list(ch);
        const repeat = rand() < 0.1 && list.length > 0;
        const id = repeat ? list[int(list.length)]!.id : `m${nextId++}`;
        clock += rand() < 0.04 ? -int(200) : int(3);
        const data = [int(256), int(256)];
        const added = storage.appendMessage(ch, id, clock, new Uint8Array(data));
        expect(added, `append ${id}`).toBe(!repeat);
        if (!repeat) list.push({ id, ts: clock, data, order: order++ });
      } else if (r < 0.65) {
        const list = model.list(ch);
        const pick = list.length > 0 && rand() < 0.8 ? list[int(list.length)]!.id : `absent${int(10)}`;
        expect(view(storage.findMessage(ch, pick))).toEqual(modelView(list.find((m) => m.id === pick)));
      } else if (r < 0.7) {
        const list = model.list(ch);
        if (list.length === 0) continue;
        const m = list[int(list.length)]!;
        m.data = [int(256), int(256), int(256)];
        expect(storage.updateMessageData(ch, m.id, new Uint8Array(m.data))).toBe(true);
      } else if (r < 0.8) {
        // a history read with random bounds, limit and byte budget
        const all = model.sorted(ch);
        const before = rand() < 0.5 ? Infinity : clock - int(100);
        const after = rand() < 0.5 ? -Infinity : clock - 100 - int(400);
        const limit = 1 + int(40);
        const maxBytes = rand() < 0.3 ? 5 + int(60) : Infinity;
        const inRange = all.filter((m) => m.ts < before && m.ts > after);
        const newest = inRange.slice(-limit).reverse();
        const want: ModelMessage[] = [];
        let bytes = 0;
        for (const m of newest) {
          bytes += m.data.length + m.id.length;
          if (bytes > maxBytes && want.length > 0) break;
          want.push(m);
        }
        expect(storage.messages(ch, before, after, limit, maxBytes).map(view)).toEqual(want.reverse().map(modelView));
      } else if (r < 0.86) {
        const list = model.list(ch);
        // mostly a small trim (the hub trims in steps), sometimes anything
        const keep = rand() < 0.7 ? Math.max(0, list.length - 1 - int(8)) : int(list.length + 3);
        const sorted = model.sorted(ch);
        const gone = Math.max(0, sorted.length - keep);
        const doomed = new Set(sorted.slice(0, gone));
        expect(storage.trimMessages(ch, keep, rand() < 0.5 ? list.length : undefined)).toBe(gone);
        model.channels.set(
          ch,
          list.filter((m) => !doomed.has(m)),
        );
        checkChannel(ch);
      } else if (r < 0.88) {
        const cutoff = clock - int(300);
        const want = new Map<number, number>();
        for (const c of channels) {
          const list = model.list(c);
          const n = list.filter((m) => m.ts < cutoff).length;
          if (n > 0) want.set(c, n);
          model.channels.set(
            c,
            list.filter((m) => m.ts >= cutoff),
          );
        }
        expect(storage.expireMessages(cutoff)).toEqual(want);
      } else if (r < 0.97) {
        await storage.commit();
        model.commit();
      } else if (r < 0.985) {
        storage.rollback();
        model.rollback();
        for (const c of channels) checkChannel(c);
      } else {
        // a restart: what was not committed is gone, the rest is as it was
        await storage.close();
        model.rollback();
        storage = new SqliteStorage(dir, { synchronous: "normal" });
        const counts = new Map<number, number>();
        await storage.open({ restore: (c) => counts.set(c.id, c.messageCount), apply: sink.apply });
        for (const c of channels) {
          expect(counts.get(c)).toBe(model.list(c).length);
          checkChannel(c);
        }
      }
    }
    for (const c of channels) checkChannel(c);
    // The run did each kind of thing (the mix above is random): many messages went through.
    expect(nextId).toBeGreaterThan(500);
    await storage.close();
  });
}, 60_000);

test("message log: after the clock went back, trims and expiry cut by ts across segments, also after a restart", () =>
  inTempDir("tw-msglog-back-", async (dir) => {
    let storage = new SqliteStorage(dir, { synchronous: "normal" });
    await storage.open(sink);
    const ch = storage.createChannel("dev", "log", 1);
    const tick = async (tag: string, ...ts: number[]) => {
      for (const [i, t] of ts.entries()) storage.appendMessage(ch, `${tag}${i}`, t, new Uint8Array([i]));
      await storage.commit();
    };
    // Segment a holds ts 100-109. Segment b steps the clock back (50) and forward again (200):
    // by its largest ts it comes last, yet it holds the oldest message. Segment c: 120-129.
    await tick("a", ...Array.from({ length: 10 }, (_, i) => 100 + i));
    await tick("b", 50, 200);
    await tick("c", ...Array.from({ length: 10 }, (_, i) => 120 + i));
    const ids = () => storage.messages(ch, Infinity, -Infinity, 100).map((m) => m.id);
    expect(ids()).toEqual(["b0", ...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `c${i}`), "b1"]);
    // the two oldest by ts: b0 (in the segment with the largest ts), then a0
    expect(storage.trimMessages(ch, 20, 22)).toBe(2);
    expect(ids().slice(0, 2)).toEqual(["a1", "a2"]);
    await storage.commit();
    await tick("d", 40, 300);
    await storage.close();
    storage = new SqliteStorage(dir, { synchronous: "normal" });
    await storage.open(sink);
    // still known to be out of order after a restart: expiry below 105 takes d0 (ts 40) and a1-a4
    expect(storage.expireMessages(105)).toEqual(new Map([[ch, 5]]));
    expect(ids()).toEqual([...["a5", "a6", "a7", "a8", "a9"], ...Array.from({ length: 10 }, (_, i) => `c${i}`), "b1", "d1"]);
    expect(storage.trimMessages(ch, 3)).toBe(14);
    expect(ids()).toEqual(["c9", "b1", "d1"]);
    await storage.commit();
    await storage.close();
  }));

test("message log: a big tick is cut into bounded segments; an id too long to store is refused with a typed error, nothing lost", () =>
  inTempDir("tw-msglog-big-", async (dir) => {
    const storage = new SqliteStorage(dir, { synchronous: "normal" });
    await storage.open(sink);
    const ch = storage.createChannel("dev", "log", 1);
    // 10,000 small messages in one tick, then 3 of 600 KB: more than a segment holds either way
    for (let i = 0; i < 10_000; i++) expect(storage.appendMessage(ch, `m${i}`, 1000 + i, new Uint8Array([i & 255]))).toBe(true);
    for (let i = 0; i < 3; i++) storage.appendMessage(ch, `big${i}`, 20_000 + i, new Uint8Array(600_000).fill(i));
    expect(() => storage.appendMessage(ch, "x".repeat(30_000), 30_000, new Uint8Array([1]))).toThrow(
      expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }),
    );
    await storage.commit();
    type RawDb = { prepare(sql: string): { all(): { n: number; bytes: number }[] }; close(): void };
    const db = new (createRequire(import.meta.url)("better-sqlite3") as new (path: string) => RawDb)(join(dir, DB_FILE));
    const rows = db.prepare("SELECT n, length(payload) AS bytes FROM segments ORDER BY seq").all();
    db.close();
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(10_003);
    // full segments of small messages, then each big one ends its segment
    const full = Math.floor(10_000 / SEGMENT_MAX_MESSAGES);
    expect(rows.slice(0, full).every((r) => r.n === SEGMENT_MAX_MESSAGES && r.bytes < SEGMENT_MAX_BYTES)).toBe(true);
    expect(rows.slice(full).map((r) => r.n)).toEqual([(10_000 % SEGMENT_MAX_MESSAGES) + 1, 1, 1]);
    const all = storage.messages(ch, Infinity, -Infinity, 20_000);
    expect(all.map((m) => m.id)).toEqual([...Array.from({ length: 10_000 }, (_, i) => `m${i}`), "big0", "big1", "big2"]);
    expect(storage.findMessage(ch, "m5000")).toMatchObject({ ts: 6000 });
    expect(storage.findMessage(ch, "big1")!.data[599_999]).toBe(1);
    await storage.close();
  }));

test("message log: a schema 1 database (a row per message) is converted on open, ids and order kept", () =>
  inTempDir("tw-msglog-v1-", async (dir) => {
    type RawDb = {
      exec(sql: string): void;
      prepare(sql: string): { run(...a: unknown[]): unknown; get(...a: unknown[]): any };
      close(): void;
    };
    const db = new (createRequire(import.meta.url)("better-sqlite3") as new (path: string) => RawDb)(join(dir, DB_FILE));
    // The schema 1 tables as hubs before segments made them.
    db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('schema', '1');
    CREATE TABLE channels (id INTEGER PRIMARY KEY, agent TEXT NOT NULL, name TEXT NOT NULL,
      version INTEGER NOT NULL DEFAULT 0, aggregate BLOB, updated_ms INTEGER NOT NULL, UNIQUE (agent, name));
    CREATE TABLE messages (seq INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, id TEXT NOT NULL,
      ts INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE UNIQUE INDEX messages_by_id ON messages (channel_id, id);
    CREATE INDEX messages_by_ts ON messages (channel_id, ts);
  `);
    const addChannel = db.prepare("INSERT INTO channels (agent, name, updated_ms) VALUES ('dev', ?, 1)");
    addChannel.run("a");
    addChannel.run("b");
    const add = db.prepare("INSERT INTO messages (channel_id, id, ts, data) VALUES (?, ?, ?, ?)");
    // 600 messages in channel 1 (more than one converted segment), ids with non-ASCII characters,
    // and one whose clock went back (older by ts though inserted later).
    for (let i = 0; i < 600; i++) add.run(1, `a-${i}-é`, 5000 + i, Buffer.from([i & 255]));
    add.run(1, "late", 4000, Buffer.from([7]));
    add.run(2, "b-0", 6000, Buffer.from([1, 2]));
    db.close();

    const storage = new SqliteStorage(dir, { synchronous: "normal" });
    const counts = new Map<number, number>();
    await storage.open({ restore: (c) => counts.set(c.id, c.messageCount), apply: sink.apply });
    expect(counts).toEqual(
      new Map([
        [1, 601],
        [2, 1],
      ]),
    );
    const a = storage.messages(1, Infinity, -Infinity, 10_000);
    expect(a.map((m) => m.id)).toEqual(["late", ...Array.from({ length: 600 }, (_, i) => `a-${i}-é`)]);
    expect([...a[1]!.data]).toEqual([0]);
    expect(storage.findMessage(2, "b-0")).toMatchObject({ ts: 6000 });
    // Replay detection works on the converted ids.
    expect(storage.appendMessage(1, "a-599-é", 9999, new Uint8Array([0]))).toBe(false);
    expect(storage.appendMessage(1, "new", 9999, new Uint8Array([0]))).toBe(true);
    await storage.commit();
    await storage.close();

    const check = new (createRequire(import.meta.url)("better-sqlite3") as new (path: string) => RawDb)(join(dir, DB_FILE));
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema'").get().value).toBe("2");
    expect(check.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'messages'").get().n).toBe(0);
    check.close();
  }));
