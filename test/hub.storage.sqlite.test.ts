// The Storage contract (test/support/storage-contract.ts) on the single-hub SQLite storage, once
// per durability mode, plus what only SQLite promises: one transaction per tick, and a rollback
// dropping exactly what was not committed.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { DB_FILE, SqliteStorage, type SyncMode } from "../hub/storage/sqlite.js";
import type { Write, WriteSink } from "../hub/storage/storage.js";
import { describeStorageContract, type StorageLocation } from "./support/storage-contract.js";

function sqliteLocation(synchronous: SyncMode): StorageLocation {
  const dir = mkdtempSync(join(tmpdir(), "tw-storage-"));
  return {
    open: () => new SqliteStorage(dir, { synchronous }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

for (const mode of ["full", "normal"] as const) {
  describeStorageContract(`sqlite (synchronous=${mode})`, {
    create: async () => sqliteLocation(mode),
    sharedLog: false,
    expiresOnCall: true,
  });
}

/** A sink that records the writes it is handed and applies nothing itself. */
function recordingSink(storage: SqliteStorage): WriteSink & { writes: Write[] } {
  const writes: Write[] = [];
  return {
    writes,
    restore() {},
    apply(w) {
      writes.push(w);
      const ch = storage.createChannel(w.agentId, w.channel, w.ts);
      if (w.kind === "message") storage.appendMessage(ch, w.messageId!, w.ts, w.data);
      return { version: 0, diff: new Uint8Array([0x80]), message: undefined };
    },
  };
}

test("sqlite: records join the tick's one transaction; rollback drops exactly the uncommitted ones", async () => {
  const location = sqliteLocation("full");
  try {
    const storage = (await location.open()) as SqliteStorage;
    const sink = recordingSink(storage);
    await storage.open(sink);
    const write = (channel: string, id: string): Write => ({
      kind: "message",
      agentId: "dev",
      channel,
      data: new Uint8Array([0x80]),
      messageId: id,
      logId: undefined,
      ts: Date.now(),
      author: "dev",
    });
    let calls = 0;
    storage.submit(write("kept", "a"), (_out, err) => {
      expect(err).toBeUndefined();
      calls++;
    });
    // local ordering: applied and answered inside submit, not yet durable
    expect(calls).toBe(1);
    expect(storage.hasUncommitted).toBe(true);
    await storage.commit();
    expect(storage.hasUncommitted).toBe(false);
    storage.submit(write("dropped", "b"), () => calls++);
    expect(storage.hasUncommitted).toBe(true);
    storage.rollback();
    await storage.close();

    const reopened = (await location.open()) as SqliteStorage;
    const restored: string[] = [];
    await reopened.open({
      restore: (row) => restored.push(`${row.agent}/${row.name}:${row.messageCount}`),
      apply: () => expect.unreachable(),
    });
    expect(restored).toEqual(["dev/kept:1"]);
    expect(sink.writes.map((w) => w.channel)).toEqual(["kept", "dropped"]);
    await reopened.close();
  } finally {
    await location.destroy();
  }
});

test("sqlite: a write the sink refuses reaches `done` as the error, inside submit", async () => {
  const location = sqliteLocation("normal");
  try {
    const storage = (await location.open()) as SqliteStorage;
    await storage.open({
      restore() {},
      apply: () => {
        throw new Error("refused");
      },
    });
    let seen: Error | undefined;
    storage.submit(
      {
        kind: "message",
        agentId: "dev",
        channel: "c",
        data: new Uint8Array([0x80]),
        messageId: undefined,
        logId: "x",
        ts: 1,
        author: undefined,
      },
      (out, err) => {
        expect(out).toBeUndefined();
        seen = err;
      },
    );
    expect(seen?.message).toBe("refused");
    await storage.close();
  } finally {
    await location.destroy();
  }
});

// Expired claims are deleted by a sweep of the key order, one slice per expiry: twice the claims
// made since the last sweep, at least 10,000 rows. Until the sweep reaches one it counts as absent.
test("sqlite: the expiry sweep goes round applied_ids a slice at a time", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tw-storage-"));
  try {
    const storage = new SqliteStorage(dir);
    const ch = storage.createChannel("dev", "a", 1);
    const id = (i: number) => `w${String(i).padStart(5, "0")}`;
    for (let i = 0; i < 25_000; i++) storage.claimWriteId(ch, id(i), 10);
    await storage.commit();
    storage.expireMessages(5); // slice of 50,000: the whole table, nothing expired
    await storage.commit();
    const count = () => {
      const raw = openRaw(dir);
      const n = (raw.prepare("SELECT COUNT(*) AS n FROM applied_ids").all()[0] as { n: number }).n;
      raw.close();
      return n;
    };
    expect(count()).toBe(25_000);
    expect(storage.claimWriteId(ch, id(24_999), 11)).toBe(false);
    storage.expireMessages(20); // slice of 10,000 (one claim since): the first 10,000 keys
    await storage.commit();
    expect(count()).toBe(15_000);
    // Expired, not yet swept: absent, so claimed anew (with ts 20, now live).
    expect(storage.claimWriteId(ch, id(24_998), 20)).toBe(true);
    expect(storage.claimWriteId(ch, id(24_998), 21)).toBe(false);
    storage.expireMessages(20);
    await storage.commit();
    expect(count()).toBe(5_000);
    storage.expireMessages(20); // the rest, then round again from the first key
    await storage.commit();
    expect(count()).toBe(1);
    await storage.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// applied_ids is keyed (id, channel_id); a database made keyed (channel_id, id) by an older hub
// is rebuilt in the new order when opened, keeping its rows. Replay protection holds in both.
type RawDb = { exec(sql: string): void; prepare(sql: string): { all(): unknown[] }; close(): void };
const openRaw = (dir: string): RawDb =>
  new (createRequire(import.meta.url)("better-sqlite3") as new (path: string) => RawDb)(join(dir, DB_FILE));
for (const layout of ["new", "older"] as const) {
  test(`sqlite: write ids claimed once per channel, released, expired (${layout} key order)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tw-storage-"));
    try {
      if (layout === "older") {
        mkdirSync(dir, { recursive: true });
        const db = openRaw(dir);
        db.exec(
          "CREATE TABLE applied_ids (channel_id INTEGER NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (channel_id, id)) WITHOUT ROWID;" +
            "CREATE INDEX applied_ids_ts ON applied_ids (ts);" +
            "INSERT INTO applied_ids VALUES (1, 'before-upgrade', 20), (2, 'other', 20);",
        );
        db.close();
      }
      const storage = new SqliteStorage(dir);
      const a = storage.createChannel("dev", "a", 1);
      const b = storage.createChannel("dev", "b", 1);
      if (layout === "older") {
        // The rows of the old table survive the rebuild, on the channels they were claimed for.
        expect(storage.claimWriteId(a, "before-upgrade", 21)).toBe(false);
        expect(storage.claimWriteId(b, "other", 21)).toBe(false);
        expect(storage.claimWriteId(b, "before-upgrade", 21)).toBe(true);
        storage.releaseWriteId(b, "before-upgrade");
      }
      expect(storage.claimWriteId(a, "m1", 10)).toBe(true);
      expect(storage.claimWriteId(a, "m1", 11)).toBe(false);
      expect(storage.claimWriteId(b, "m1", 12)).toBe(true);
      storage.releaseWriteId(a, "m1");
      expect(storage.claimWriteId(a, "m1", 13)).toBe(true);
      await storage.commit();
      storage.expireMessages(13);
      await storage.commit();
      expect(storage.claimWriteId(b, "m1", 14)).toBe(true); // expired with ts 12
      expect(storage.claimWriteId(a, "m1", 14)).toBe(false); // kept (ts 13)
      await storage.commit();
      await storage.close();
      // An expired claim the sweep has not reached yet (put there behind the hub's back) counts
      // as absent: the expiry cutoff outlives a restart.
      const before = openRaw(dir);
      before.exec(`INSERT INTO applied_ids VALUES (${a}, 'unswept', 12)`);
      before.close();
      const again = new SqliteStorage(dir);
      expect(again.claimWriteId(a, "m1", 15)).toBe(false);
      expect(again.claimWriteId(a, "unswept", 15)).toBe(true);
      expect(again.claimWriteId(a, "unswept", 16)).toBe(false);
      await again.commit();
      // The next expiry's sweep deletes what expired (only that: the m1 claims, ts 13 and 14).
      again.expireMessages(14.5);
      await again.commit();
      await again.close();
      const raw = openRaw(dir);
      const key = raw.prepare("PRAGMA table_info(applied_ids)").all() as { name: string; pk: number }[];
      const indexes = raw.prepare("PRAGMA index_list(applied_ids)").all() as { name: string }[];
      const left = raw.prepare("SELECT channel_id, id, ts FROM applied_ids ORDER BY id, channel_id").all();
      raw.close();
      expect(left).toEqual([
        ...(layout === "older"
          ? [
              { channel_id: a, id: "before-upgrade", ts: 20 },
              { channel_id: b, id: "other", ts: 20 },
            ]
          : []),
        { channel_id: a, id: "unswept", ts: 15 },
      ]);
      expect(
        key
          .filter((c) => c.pk > 0)
          .sort((x, y) => x.pk - y.pk)
          .map((c) => c.name),
      ).toEqual(["id", "channel_id"]);
      // No index on ts (a database that had one loses it): expiry sweeps the key order.
      expect(indexes.map((i) => i.name)).not.toContain("applied_ids_ts");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("sqlite: trimming keeps the newest in (ts, seq) order, ties included, and touches no other channel", async () => {
  const location = sqliteLocation("normal");
  try {
    const storage = (await location.open()) as SqliteStorage;
    await storage.open({ restore() {}, apply: () => ({ version: 0, diff: new Uint8Array([0x80]), message: undefined }) });
    const a = storage.createChannel("dev", "a", 1);
    const b = storage.createChannel("dev", "b", 1);
    // Timestamps repeat (several messages per millisecond) and the channels interleave, so the
    // cut falls inside a run of equal ts and must be decided by insertion order.
    for (let i = 0; i < 40; i++) {
      storage.appendMessage(a, `a${i}`, 1000 + Math.floor(i / 4), new Uint8Array([i]));
      storage.appendMessage(b, `b${i}`, 1000 + Math.floor(i / 4), new Uint8Array([i]));
    }
    // One message whose clock went back: older by ts though inserted last, so it goes first.
    storage.appendMessage(a, "late", 999, new Uint8Array([99]));
    // From the oldest end (count given, 41 - 30 < 30), then from the newest (no count).
    expect(storage.trimMessages(a, 30, 41)).toBe(11);
    expect(storage.messages(a, Infinity, 0, 100).map((m) => m.id)).toEqual(Array.from({ length: 30 }, (_, i) => `a${10 + i}`));
    expect(storage.trimMessages(a, 10)).toBe(20);
    expect(storage.trimMessages(a, 10)).toBe(0);
    expect(storage.messages(a, Infinity, 0, 100).map((m) => m.id)).toEqual(Array.from({ length: 10 }, (_, i) => `a${30 + i}`));
    expect(storage.messages(b, Infinity, 0, 100)).toHaveLength(40);
    // Given the count, the cut is found from the oldest end (40 - 34 < 34): the same cut.
    expect(storage.trimMessages(b, 34, 40)).toBe(6);
    expect(storage.messages(b, Infinity, 0, 100).map((m) => m.id)).toEqual(Array.from({ length: 34 }, (_, i) => `b${6 + i}`));
    expect(storage.trimMessages(b, 34, 34)).toBe(0);
    expect(storage.trimMessages(b, 7, 34)).toBe(27);
    expect(storage.messages(b, Infinity, 0, 100).map((m) => m.id)).toEqual(Array.from({ length: 7 }, (_, i) => `b${33 + i}`));
    // Expiry goes channel by channel and reports each channel's count.
    expect(storage.expireMessages(1009)).toEqual(
      new Map([
        [a, 6],
        [b, 3],
      ]),
    );
    await storage.commit();
    await storage.close();
  } finally {
    await location.destroy();
  }
});
