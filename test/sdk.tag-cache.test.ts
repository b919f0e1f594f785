// The synchronous tag API and the tag cache behind it: setTagSync and getTag without a promise,
// one commit per loop, a failed commit keeping its tags, the cache kept exact when its own write's
// event is never read (LocalBus) or arrives after the write's result (a remote-like session),
// foreign writes landing before and between the app's own, object tags merged under a concurrent
// write, and LocalBus events whose diff and aggregate are read late.
import { describe, expect, it } from "vitest";
import {
  Agent,
  Application,
  type LocalBus,
  tags,
  type ChannelEvent,
  type Json,
  type PublishOptions,
  type PublishResult,
  type Session,
} from "../bindings/index.js";
import { TagCache } from "../bindings/sdk/tag-cache.js";
import { seededRandom } from "./support/seed.js";
import { busesClosedAfterEach } from "./support/bus.js";

const newBus = busesClosedAfterEach();

const tick = () => new Promise((r) => setTimeout(r, 0));

/**
 * A Session over a LocalBus that can fail the next publish, and delivers events a timer later
 * (after the publish's result, as a hub's events may arrive).
 */
class FlakySession implements Session {
  failNext = false;
  delayEvents = false;
  /** Forward each publish a timer later, so that writes made meanwhile land first. */
  delayPublish = false;
  /** Writes that reached `tag_values`. */
  publishes = 0;
  constructor(private readonly bus: LocalBus) {}
  async publish(agentId: string, channel: string, data: Json, options?: PublishOptions): Promise<PublishResult> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("link down");
    }
    if (channel === "tag_values") this.publishes++;
    if (this.delayPublish) await tick();
    return this.bus.publish(agentId, channel, data, options);
  }
  createMessage(agentId: string, channel: string, data: Json, options?: { messageId?: string }) {
    return this.bus.createMessage(agentId, channel, data, options);
  }
  getAggregate(agentId: string, channel: string) {
    return this.bus.getAggregate(agentId, channel);
  }
  getMessages(agentId: string, channel: string) {
    return this.bus.getMessages(agentId, channel);
  }
  listChannels(agentId: string) {
    return this.bus.listChannels(agentId);
  }
  subscribe(agentId: string, pattern: string, listener: (event: ChannelEvent) => void) {
    return this.bus.subscribe(agentId, pattern, (event) => {
      if (this.delayEvents) setTimeout(() => listener(event), 1);
      else listener(event);
    });
  }
  async close() {}
}

describe("setTagSync and the tag cache", () => {
  it("a sync set is visible to getTag at once and all sets of a loop are one write", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const writes: Json[] = [];
    dev.subscribe("tag_values", (e) => {
      if (e.type === "aggregate") writes.push(e.diff);
    });
    const reads: unknown[] = [];
    let n = 0;
    class Loop extends Application {
      async mainLoop() {
        n++;
        for (let i = 0; i < 20; i++) {
          this.setTagSync(`t${i}`, i * n);
          reads.push(this.getTag(`t${i}`));
        }
        this.setTagSync("mode", "auto", { global: true });
        reads.push(this.getTag("mode", { global: true }));
      }
    }
    const app = new Loop({ agent: dev, appKey: "loop" });
    await app.step();
    await app.step();
    await tick();
    expect(reads.slice(0, 21)).toEqual([...Array.from({ length: 20 }, (_, i) => i), "auto"]);
    expect(reads.slice(21)).toEqual([...Array.from({ length: 20 }, (_, i) => i * 2), "auto"]);
    // One write per loop; the second carries only what changed (t0 stays 0, mode stays "auto").
    expect(writes).toHaveLength(2);
    expect(Object.keys((writes[1] as { loop: object }).loop)).toHaveLength(19);
    expect(writes[1]).not.toHaveProperty("mode");
    expect(await dev.getAggregate("tag_values")).toEqual({
      loop: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`t${i}`, i * 2])),
      mode: "auto",
    });
    expect(() => app.setTagSync("bad key", 1)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    expect(() => app.setTagSync("x", undefined)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    expect(() => app.setTagSync("mode", 1, { global: true, appKey: "x" })).not.toThrow();
    // A global tag named like the app's own namespace would replace it: refused.
    expect(() => app.setTagSync("loop", 1, { global: true })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    await app.stop();
  });

  it("a failed commit keeps its tags (readable) for the next one, under what was set since", async () => {
    const bus = newBus();
    const session = new FlakySession(bus);
    const dev = new Agent(session, "dev");
    class App extends Application {}
    const app = new App({ agent: dev, appKey: "app" });
    await app.step();
    app.setTagSync("a", 1);
    app.setTagSync("b", { x: 1 });
    session.failNext = true;
    await expect(app.commitTags()).rejects.toThrow("link down");
    expect(app.getTag("a")).toBe(1);
    expect(app.getTag("b")).toEqual({ x: 1 });
    app.setTagSync("a", 2);
    app.setTagSync("b", { y: 2 });
    await app.commitTags();
    expect(session.publishes).toBe(1);
    expect(await dev.getAggregate("tag_values")).toEqual({ app: { a: 2, b: { x: 1, y: 2 } } });
    expect(app.getTag("b")).toEqual({ x: 1, y: 2 });
    // Nothing pending: another commit writes nothing.
    await app.commitTags();
    expect(session.publishes).toBe(1);
    await app.stop();
  });

  it("sees other writers' changes to its own and other namespaces, before, between and after its writes", async () => {
    for (const delayEvents of [false, true]) {
      const bus = newBus();
      const session = new FlakySession(bus);
      session.delayEvents = delayEvents;
      const dev = new Agent(session, "dev");
      const other = bus.agent("dev");
      class App extends Application {}
      const app = new App({ agent: dev, appKey: "app" });
      await app.step();
      for (let round = 0; round < 5; round++) {
        app.setTagSync("mine", round);
        app.setTagSync("obj", { [`k${round}`]: round });
        await app.commitTags();
        // Another writer changes a tag of ours, an object tag's other key, and another app's tag.
        await other.publish("tag_values", { app: { theirs: round, obj: { [`o${round}`]: round } }, peer: { v: round } });
        await tick();
        await tick();
        expect(app.getTag("theirs")).toBe(round);
        expect(app.getTag("mine")).toBe(round);
        expect(app.getTag("v", { appKey: "peer" })).toBe(round);
      }
      await tick();
      await tick();
      const stored = (await dev.getAggregate("tag_values")) as { app: Record<string, Json> };
      expect(app.getTag("obj")).toEqual(stored.app.obj);
      expect(Object.keys(stored.app.obj as object)).toHaveLength(10);
      await app.stop();
    }
  });

  it("a write landing between the app's take and its own write is kept, not overwritten by the cache", async () => {
    // delayPublish: the other write lands before the app's; otherwise just after it. delayEvents:
    // the app's write's result comes before the events.
    for (const [delayPublish, delayEvents] of [
      [true, false],
      [false, false],
      [true, true],
      [false, true],
    ]) {
      const bus = newBus();
      const session = new FlakySession(bus);
      session.delayEvents = delayEvents!;
      const dev = new Agent(session, "dev");
      class App extends Application {}
      const app = new App({ agent: dev, appKey: "app" });
      await app.step();
      app.setTagSync("obj", { a: 1 });
      await app.commitTags();
      session.delayPublish = delayPublish!;
      app.setTagSync("obj", { b: 2 });
      app.setTagSync("n", 1);
      // Starts the commit (the cache takes its pending diff), then another write is made.
      const committing = app.commitTags();
      await bus.publish("dev", "tag_values", { app: { obj: { c: 3 }, n: 9, other: true } });
      await committing;
      await tick();
      await tick();
      const stored = (await dev.getAggregate("tag_values")) as { app: Record<string, Json> };
      expect(stored.app.n).toBe(delayPublish ? 1 : 9);
      expect(stored.app.obj).toEqual({ a: 1, b: 2, c: 3 });
      expect(app.getTag("obj")).toEqual(stored.app.obj);
      expect(app.getTag("n")).toBe(stored.app.n);
      expect(app.getTag("other")).toBe(true);
      await app.stop();
    }
  });

  it("an object tag merged this loop reads another writer's change to its other keys before the commit", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    class App extends Application {}
    const app = new App({ agent: dev, appKey: "app" });
    await app.step();
    app.setTagSync("obj", { a: 1 });
    await app.commitTags();
    app.setTagSync("obj", { b: 2 });
    await bus.publish("dev", "tag_values", { app: { obj: { c: 3 } } });
    expect(app.getTag("obj")).toEqual({ a: 1, b: 2, c: 3 });
    await app.commitTags();
    expect(app.getTag("obj")).toEqual({ a: 1, b: 2, c: 3 });
    expect(await dev.getAggregate("tag_values")).toEqual({ app: { obj: { a: 1, b: 2, c: 3 } } });
    await app.stop();
  });

  it("declared tags: setSync writes at once, with triggers, and reads back", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    class App extends Application {
      t = this.declareTags({ temp: new tags.Number({ default: 20, logOn: new tags.Delta({ amount: 5 }) }) });
      async mainLoop() {
        this.t.temp.setSync(this.t.temp.get() === 20 ? 26 : 27);
      }
    }
    const app = new App({ agent: dev, appKey: "app" });
    expect(app.t.temp.get()).toBe(20);
    await app.step();
    expect(app.t.temp.get()).toBe(26);
    await app.step();
    expect(app.t.temp.get()).toBe(27);
    expect((await dev.getMessages("tag_values")).map((m) => m.data)).toEqual([{ app: { temp: 26 } }]);
    await app.stop();
  });
});

describe("TagCache event and result order", () => {
  const event = (version: number, aggregate: Json) => ({
    type: "aggregate" as const,
    agentId: "d",
    channel: "tag_values",
    version,
    aggregate,
    diff: {},
  });

  it("an event held as the app's own is read after all when the result shows it was another writer's", () => {
    const cache = new TagCache("app");
    cache.reset({});
    cache.set("a", 1, undefined);
    const commit = cache.take()!;
    // Another writer's event comes while the commit is in flight, at the next version.
    cache.onEvent(event(1, { app: { x: 5 }, peer: { y: 1 } }));
    cache.confirm(commit, { version: 2, diff: {} });
    expect(cache.getOwn("x")).toBe(5);
    expect(cache.getOwn("a")).toBe(1);
    expect(cache.get("y", { appKey: "peer" })).toBe(1);
    expect(cache.snapshot()).toEqual({ app: { x: 5, a: 1 }, peer: { y: 1 } });
  });

  it("a tag another writer deleted while the app's write of it was in flight holds the app's value after", () => {
    const cache = new TagCache("app");
    cache.reset({ app: { a: 1, b: 2 } });
    cache.set("a", 5, undefined);
    const commit = cache.take()!;
    // Version 1 (another writer) deletes the whole namespace before the app's write lands at 2.
    // Nothing reads in between (a read would look through the commit by name instead).
    cache.onEvent(event(1, {}));
    cache.confirm(commit, { version: 2, diff: {} });
    expect(cache.getOwn("a")).toBe(5);
    expect(cache.getOwn("b")).toBeUndefined();
    expect(cache.snapshot()).toEqual({ app: { a: 5 } });
    cache.set("a", 5, undefined);
    expect(cache.take()).toBeUndefined(); // unchanged, nothing to send
  });

  it("the same when a read looked through the write in flight", () => {
    const cache = new TagCache("app");
    cache.reset({ app: { a: 1, b: 2 } });
    cache.set("a", 5, undefined);
    const commit = cache.take()!;
    cache.onEvent(event(1, {}));
    expect(cache.getOwn("a")).toBe(5); // still in flight
    expect(cache.getOwn("b")).toBeUndefined();
    cache.confirm(commit, { version: 2, diff: {} });
    expect(cache.getOwn("a")).toBe(5);
    expect(cache.snapshot()).toEqual({ app: { a: 5 } });
  });

  it("a result ahead of the events waits for them; the own values stay readable meanwhile", () => {
    const cache = new TagCache("app");
    cache.reset({});
    cache.set("a", 1, undefined);
    const commit = cache.take()!;
    cache.confirm(commit, { version: 3, diff: {} });
    expect(cache.getOwn("a")).toBe(1);
    cache.onEvent(event(2, { app: { a: 0, x: 2 } }));
    expect(cache.getOwn("a")).toBe(1);
    expect(cache.getOwn("x")).toBe(2);
    cache.onEvent(event(3, { app: { a: 1, x: 2 } }));
    expect(cache.snapshot()).toEqual({ app: { a: 1, x: 2 } });
  });
});

describe("TagCache sets by remembered position", () => {
  it("agrees with a plain model when loops keep, change, cut or mix their order, delete, commit mid-loop and see other writers", () => {
    const random = seededRandom("tag-cache positions");
    const pick = (n: number) => Math.floor(random() * n);
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const cache = new TagCache("app");
    cache.reset({});
    let committed: Record<string, Json> = {};
    let pending: Record<string, Json> = {};
    let version = 0;
    const current = (k: string) => (k in pending ? pending[k] : committed[k]);
    const commit = () => {
      const c = cache.take();
      if (Object.keys(pending).length === 0) {
        expect(c).toBeUndefined();
        return;
      }
      expect(c!.data).toEqual({ app: pending });
      for (const [k, v] of Object.entries(pending)) {
        if (v === null) delete committed[k];
        else committed[k] = v;
      }
      pending = {};
      cache.confirm(c!, { version: ++version, diff: {} });
    };
    let order = keys.slice();
    for (let loop = 0; loop < 400; loop++) {
      const r = random();
      if (r < 0.15) order = order.slice().sort(() => random() - 0.5);
      else if (r < 0.25) order = keys.filter(() => random() < 0.6);
      else if (r < 0.3) order = keys.slice();
      if (random() < 0.1) {
        // Another writer replaces the namespace between loops (drops tags the cache knew).
        committed = {};
        for (const k of keys) if (random() < 0.5) committed[k] = pick(3);
        cache.onEvent({
          type: "aggregate",
          agentId: "d",
          channel: "tag_values",
          version: ++version,
          aggregate: { app: committed },
          diff: {},
        });
      }
      for (const k of order) {
        if (random() < 0.05) {
          cache.set(k, null, undefined); // a delete (the slow path)
          if (current(k) !== undefined) pending[k] = null;
        } else {
          const v = pick(3);
          cache.set(k, v, undefined);
          if (current(k) !== v) pending[k] = v;
        }
        if (random() < 0.03) commit(); // commitTags in the middle of a loop
      }
      for (const k of keys) expect(cache.getOwn(k)).toBe(current(k) ?? undefined);
      commit();
    }
    expect(cache.snapshot()).toEqual({ app: committed });
  });
});

describe("LocalBus events read late", () => {
  it("an event and a result read, spread, list and serialise like plain objects, and refuse writes", async () => {
    const bus = newBus();
    const events: ChannelEvent[] = [];
    bus.subscribe("dev", "c", (e) => void events.push(e));
    const r = await bus.publish("dev", "c", { a: 1, b: { c: 2 } });
    const e = events[0]!;
    const plain = {
      type: "aggregate",
      agentId: "dev",
      channel: "c",
      aggregate: { a: 1, b: { c: 2 } },
      diff: { a: 1, b: { c: 2 } },
      version: 1,
    };
    expect({ ...e, at: 5 }).toEqual({ ...plain, at: 5 });
    expect(Object.keys(e)).toEqual(Object.keys(plain));
    expect(JSON.parse(JSON.stringify(e))).toEqual(plain);
    expect(e).toEqual(plain);
    expect("diff" in e && "aggregate" in e && !("node" in e)).toBe(true);
    expect(r).toEqual({ version: 1, diff: { a: 1, b: { c: 2 } } });
    expect(Object.keys(r)).toEqual(["version", "diff"]);
    expect(() => {
      (e as { version: number }).version = 2;
    }).toThrow(TypeError);
    expect(() => {
      delete (r as { diff?: Json }).diff;
    }).toThrow(TypeError);
    expect((e as { version: number }).version).toBe(1);
    // The same frozen values on every read.
    expect(e.type === "aggregate" && e.aggregate).toBe(e.type === "aggregate" && e.aggregate);
    expect(Object.isFrozen(e.type === "aggregate" && e.diff)).toBe(true);
  });

  it("diffs kept in shared slabs read back right across slab ends, large ones included", async () => {
    const bus = newBus();
    const events: ChannelEvent[] = [];
    bus.subscribe("dev", "c", (e) => void events.push(e));
    const sent: Json[] = [];
    // ~1.2 KiB diffs: a 32 KiB slab ends every ~27 writes; every 10th diff (~5 KiB) gets its own copy.
    for (let i = 0; i < 200; i++) {
      const diff = { [`k${i}`]: "x".repeat(i % 10 === 0 ? 5000 : 1200) + i };
      sent.push(diff);
      await bus.publish("dev", "c", diff);
      bus.tryPublishNow("dev", "c", { n: i }); // and the synchronous path in between
    }
    const diffs = events.filter((e) => e.type === "aggregate").map((e) => (e.type === "aggregate" ? e.diff : null));
    expect(diffs).toHaveLength(400);
    for (let i = 0; i < 200; i++) {
      expect(diffs[2 * i]).toEqual(sent[i]);
      expect(diffs[2 * i + 1]).toEqual({ n: i });
    }
  });

  it("writes larger than the core's input region, and two buses (two cores) in turn, store what was sent", async () => {
    const one = newBus();
    const two = newBus();
    const big = "y".repeat(200_000); // packed past the 64 KiB input region
    for (let i = 0; i < 3; i++) {
      await one.publish("dev", "c", { i, s: `one${i}` });
      await two.publish("dev", "c", { i, s: `two${i}` });
      const r = await one.publish("dev", "c", { big: big + i });
      expect(r.diff).toEqual({ big: big + i });
      expect(two.tryPublishNow("dev", "c", { t: i })).toEqual({ version: 2 * i + 2, diff: { t: i } });
    }
    expect(await one.getAggregate("dev", "c")).toEqual({ i: 2, s: "one2", big: `${big}2` });
    expect(await two.getAggregate("dev", "c")).toEqual({ i: 2, s: "two2", t: 2 });
  });

  it("tryPublishNow stores and tells what publish does, and declines a channel not yet written", async () => {
    const bus = newBus();
    const events: ChannelEvent[] = [];
    bus.subscribe("dev", "c", (e) => void events.push(e));
    expect(bus.tryPublishNow("dev", "c", { a: 1 })).toBeUndefined();
    expect(events).toHaveLength(0);
    await bus.publish("dev", "c", { a: 1 });
    const r = bus.tryPublishNow("dev", "c", { a: 2, b: 1 })!;
    expect(r).toEqual({ version: 2, diff: { a: 2, b: 1 } });
    expect(events.at(-1)).toMatchObject({ type: "aggregate", version: 2, diff: { a: 2, b: 1 }, aggregate: { a: 2, b: 1 } });
    expect(bus.tryPublishNow("dev", "c", { a: 2 })).toEqual({ version: 2, diff: {} });
    expect(await bus.getAggregate("dev", "c")).toEqual({ a: 2, b: 1 });
  });

  it("tryCommitNow leaves the writer's own listener out, tells every other one, and declines a channel not yet written", async () => {
    const bus = newBus();
    const own: ChannelEvent[] = [];
    const other: ChannelEvent[] = [];
    const ownListener = (e: ChannelEvent) => void own.push(e);
    bus.subscribe("dev", "c", ownListener);
    bus.subscribe("dev", "c", (e) => void other.push(e));
    expect(bus.tryCommitNow("dev", "c", { a: 1 }, ownListener)).toBe(-1);
    await bus.publish("dev", "c", { a: 1 });
    expect(own).toHaveLength(1);
    expect(bus.tryCommitNow("dev", "c", { a: 2, b: 1 }, ownListener)).toBe(2);
    expect(own).toHaveLength(1); // not told of its own write
    expect(other.at(-1)).toMatchObject({ type: "aggregate", version: 2, diff: { a: 2, b: 1 }, aggregate: { a: 2, b: 1 } });
    expect(bus.tryCommitNow("dev", "c", { a: 2 }, ownListener)).toBe(2); // unchanged: no version, no event
    expect(other).toHaveLength(2);
    expect(await bus.getAggregate("dev", "c")).toEqual({ a: 2, b: 1 });
  });

  it("with the writer its channel's only listener, no event is made, and later listeners' events are right", async () => {
    const bus = newBus();
    const ownListener = (_e: ChannelEvent) => {
      throw new Error("the writer was told of its own write");
    };
    await bus.publish("dev", "c", { n: 0 });
    bus.subscribe("dev", "c", ownListener);
    await tick(); // the sync event of the subscription (before the commits) is delivered
    for (let i = 1; i <= 50; i++) expect(bus.tryCommitNow("dev", "c", { n: i, [`k${i % 7}`]: i }, ownListener)).toBe(i + 1);
    const late: ChannelEvent[] = [];
    bus.subscribe("dev", "c", (e) => void late.push(e));
    await tick();
    const stored = await bus.getAggregate("dev", "c");
    expect(late).toEqual([{ type: "sync", agentId: "dev", channel: "c", aggregate: stored, version: 51 }]);
    for (let i = 51; i <= 60; i++) bus.tryCommitNow("dev", "c", { n: i }, ownListener);
    expect(late).toHaveLength(11);
    for (let i = 51; i <= 60; i++) {
      expect(late[i - 50]).toMatchObject({ type: "aggregate", version: i + 1, diff: { n: i }, aggregate: { ...(stored as object), n: i } });
    }
  });

  it("an app's commits reach every other listener; its own event is left out only while it watches no tag", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const seen: Json[] = [];
    dev.subscribe("tag_values", (e) => {
      if (e.type === "aggregate") seen.push(e.aggregate);
    });
    let n = 0;
    class Loop extends Application {
      async mainLoop() {
        n++;
        this.setTagSync("a", n);
        this.setTagSync("b", n % 2);
      }
    }
    const app = new Loop({ agent: dev, appKey: "app" });
    for (let i = 0; i < 4; i++) await app.step();
    expect(seen).toEqual([1, 2, 3, 4].map((i) => ({ app: { a: i, b: i % 2 } })));
    const changes: Array<[Json, string]> = [];
    app.onTagChange("b", (value, change) => void changes.push([value, change.key]));
    await app.step();
    await dev.publish("tag_values", { app: { b: 7 } }); // another writer, seen by the app
    await app.step();
    expect(changes).toEqual([
      [1, "b"],
      [7, "b"],
      [0, "b"],
    ]);
    expect(app.getTag("a")).toBe(6);
    expect(await dev.getAggregate("tag_values")).toEqual({ app: { a: 6, b: 0 } });
    await app.stop();
  });

  it("every event's diff and aggregate are right when read long after, past the chain's bound", async () => {
    const rand = seededRandom("sdk.tag-cache late events");
    const bus = newBus();
    const events: ChannelEvent[] = [];
    bus.subscribe("dev", "c", (e) => void events.push(e));
    const expected: Array<{ version: number; aggregate: Json; diff: Json }> = [];
    // Read some events at once and leave most unread, over more versions than a chain holds.
    for (let i = 0; i < 1500; i++) {
      const key = `k${Math.floor(rand() * 20)}`;
      const value = rand() < 0.1 ? null : Math.floor(rand() * 5);
      const r = await bus.publish("dev", "c", { [key]: value, nested: { [key]: value } });
      if (r.version > (expected.at(-1)?.version ?? 0)) {
        expected.push({ version: r.version, aggregate: await bus.getAggregate("dev", "c"), diff: r.diff });
      }
      if (rand() < 0.02 && events.length > 0) {
        const e = events.at(-1)!;
        if (e.type === "aggregate") expect(e.aggregate).toEqual(expected.at(-1)!.aggregate);
      }
    }
    const aggregates = events.filter((e) => e.type === "aggregate");
    expect(aggregates).toHaveLength(expected.length);
    // Newest first, so each read walks as far back as it can.
    for (let i = aggregates.length - 1; i >= 0; i--) {
      const e = aggregates[i]!;
      expect({ version: e.version, aggregate: e.aggregate, diff: e.diff }).toEqual(expected[i]);
      expect(Object.isFrozen(e.aggregate)).toBe(true);
    }
  });
});
