// The offline outbox: exact folding of superseded diffs (seeded random states against the SDK's
// reference merge), order, the `attempted` freeze, and durability of the SQLite store across a
// reopen and across a real process killed with SIGKILL right after `add` returned.
import { afterAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { buildForChild, removeChildBuilds } from "./fixtures/client-build.js";
import { tempDir } from "./hub-helpers.js";
import { mulberry32, testSeed } from "./support/seed.js";
import { MemoryOutbox, composeWrites, type Outbox, type OutboxWrite } from "../bindings/client/outbox.js";
import { SqliteOutbox, openSqliteOutbox, outboxPath } from "../bindings/client/outbox-sqlite.js";
import { applyDiff, deepEqual } from "../bindings/sdk/json.js";
import type { Json } from "../bindings/sdk/session.js";

const SEED = testSeed("client.outbox");

const dirs: Array<ReturnType<typeof tempDir>> = [];
/** A fresh directory, removed after this file's tests. */
function freshDir(): string {
  const d = tempDir("tw-outbox-");
  dirs.push(d);
  return d.dir;
}
afterAll(() => {
  removeChildBuilds();
  for (const d of dirs) d.remove();
});

function randomValue(next: () => number, depth: number, allowNull: boolean): Json {
  const r = next();
  if (r < 0.15 && allowNull) return null;
  if (r < 0.35) return Math.floor(next() * 5);
  if (r < 0.45) return ["s", "t"][Math.floor(next() * 2)]!;
  if (r < 0.55) return [Math.floor(next() * 3)];
  if (depth >= 3) return true;
  return randomObject(next, depth + 1, allowNull);
}

function randomObject(next: () => number, depth: number, allowNull: boolean): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  const n = Math.floor(next() * 4);
  for (let i = 0; i < n; i++) out[["a", "b", "c"][Math.floor(next() * 3)]!] = randomValue(next, depth, allowNull);
  return out;
}

function write(data: Json, extra: Partial<OutboxWrite> = {}): OutboxWrite {
  return { kind: "publish", id: `w${Math.random().toString(36).slice(2)}`, agentId: "pump-1", channel: "state", data, ...extra };
}

describe("composeWrites", () => {
  it("folds two writes only when the result equals applying both, on random states", () => {
    const next = mulberry32(SEED);
    let composed = 0;
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const state = randomObject(next, 0, false);
      const replaceFirst = next() < 0.2;
      const replaceSecond = next() < 0.1;
      const d1 = randomObject(next, 0, !replaceFirst);
      const d2 = randomObject(next, 0, !replaceSecond);
      const w1 = write(d1, replaceFirst ? { replace: true } : {});
      const w2 = write(d2, replaceSecond ? { replace: true } : {});
      const step1 = replaceFirst ? d1 : applyDiff(state, d1);
      const expected = replaceSecond ? d2 : applyDiff(step1, d2);
      const c = composeWrites(w1, w2);
      if (!c) {
        refused++;
        continue;
      }
      composed++;
      const got = c.replace ? c.data : applyDiff(state, c.data);
      expect(
        deepEqual(got, expected),
        `seed ${SEED} case ${i}: ${JSON.stringify({ state, d1, d2, w1r: replaceFirst, w2r: replaceSecond, c })}`,
      ).toBe(true);
    }
    // Both outcomes must really occur, or the test proves nothing.
    expect(composed).toBeGreaterThan(2500);
    expect(refused).toBeGreaterThan(100);
  });

  it("refuses the case merge patches cannot express, and never folds logged writes or messages", () => {
    expect(composeWrites(write({ a: 5 }), write({ a: { x: 1 } }))).toBeUndefined();
    expect(composeWrites(write({ a: null }), write({ a: { x: 1 } }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }), write({ a: 2 }, { log: true }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }, { log: true }), write({ a: 2 }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }, { kind: "message" }), write({ a: 2 }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }), write({ a: 2 }, { channel: "other" }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }), write({ b: 2 }, { replaceKeys: ["b"] }))).toBeUndefined();
    expect(composeWrites(write({ a: { x: 1 } }), write({ a: { y: 2 }, b: null }))).toEqual({
      data: { a: { x: 1, y: 2 }, b: null },
      replace: false,
    });
    // A nested null deletes or is stored verbatim depending on what the hub holds: not folded.
    expect(composeWrites(write({ a: { x: 1 } }), write({ a: { y: null } }))).toBeUndefined();
    expect(composeWrites(write({ a: 1 }), write({ z: 1 }, { replace: true }))).toEqual({ data: { z: 1 }, replace: true });
  });
});

function outboxContract(name: string, make: () => Outbox) {
  describe(`${name} outbox`, () => {
    it("keeps writes in order and folds superseded diffs of a channel", () => {
      const box = make();
      box.add(write({ t: 1 }, { id: "a" }));
      box.add(write({ msg: 1 }, { id: "m1", kind: "message", channel: "log" }));
      box.add(write({ u: 2 }, { id: "b" })); // folds into "a": same channel, newest for it
      box.add(write({ t: 3 }, { id: "c", log: true })); // a history point: its own entry
      box.add(write({ t: 4 }, { id: "d" })); // newest for "state" is logged: cannot fold
      box.add(write({ v: { x: 1 } }, { id: "e" })); // folds into "d"
      const list = box.peek();
      expect(list.map((e) => e.id)).toEqual(["a", "m1", "c", "d"]);
      expect(list[0]!.data).toEqual({ t: 1, u: 2 });
      expect(list[3]!.data).toEqual({ t: 4, v: { x: 1 } });
      expect(box.size).toBe(4);
      const seqs = list.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      box.close();
    });

    it("never changes an attempted entry; removes acknowledged ones", () => {
      const box = make();
      const a = box.add(write({ t: 1 }, { id: "a" }));
      box.markAttempted([a.seq]);
      const b = box.add(write({ t: 2 }, { id: "b" }));
      expect(b.seq).not.toBe(a.seq);
      const c = box.add(write({ u: 3 }, { id: "c" }));
      expect(c.seq).toBe(b.seq); // folded into b, which was not attempted
      let list = box.peek();
      expect(list.map((e) => [e.id, e.attempted])).toEqual([
        ["a", true],
        ["b", false],
      ]);
      expect(list[0]!.data).toEqual({ t: 1 });
      box.remove([a.seq]);
      list = box.peek();
      expect(list.map((e) => e.id)).toEqual(["b"]);
      expect(list[0]!.data).toEqual({ t: 2, u: 3 });
      // After the newest entry of a channel is removed, a new write starts a fresh entry.
      box.remove([b.seq]);
      const d = box.add(write({ t: 9 }, { id: "d" }));
      expect(box.peek().map((e) => e.id)).toEqual(["d"]);
      expect(d.seq).toBeGreaterThan(b.seq);
      expect(box.peek(0)).toEqual([]);
      box.close();
    });
  });
}

outboxContract("memory", () => new MemoryOutbox());
outboxContract("sqlite", () => openSqliteOutbox(freshDir(), "pump-1"));

describe("sqlite outbox durability", () => {
  it("keeps entries, flags and order across a reopen", () => {
    const dir = freshDir();
    let box = openSqliteOutbox(dir, "pump-1");
    box.add(write({ t: 1 }, { id: "a" }));
    const m = box.add(write({ text: "hi" }, { id: "m", kind: "message", channel: "log" }));
    box.add(write({ z: [1, 2] }, { id: "r", replace: true, channel: "cfg" }));
    box.add(write({ k: { s: "x" } }, { id: "k", replaceKeys: ["k"], channel: "cfg2" }));
    box.markAttempted([m.seq]);
    box.close();
    box = openSqliteOutbox(dir, "pump-1");
    const list = box.peek();
    expect(list.map((e) => e.id)).toEqual(["a", "m", "r", "k"]);
    expect(list[1]).toMatchObject({ kind: "message", attempted: true, data: { text: "hi" }, channel: "log" });
    expect(list[2]).toMatchObject({ replace: true, data: { z: [1, 2] } });
    expect(list[3]!.replaceKeys).toEqual(["k"]);
    // Folding still works on the reopened file: "a" is the newest of its channel.
    box.add(write({ u: 2 }, { id: "b" }));
    expect(box.peek()[0]!.data).toEqual({ t: 1, u: 2 });
    expect(box.size).toBe(4);
    box.close();
  });

  it("survives SIGKILL of the writing process right after add returned", async () => {
    const dir = freshDir();
    const helper = await buildForChild("test/fixtures/client-outbox-writer.ts");
    const child = spawn(process.execPath, [helper, dir], { stdio: ["ignore", "pipe", "inherit"] });
    // The child prints "added N" after each committed add; kill it hard after the 50th.
    const added = await new Promise<number>((resolve, reject) => {
      let buf = "";
      let last = 0;
      child.stdout!.on("data", (chunk: Buffer) => {
        buf += chunk.toString();
        const m = buf.match(/added (\d+)\n/g);
        if (m) last = Number(m[m.length - 1]!.slice(6, -1));
        if (last >= 50) {
          child.kill("SIGKILL");
          resolve(last);
        }
      });
      child.on("exit", (code, signal) => {
        if (signal !== "SIGKILL") reject(new Error(`writer exited early (${code})`));
      });
    });
    await new Promise((r) => child.once("exit", r));
    const box = new SqliteOutbox(outboxPath(dir, "pump-1"));
    const list = box.peek();
    // Every add the child reported is there, in order (it may have managed a few more).
    expect(list.length).toBeGreaterThanOrEqual(added);
    list.forEach((e, i) => {
      expect(e.id).toBe(`m${i + 1}`);
    });
    box.close();
  });
});
