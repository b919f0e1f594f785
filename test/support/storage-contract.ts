// The contract every implementation of the hub's Storage interface (hub/storage/storage.ts) must
// meet, as a suite that takes a factory: test/hub.storage.sqlite.test.ts runs it on SQLite, and a
// JetStream implementation runs the same function with its own factory. Everything goes through
// a real HubState over a real core (the storage's sink is the hub itself), so what is checked is
// what a hub relies on: order, exactly-once apply, `done` after apply, durability across a
// restart, message-id idempotency, refused writes leaving nothing behind, history reads,
// retention.
import { describe, expect, test } from "vitest";
import { Packr } from "msgpackr";
import { createCore } from "../../bindings/core/index.js";
import { DEFAULT_LIMITS } from "../../hub/limits.js";
import { DEFAULT_RETENTION, HubState, type RetentionOptions } from "../../hub/state.js";
import type { Storage, Write, WriteOutcome } from "../../hub/storage/storage.js";

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const enc = (v: unknown): Uint8Array => packr.pack(v);
const dec = (b: Uint8Array): any => packr.unpack(b);

/** One storage location (a data dir, a stream) that hubs open, close and open again. */
export interface StorageLocation {
  /** A Storage over this location; called again after the previous one was closed (a restart). */
  open(): Promise<Storage> | Storage;
  /** Deletes the location and what it holds. */
  destroy(): Promise<void>;
}

export interface StorageFactory {
  /** A fresh, empty location. */
  create(): Promise<StorageLocation>;
  /** Several hubs may have the location open at once and must agree (cluster mode). */
  sharedLog: boolean;
  /** `expireMessages` deletes at once (false: the log's own age limit does, later). */
  expiresOnCall: boolean;
}

interface OpenHub {
  state: HubState;
  storage: Storage;
  close(): Promise<void>;
}

async function openHub(location: StorageLocation, retention: Partial<RetentionOptions> = {}): Promise<OpenHub> {
  const core = await createCore({ maxPayloadBytes: DEFAULT_LIMITS.maxPayloadBytes, maxDepth: DEFAULT_LIMITS.maxDepth });
  const storage = await location.open();
  const state = await HubState.open(core, storage, DEFAULT_LIMITS, { ...DEFAULT_RETENTION, ...retention });
  return {
    state,
    storage,
    async close() {
      state.close();
      await storage.close();
    },
  };
}

/** Waits until every write queued so far was applied and committed (a tick has run). */
function settled(state: HubState): Promise<void> {
  return new Promise((resolve, reject) => state.whenCommitted((e) => (e ? reject(e) : resolve())));
}

export function describeStorageContract(name: string, factory: StorageFactory): void {
  describe(`Storage contract: ${name}`, () => {
    async function withLocation(fn: (location: StorageLocation) => Promise<void>): Promise<void> {
      const location = await factory.create();
      try {
        await fn(location);
      } finally {
        await location.destroy();
      }
    }

    test("a new location restores no channel; kind and ordering are declared", () =>
      withLocation(async (location) => {
        const hub = await openHub(location);
        expect(hub.state.channelCount).toBe(0);
        expect(hub.storage.kind.length).toBeGreaterThan(0);
        expect(["local", "log"]).toContain(hub.storage.ordering);
        await hub.close();
      }));

    test("every write is applied once, in submission order, and `done` follows its own apply", () =>
      withLocation(async (location) => {
        const hub = await openHub(location);
        const applied: Write[] = [];
        const apply = hub.state.apply.bind(hub.state);
        // The storage calls its sink's `apply` for every write: record what it hands over.
        hub.state.apply = (w: Write) => {
          const out = apply(w);
          applied.push(w);
          return out;
        };
        const N = 40;
        const dones: { i: number; out: WriteOutcome; appliedBefore: number }[] = [];
        const all: Promise<void>[] = [];
        for (let i = 0; i < N; i++) {
          let resolveDone!: () => void;
          all.push(new Promise<void>((r) => (resolveDone = r)));
          let ranInside = false;
          const done = (out: WriteOutcome | undefined, err: Error | undefined) => {
            expect(err).toBeUndefined();
            ranInside = true;
            dones.push({ i, out: out!, appliedBefore: applied.length });
            resolveDone();
          };
          if (i % 4 === 3) hub.state.createMessage("dev", "log", enc({ i }), `m${i}`, done, "dev");
          else hub.state.publish("dev", "state", enc({ i, [`k${i % 3}`]: i }), {}, done, "dev");
          // With local ordering `done` runs inside the call; a log runs it later.
          if (hub.storage.ordering === "local") expect(ranInside).toBe(true);
        }
        await Promise.all(all);
        await settled(hub.state);
        expect(applied.map((w) => (w.kind === "publish" ? dec(w.diff).i : dec(w.data).i))).toEqual([...Array(N).keys()]);
        expect(dones.map((d) => d.i)).toEqual([...Array(N).keys()]);
        let version = 0;
        for (const d of dones) {
          // done for write i came after write i was applied here
          expect(d.appliedBefore).toBeGreaterThanOrEqual(d.i + 1);
          if (d.i % 4 === 3) expect(d.out.message!.id).toBe(`m${d.i}`);
          else expect(d.out.version).toBe(++version);
        }
        expect(hub.state.aggregate("dev", "state").version).toBe(version);
        await hub.close();
      }));

    test("aggregates, versions, messages and counts survive a restart; versions continue", () =>
      withLocation(async (location) => {
        let hub = await openHub(location);
        const s = hub.state;
        await s.publishDurably("dev", "state", enc({ a: 1, nested: { x: 1 } }), {});
        await s.publishDurably("dev", "state", enc({ b: 2, nested: { y: 2 } }), {});
        await s.publishDurably("dev", "state", enc({ a: 1 }), {}); // no effective change
        await s.publishDurably("dev", "cfg", enc({ mode: "auto", keep: 1 }), { replace: true });
        await s.publishDurably("dev", "cfg", enc({ mode: "manual" }), { replaceKeys: ["mode"] });
        const logged = await s.publishDurably("dev", "events", enc({ e: 1 }), { log: true });
        const m2 = await s.createMessageDurably("dev", "events", enc({ e: 2 }));
        const onlyMessages = await s.createMessageDurably("other", "notes", enc({ text: "hi" }), "n1");
        expect(logged.message).toBeDefined();
        await hub.close();

        hub = await openHub(location);
        const r = hub.state;
        expect(r.channelCount).toBe(4);
        expect(r.aggregate("dev", "state").version).toBe(2);
        expect(dec(r.aggregate("dev", "state").aggregate)).toEqual({ a: 1, b: 2, nested: { x: 1, y: 2 } });
        expect(r.aggregate("dev", "cfg").version).toBe(2);
        expect(dec(r.aggregate("dev", "cfg").aggregate)).toEqual({ mode: "manual", keep: 1 });
        expect(r.aggregate("other", "notes").version).toBe(0);
        expect(r.channel("dev", "events")!.messageCount).toBe(2);
        const events = await r.messages("dev", "events", undefined, undefined, 10);
        expect(events.map((m) => [m.id, m.ts, dec(m.data)])).toEqual([
          [logged.message!.id, logged.message!.ts, { e: 1 }],
          [m2.id, m2.ts, { e: 2 }],
        ]);
        expect((await r.messages("other", "notes", undefined, undefined, 10)).map((m) => m.id)).toEqual([onlyMessages.id]);
        const next = await r.publishDurably("dev", "state", enc({ c: 3 }), {});
        expect(next.version).toBe(3);
        expect(dec(next.diff)).toEqual({ c: 3 });
        await hub.close();
      }));

    test("message ids make writes idempotent, also after a restart", () =>
      withLocation(async (location) => {
        let hub = await openHub(location);
        const first = await hub.state.publishDurably("dev", "state", enc({ n: 1 }), { log: true, messageId: "w1" });
        const unlogged = await hub.state.publishDurably("dev", "state", enc({ u: 1 }), { messageId: "u1" });
        const msg = await hub.state.createMessageDurably("dev", "notes", enc({ text: "first" }), "c1");
        // A replay in the same run.
        const again = await hub.state.publishDurably("dev", "state", enc({ n: 99 }), { log: true, messageId: "w1" });
        expect(again.version).toBe(unlogged.version);
        expect(again.message).toMatchObject({ id: "w1", ts: first.message!.ts });
        await hub.close();

        hub = await openHub(location);
        const s = hub.state;
        const replayLogged = await s.publishDurably("dev", "state", enc({ n: 2 }), { log: true, messageId: "w1" });
        expect(replayLogged.version).toBe(unlogged.version);
        expect(dec(replayLogged.diff)).toEqual({});
        expect(replayLogged.message).toMatchObject({ id: "w1", ts: first.message!.ts });
        const replayUnlogged = await s.publishDurably("dev", "state", enc({ u: 2 }), { messageId: "u1" });
        expect(replayUnlogged.version).toBe(unlogged.version);
        const replayMessage = await s.createMessageDurably("dev", "notes", enc({ text: "second" }), "c1");
        expect(replayMessage.id).toBe("c1");
        expect(replayMessage.ts).toBe(msg.ts);
        expect(dec(replayMessage.data)).toEqual({ text: "first" });
        expect(dec(s.aggregate("dev", "state").aggregate)).toEqual({ n: 1, u: 1 });
        expect((await s.messages("dev", "state", undefined, undefined, 10)).length).toBe(1);
        expect((await s.messages("dev", "notes", undefined, undefined, 10)).length).toBe(1);
        // A new id applies.
        expect((await s.publishDurably("dev", "state", enc({ u: 3 }), { messageId: "u2" })).version).toBe(unlogged.version + 1);
        await hub.close();
      }));

    test("a write the core refuses leaves no channel and no claimed id behind", () =>
      withLocation(async (location) => {
        let hub = await openHub(location);
        // A map header with nothing after it: passes the hub's checks, refused by the core.
        const truncated = new Uint8Array([0x81]);
        await expect(hub.state.publishDurably("dev", "fresh", truncated, {})).rejects.toMatchObject({
          code: expect.stringMatching(/^TAGWIRE_ERR_/),
        });
        await hub.state.publishDurably("dev", "state", enc({ a: 1 }), {});
        await expect(hub.state.publishDurably("dev", "state", truncated, { messageId: "x1" })).rejects.toThrow();
        await settled(hub.state);
        await hub.close();

        hub = await openHub(location);
        expect(hub.state.channel("dev", "fresh")).toBeUndefined();
        expect(hub.state.channelNames("dev")).toEqual(["state"]);
        // The corrected resend under the same id applies.
        const fixed = await hub.state.publishDurably("dev", "state", enc({ b: 2 }), { messageId: "x1" });
        expect(fixed.version).toBe(2);
        expect(dec(hub.state.aggregate("dev", "state").aggregate)).toEqual({ a: 1, b: 2 });
        await hub.close();
      }));

    test("history reads: after < ts < before, the newest `limit`, oldest first", () =>
      withLocation(async (location) => {
        const hub = await openHub(location);
        const ts: number[] = [];
        for (let i = 0; i < 12; i++) {
          ts.push((await hub.state.createMessageDurably("dev", "log", enc({ i }), `id${i}`)).ts);
          // distinct timestamps, so the range bounds below are exact
          while (Date.now() === ts[i]) await new Promise((r) => setTimeout(r, 1));
        }
        const read = async (before: number | undefined, after: number | undefined, limit: number) =>
          (await hub.state.messages("dev", "log", before, after, limit)).map((m) => dec(m.data).i);
        expect(await read(undefined, undefined, 100)).toEqual([...Array(12).keys()]);
        expect(await read(undefined, undefined, 3)).toEqual([9, 10, 11]);
        expect(await read(ts[5], undefined, 100)).toEqual([0, 1, 2, 3, 4]);
        expect(await read(undefined, ts[8], 100)).toEqual([9, 10, 11]);
        expect(await read(ts[6], ts[2], 2)).toEqual([4, 5]);
        expect(await read(undefined, undefined, 1)).toEqual([11]);
        expect(await hub.state.messages("dev", "nothing-here", undefined, undefined, 10)).toEqual([]);
        await hub.close();
      }));

    test("retention by count keeps the newest messages, also after a restart", () =>
      withLocation(async (location) => {
        const max = 16;
        let hub = await openHub(location, { maxMessagesPerChannel: max });
        for (let i = 0; i < 100; i++) await hub.state.createMessageDurably("dev", "log", enc({ i }));
        const kept = await hub.state.messages("dev", "log", undefined, undefined, 1000);
        // Trimmed in steps: at most max + max/8 (+1) are kept, never fewer than max.
        expect(kept.length).toBeGreaterThanOrEqual(max);
        expect(kept.length).toBeLessThanOrEqual(max + (max >>> 3) + 1);
        expect(dec(kept[kept.length - 1]!.data).i).toBe(99);
        expect(kept.map((m) => dec(m.data).i)).toEqual([...Array(kept.length).keys()].map((k) => 100 - kept.length + k));
        await hub.close();
        hub = await openHub(location, { maxMessagesPerChannel: max });
        expect(hub.state.channel("dev", "log")!.messageCount).toBe(kept.length);
        await hub.close();
      }));

    if (factory.expiresOnCall) {
      test("retention by age: expireMessages drops what is older than the limit", () =>
        withLocation(async (location) => {
          const hub = await openHub(location, { maxMessageAgeMs: 60_000 });
          await hub.state.createMessageDurably("dev", "log", enc({ old: true }));
          const young = await hub.state.createMessageDurably("dev", "log", enc({ old: false }));
          // Two minutes from now, both are past the limit; one minute minus a bit from the
          // second message's time, neither is.
          expect(hub.state.expireMessages(young.ts + 59_000)).toBe(0);
          expect(hub.state.expireMessages(young.ts + 120_000)).toBe(2);
          await settled(hub.state);
          expect(await hub.state.messages("dev", "log", undefined, undefined, 10)).toEqual([]);
          expect(hub.state.channel("dev", "log")!.messageCount).toBe(0);
          await hub.close();
        }));
    }

    if (factory.sharedLog) {
      test("two hubs over one location apply the same writes in the same order", () =>
        withLocation(async (location) => {
          const a = await openHub(location);
          const b = await openHub(location);
          const writes: Promise<WriteOutcome>[] = [];
          for (let i = 0; i < 50; i++) {
            const hub = i % 2 ? a : b;
            writes.push(hub.state.publishDurably("dev", "state", enc({ [`k${i % 7}`]: i, [i % 2 ? "a" : "b"]: i }), {}));
          }
          const outcomes = await Promise.all(writes);
          expect(new Set(outcomes.map((o) => o.version)).size).toBe(outcomes.length);
          const until = async (hub: OpenHub, version: number) => {
            for (let t = 0; t < 200 && hub.state.aggregate("dev", "state").version < version; t++)
              await new Promise((r) => setTimeout(r, 10));
          };
          const top = Math.max(...outcomes.map((o) => o.version));
          await until(a, top);
          await until(b, top);
          expect(a.state.aggregate("dev", "state")).toEqual(b.state.aggregate("dev", "state"));
          await a.close();
          await b.close();
        }));
    }
  });
}
