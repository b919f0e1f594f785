// The hub's tick (hub/tick.ts) on its own, over real SQLite and a real core store: group commit
// first, then each outlet written once; a failed commit writes nothing and stops the hub.
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { createCore } from "../bindings/core/index.js";
import type { ChannelStore } from "../bindings/core/store.js";
import { Channel } from "../hub/channel.js";
import type { Outlet } from "../hub/outlets.js";
import { DB_FILE, SqliteStorage } from "../hub/storage/sqlite.js";
import { Tick } from "../hub/tick.js";
import { doc, tempDir } from "./hub-helpers.js";

const Database = createRequire(import.meta.url)("better-sqlite3");
const nextTurn = () => new Promise((r) => setImmediate(r));

let dir: ReturnType<typeof tempDir>;
let storage: SqliteStorage;
let store: ChannelStore;
let tick: Tick;
let ch: Channel;

beforeEach(async () => {
  dir = tempDir("tw-tick-");
  storage = new SqliteStorage(dir.dir, { synchronous: "normal" });
  await storage.open({ restore() {}, apply: () => expect.unreachable() });
  store = (await createCore()).createChannelStore({ maxPayloadBytes: 1 << 20, maxDepth: 64 });
  const slot = store.open("dev/state");
  ch = new Channel(storage.createChannel("dev", "state", Date.now()), "dev", "state", slot, 0, 0, 0);
  storage.commit();
  tick = new Tick(storage, store);
});
afterEach(async () => {
  await storage.close();
  dir.remove();
});

/** What a reader outside the hub sees in the database file right now. */
function committedVersion(): number | undefined {
  const db = new Database(join(dir.dir, DB_FILE), { readonly: true });
  try {
    return db.prepare("SELECT version FROM channels WHERE agent = 'dev' AND name = 'state'").get()?.version;
  } finally {
    db.close();
  }
}

/** An outlet that records, at each flush, its frames and what was committed at that moment. */
function recordingOutlet(id: number): Outlet & { writes: { frames: Uint8Array[]; version: number | undefined }[] } {
  let queue: Uint8Array[] = [];
  const writes: { frames: Uint8Array[]; version: number | undefined }[] = [];
  return {
    id,
    writes,
    enqueue(frame) {
      if (queue.length === 0) tick.markPending(this);
      queue.push(frame);
    },
    flush() {
      writes.push({ frames: queue, version: committedVersion() });
      queue = [];
    },
  };
}

test("frames queued in a tick leave after its one commit, each outlet written once", async () => {
  const a = recordingOutlet(1);
  const b = recordingOutlet(2);
  store.apply(ch.slot, doc({ x: 1 }), { doDelete: true });
  tick.changed(ch);
  a.enqueue(new Uint8Array([1]));
  b.enqueue(new Uint8Array([1]));
  store.apply(ch.slot, doc({ x: 2 }), { doDelete: true });
  tick.changed(ch);
  a.enqueue(new Uint8Array([2]));
  let committed: Error | undefined | "not yet" = "not yet";
  tick.whenCommitted((e) => (committed = e));
  // nothing leaves inside the turn that made the writes
  expect(a.writes).toEqual([]);
  expect(committedVersion()).toBe(0);
  await nextTurn();
  expect(committed).toBeUndefined();
  expect(a.writes.map((w) => [w.frames.length, w.version])).toEqual([[2, 2]]);
  expect(b.writes.map((w) => [w.frames.length, w.version])).toEqual([[1, 2]]);
  expect(storage.hasUncommitted).toBe(false);
  // a turn with nothing queued writes nothing
  await nextTurn();
  expect(a.writes.length + b.writes.length).toBe(2);
});

test("one broadcast is joined once per flush: outlets holding the same frames share the bytes", () => {
  const f1 = new Uint8Array([0x91]);
  const f2 = new Uint8Array([0x92]);
  const first = tick.batches.join([f1, f2]);
  expect(tick.batches.join([f1, f2])).toBe(first);
  expect(tick.batches.join([f1])).not.toBe(first);
  tick.batches.reset();
  expect(tick.batches.join([f1])).not.toBe(first);
});

test("a commit that fails writes no outlet, answers commit callbacks with the error and stops the hub", async () => {
  const db = new Database(join(dir.dir, DB_FILE));
  db.exec("CREATE TRIGGER inject BEFORE UPDATE ON channels BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  db.close();
  const a = recordingOutlet(1);
  const fatal: Error[] = [];
  tick.onFatal = (e) => fatal.push(e);
  store.apply(ch.slot, doc({ x: 1 }), { doDelete: true });
  tick.changed(ch);
  a.enqueue(new Uint8Array([1]));
  let committed: Error | undefined;
  tick.whenCommitted((e) => (committed = e));
  await nextTurn();
  expect(a.writes).toEqual([]);
  expect(committed?.message).toMatch(/injected failure/);
  expect(fatal.map((e) => e.message)).toEqual([expect.stringMatching(/injected failure/)]);
  expect(() => tick.failIfDown()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
  expect(committedVersion()).toBe(0);
});
