// The hub's tick (hub/tick.ts) on its own, over real SQLite and a real core store: group commit
// first, then each outlet written once; a failed commit writes nothing and stops the hub. With
// the fsync off the event loop (the default durability), a test-held fsync shows what waits for
// what.
import { fstatSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
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

/** An outlet that records, at each release, its frames and what was committed at that moment. */
function recordingOutlet(id: number): Outlet & { writes: { frames: Uint8Array[]; version: number | undefined }[] } {
  let queue: Uint8Array[] = [];
  const sealed: Uint8Array[][] = [];
  const writes: { frames: Uint8Array[]; version: number | undefined }[] = [];
  return {
    id,
    writes,
    enqueue(frame) {
      if (queue.length === 0) tick.markPending(this);
      queue.push(frame);
    },
    seal() {
      if (!queue.length) return false;
      sealed.push(queue);
      queue = [];
      return true;
    },
    release() {
      writes.push({ frames: sealed.shift()!, version: committedVersion() });
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

// --- Pipelined group commit: durability "fsync" with the WAL's fsync held by the test.

/** A syncFile that parks every fsync until the test resolves or rejects it. */
function syncGate() {
  const calls: { fd: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    sync: (fd: number) => new Promise<void>((resolve, reject) => calls.push({ fd, resolve, reject })),
  };
}

/** Reopens the test's database with the fsync always on the thread pool, the gate as that fsync. */
async function pipelined(gate: ReturnType<typeof syncGate>): Promise<void> {
  await storage.close();
  storage = new SqliteStorage(dir.dir, { durability: "fsync", syncFile: gate.sync });
  await storage.open({ restore() {}, apply: () => expect.unreachable() });
  tick = new Tick(storage, store);
}

/** Lets the event loop run a few turns and a little time (the thread pool included). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
  await new Promise((r) => setTimeout(r, 20));
}

function write(x: number): void {
  store.apply(ch.slot, doc({ x }), { doDelete: true });
  tick.changed(ch);
}

test("fsync off the event loop: frames and callbacks wait for their commit's fsync; what is applied meanwhile is committed after it, as one group, in order", async () => {
  const gate = syncGate();
  await pipelined(gate);
  const a = recordingOutlet(1);
  const b = recordingOutlet(2);
  const done: string[] = [];
  write(1);
  a.enqueue(new Uint8Array([1]));
  tick.whenCommitted((e) => done.push(`1:${e ?? "ok"}`));
  await settle();
  // committed (a reader sees it) and its fsync asked for, on an fd of the -wal file; nothing out
  expect(committedVersion()).toBe(1);
  expect(gate.calls.length).toBe(1);
  expect(fstatSync(gate.calls[0]!.fd).ino).toBe(statSync(join(dir.dir, `${DB_FILE}-wal`)).ino);
  expect(a.writes).toEqual([]);
  expect(done).toEqual([]);

  // the event loop keeps applying while the fsync is in flight; the next commit waits for it
  write(2);
  a.enqueue(new Uint8Array([2]));
  b.enqueue(new Uint8Array([2]));
  tick.whenCommitted((e) => done.push(`2:${e ?? "ok"}`));
  await settle();
  write(3);
  b.enqueue(new Uint8Array([3]));
  await settle();
  // a tick with nothing to commit waits behind the ones before it as well
  a.enqueue(new Uint8Array([4]));
  tick.whenCommitted((e) => done.push(`4:${e ?? "ok"}`));
  await settle();
  expect(ch.version).toBe(3);
  expect(committedVersion()).toBe(1);
  expect(gate.calls.length).toBe(1); // at most one fsync in flight
  expect(a.writes.length + b.writes.length).toBe(0);
  expect(done).toEqual([]);

  gate.calls[0]!.resolve();
  await vi.waitFor(() => expect(done).toEqual(["1:ok"]));
  expect(a.writes.map((w) => [...w.frames.map((f) => f[0])])).toEqual([[1]]);
  // then one commit of everything applied meanwhile, and its fsync
  await vi.waitFor(() => expect(gate.calls.length).toBe(2));
  expect(committedVersion()).toBe(3);
  expect(storage.hasUncommitted).toBe(false);
  await settle();
  expect(b.writes).toEqual([]);
  expect(done).toEqual(["1:ok"]);

  gate.calls[1]!.resolve();
  await vi.waitFor(() => expect(done).toEqual(["1:ok", "2:ok", "4:ok"]));
  // one write per outlet for the whole second group
  expect(a.writes.map((w) => [...w.frames.map((f) => f[0])])).toEqual([[1], [2, 4]]);
  expect(b.writes.map((w) => [...w.frames.map((f) => f[0])])).toEqual([[2, 3]]);
  await settle();
  expect(gate.calls.length).toBe(2);
});

test("a failed fsync is fail-stop: no frame of that group or a later one leaves, callbacks get a typed error", async () => {
  const gate = syncGate();
  await pipelined(gate);
  const a = recordingOutlet(1);
  const fatal: Error[] = [];
  tick.onFatal = (e) => fatal.push(e);
  const answers: (Error | undefined | "not yet")[] = ["not yet", "not yet"];
  write(1);
  a.enqueue(new Uint8Array([1]));
  tick.whenCommitted((e) => (answers[0] = e));
  await settle();
  write(2);
  a.enqueue(new Uint8Array([2]));
  tick.whenCommitted((e) => (answers[1] = e));
  await settle();
  expect(gate.calls.length).toBe(1);
  gate.calls[0]!.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }));
  await vi.waitFor(() => expect(fatal.length).toBe(1));
  expect(fatal[0]).toMatchObject({ code: "TAGWIRE_ERR_CLOSED", message: expect.stringMatching(/fsync .* failed: EIO/) });
  expect(answers).toEqual([fatal[0], fatal[0]]);
  expect(a.writes).toEqual([]);
  expect(() => tick.failIfDown()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
  // the storage refuses to commit past a failed fsync
  expect(() => storage.commit()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
  await settle();
  expect(gate.calls.length).toBe(1);
});

test("close waits for the fsync in flight and releases its group before resolving", async () => {
  const gate = syncGate();
  await pipelined(gate);
  const a = recordingOutlet(1);
  write(1);
  a.enqueue(new Uint8Array([1]));
  await settle();
  write(2);
  a.enqueue(new Uint8Array([2]));
  let closed = false;
  const closing = tick.close().then(() => (closed = true));
  await settle();
  // tick 2 is committed once tick 1's fsync is done; nothing leaves before its own fsync
  expect(committedVersion()).toBe(1);
  expect(closed).toBe(false);
  expect(a.writes).toEqual([]);
  expect(() => tick.failIfDown()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
  gate.calls[0]!.resolve();
  await vi.waitFor(() => expect(gate.calls.length).toBe(2));
  expect(committedVersion()).toBe(2);
  await settle();
  expect(closed).toBe(false);
  expect(a.writes.length).toBe(1);
  gate.calls[1]!.resolve();
  await closing;
  expect(a.writes.map((w) => [...w.frames.map((f) => f[0])])).toEqual([[1], [2]]);
});

test("the storage takes no commit while its fsync is in flight: the tick gathers the next one behind it", async () => {
  const gate = syncGate();
  await pipelined(gate);
  storage.saveAggregate(ch.id, 1, doc({ x: 1 }), Date.now());
  const first = storage.commit();
  expect(first).toBeInstanceOf(Promise);
  storage.saveAggregate(ch.id, 2, doc({ x: 2 }), Date.now());
  expect(() => storage.commit()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_INTERNAL" }));
  // nothing was lost by the refusal: the transaction stays open and the next commit takes it
  expect(storage.hasUncommitted).toBe(true);
  expect(gate.calls.length).toBe(1);
  gate.calls[0]!.resolve();
  await first;
  const second = storage.commit();
  expect(gate.calls.length).toBe(2);
  gate.calls[1]!.resolve();
  await second;
  expect(committedVersion()).toBe(2);
});

test("a recreated -wal file is fsync'd through a new fd on its new inode", async () => {
  const gate = syncGate();
  await pipelined(gate);
  const wal = join(dir.dir, `${DB_FILE}-wal`);
  write(1);
  await settle();
  expect(fstatSync(gate.calls[0]!.fd).ino).toBe(statSync(wal).ino);
  gate.calls[0]!.resolve();
  await settle();
  // Leaving WAL mode deletes the -wal file; entering it again creates a new one.
  const db = (storage as unknown as { db: { pragma(s: string): unknown } }).db;
  const oldIno = statSync(wal).ino;
  const oldFd = gate.calls[0]!.fd;
  db.pragma("journal_mode = DELETE");
  db.pragma("journal_mode = WAL");
  write(2);
  await settle();
  expect(gate.calls.length).toBe(2);
  const ino = statSync(wal).ino;
  expect(fstatSync(gate.calls[1]!.fd).ino).toBe(ino);
  expect(gate.calls[1]!.fd === oldFd && ino === oldIno).toBe(false);
  gate.calls[1]!.resolve();
  await settle();
  expect(committedVersion()).toBe(2);
});

test("durability auto: fsync on the event loop while fast, on the thread pool once slow, back after a fast probe", async () => {
  const gate = syncGate();
  let inlineMs = 0;
  const inline: number[] = [];
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  await storage.close();
  storage = new SqliteStorage(dir.dir, {
    syncFile: gate.sync,
    syncFileSync: (fd) => {
      inline.push(fd);
      if (inlineMs) Atomics.wait(sleeper, 0, 0, inlineMs);
    },
  });
  await storage.open({ restore() {}, apply: () => expect.unreachable() });
  const commitOne = (n: number) => {
    storage.saveAggregate(ch.id, n, doc({ n }), Date.now());
    return storage.commit();
  };
  // fast disk: durable on return, on the -wal file, no pool
  expect(commitOne(1)).toBeUndefined();
  expect(commitOne(2)).toBeUndefined();
  expect(inline.length).toBe(2);
  expect(fstatSync(inline[0]!).ino).toBe(statSync(join(dir.dir, `${DB_FILE}-wal`)).ino);
  expect(gate.calls.length).toBe(0);
  // a slow sync (30 ms: the average, moving 1/10 per sync, passes the 2 ms limit) moves the next
  // commit to the pool
  inlineMs = 30;
  expect(commitOne(3)).toBeUndefined();
  const pooled = commitOne(4);
  expect(pooled).toBeInstanceOf(Promise);
  expect(inline.length).toBe(3);
  expect(gate.calls.length).toBe(1);
  gate.calls[0]!.resolve();
  await pooled;
  // pooled until the probe: 62 more, then one timed inline sync, fast again
  inlineMs = 0;
  for (let i = 0; i < 62; i++) {
    const p = commitOne(5 + i);
    expect(p).toBeInstanceOf(Promise);
    gate.calls.at(-1)!.resolve();
    await p;
  }
  expect(inline.length).toBe(3);
  expect(commitOne(100)).toBeUndefined(); // the probe
  expect(inline.length).toBe(4);
  expect(commitOne(101)).toBeUndefined();
  expect(inline.length).toBe(5);
  expect(gate.calls.length).toBe(63);
});

test("durability auto: a failed inline fsync is fail-stop with a typed error", async () => {
  await storage.close();
  storage = new SqliteStorage(dir.dir, {
    syncFileSync: () => {
      throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    },
  });
  await storage.open({ restore() {}, apply: () => expect.unreachable() });
  tick = new Tick(storage, store);
  const fatal: Error[] = [];
  tick.onFatal = (e) => fatal.push(e);
  const a = recordingOutlet(1);
  write(1);
  a.enqueue(new Uint8Array([1]));
  let answer: Error | undefined | "not yet" = "not yet";
  tick.whenCommitted((e) => (answer = e));
  await nextTurn();
  expect(fatal[0]).toMatchObject({ code: "TAGWIRE_ERR_CLOSED", message: expect.stringMatching(/fsync .* failed: EIO/) });
  expect(answer).toBe(fatal[0]);
  expect(a.writes).toEqual([]);
  expect(() => storage.commit()).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_CLOSED" }));
});

test("durability inline: SQLite fsyncs inside COMMIT, the group is released in the same turn", async () => {
  const gate = syncGate();
  await storage.close();
  storage = new SqliteStorage(dir.dir, { durability: "inline", syncFile: gate.sync });
  await storage.open({ restore() {}, apply: () => expect.unreachable() });
  tick = new Tick(storage, store);
  const a = recordingOutlet(1);
  write(1);
  a.enqueue(new Uint8Array([1]));
  await nextTurn();
  expect(a.writes.map((w) => [w.frames.length, w.version])).toEqual([[1, 1]]);
  expect(gate.calls.length).toBe(0);
});
