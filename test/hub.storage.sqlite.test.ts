// The Storage contract (test/support/storage-contract.ts) on the single-hub SQLite storage, once
// per durability mode, plus what only SQLite promises: one transaction per tick, and a rollback
// dropping exactly what was not committed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { SqliteStorage, type SyncMode } from "../hub/storage/sqlite.js";
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
    storage.commit();
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
