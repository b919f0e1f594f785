import { describe, expect, it } from "vitest";
import qlobber from "qlobber";
import { createCore } from "../bindings/index.js";
import type { Core, Router } from "../bindings/index.js";
import { expectTagwireError } from "./support/errors.js";
import { seededRandom } from "./support/seed.js";

async function newRouter(): Promise<{ core: Core; router: Router }> {
  const core = await createCore();
  return { core, router: core.createRouter() };
}

const expectNameError = (fn: () => unknown) => expectTagwireError("TAGWIRE_ERR_NAME", fn);

describe("router: matching rules", () => {
  it("matches exact names only", async () => {
    const { router } = await newRouter();
    router.subscribe("a/b", 1);
    expect(router.matchArray("a/b")).toEqual([1]);
    expect(router.matchArray("a")).toEqual([]);
    expect(router.matchArray("a/b/c")).toEqual([]);
    expect(router.matchArray("a/bb")).toEqual([]);
    expect(router.matchArray("b/b")).toEqual([]);
  });

  it("matches one level with +", async () => {
    const { router } = await newRouter();
    router.subscribe("a/+/c", 1);
    router.subscribe("+", 2);
    router.subscribe("+/+", 3);
    expect(router.matchArray("a/x/c")).toEqual([1]);
    expect(router.matchArray("a/c")).toEqual([3]);
    expect(router.matchArray("a/x/y/c")).toEqual([]);
    expect(router.matchArray("zzz")).toEqual([2]);
    expect(router.matchArray("p/q")).toEqual([3]);
  });

  it("matches zero or more trailing levels with #, so a/# matches a", async () => {
    const { router } = await newRouter();
    router.subscribe("a/#", 1);
    router.subscribe("#", 2);
    router.subscribe("+/b/#", 3);
    expect(router.matchArray("a")).toEqual([1, 2]);
    expect(router.matchArray("a/b")).toEqual([1, 2, 3]);
    expect(router.matchArray("a/b/c/d")).toEqual([1, 2, 3]);
    expect(router.matchArray("ab")).toEqual([2]);
    expect(router.matchArray("x/b")).toEqual([2, 3]);
    expect(router.matchArray("x/c")).toEqual([2]);
  });

  it("matches routing keys with an agent wildcard", async () => {
    const { router } = await newRouter();
    router.subscribe("+/sensors/#", 10);
    router.subscribe("agent-1/sensors/temperature", 11);
    router.subscribe("agent-2/+/temperature", 12);
    expect(router.matchArray("agent-1/sensors/temperature")).toEqual([10, 11]);
    expect(router.matchArray("agent-2/sensors/temperature")).toEqual([10, 12]);
    expect(router.matchArray("agent-2/sensors")).toEqual([10]);
    expect(router.matchArray("agent-3/tag_values")).toEqual([]);
  });

  it("returns ids ascending without duplicates, over the full u32 range", async () => {
    const { router } = await newRouter();
    const ids = [4294967295, 7, 0, 2147483648, 99, 5, 2147483647];
    const patterns = ["x/y", "x/+", "#", "x/#", "+/y"];
    for (const id of ids) for (const p of patterns) router.subscribe(p, id);
    expect(router.matchArray("x/y")).toEqual([...ids].sort((a, b) => a - b));
    expect(router.subscriptionCount).toBe(ids.length * patterns.length);
  });

  it("subscribes idempotently", async () => {
    const { router } = await newRouter();
    router.subscribe("a/b", 3);
    router.subscribe("a/b", 3);
    router.subscribe("a/+", 3);
    expect(router.subscriptionCount).toBe(2);
    expect(router.matchArray("a/b")).toEqual([3]);
    expect(router.unsubscribe("a/b", 3)).toBe(true);
    expect(router.unsubscribe("a/b", 3)).toBe(false);
    expect(router.matchArray("a/b")).toEqual([3]);
    expect(router.subscriptionCount).toBe(1);
  });

  it("unsubscribes and invalidates cached results", async () => {
    const { router } = await newRouter();
    router.subscribe("a/#", 1);
    router.subscribe("a/b", 2);
    router.subscribe("a/+", 3);
    expect(router.matchArray("a/b")).toEqual([1, 2, 3]);
    expect(router.unsubscribe("a/+", 3)).toBe(true);
    expect(router.matchArray("a/b")).toEqual([1, 2]);
    expect(router.unsubscribe("a/#", 1)).toBe(true);
    expect(router.matchArray("a/b")).toEqual([2]);
    expect(router.matchArray("a")).toEqual([]);
    expect(router.unsubscribe("a/b", 9)).toBe(false);
    expect(router.unsubscribe("never/seen/level", 2)).toBe(false);
    expect(router.unsubscribe("a/b/c", 2)).toBe(false);
    expect(router.unsubscribe("a/b", 2)).toBe(true);
    expect(router.matchArray("a/b")).toEqual([]);
    expect(router.subscriptionCount).toBe(0);
    // The pruned paths can be rebuilt.
    router.subscribe("a/b", 2);
    router.subscribe("a/+/c", 4);
    expect(router.matchArray("a/b")).toEqual([2]);
    expect(router.matchArray("a/b/c")).toEqual([4]);
  });

  it("keeps routers of one core independent and shares channel ids between them", async () => {
    const { core, router } = await newRouter();
    const other = core.createRouter();
    router.subscribe("a/b", 1);
    other.subscribe("a/#", 2);
    expect(router.matchArray("a/b")).toEqual([1]);
    expect(other.matchArray("a/b")).toEqual([2]);
    const id = router.channelId("a/b");
    expect(other.channelId("a/b")).toBe(id);
    expect(Array.from(other.matchId(id))).toEqual([2]);
    expect(Array.from(router.matchId(id))).toEqual([1]);
    other.dispose();
    expect(router.matchArray("a/b")).toEqual([1]);
    const third = core.createRouter();
    expect(third.matchArray("a/b")).toEqual([]);
  });

  it("keeps many routers apart through handle growth and reuse", async () => {
    const core = await createCore();
    const routers = Array.from({ length: 200 }, (_, i) => {
      const r = core.createRouter();
      r.subscribe(`r${i}/#`, i);
      return r;
    });
    for (let i = 0; i < 200; i += 2) routers[i].dispose();
    const more = Array.from({ length: 150 }, (_, i) => {
      const r = core.createRouter();
      r.subscribe(`m${i}`, 1000 + i);
      return r;
    });
    for (let i = 1; i < 200; i += 2) {
      expect(routers[i].matchArray(`r${i}/x`)).toEqual([i]);
      expect(routers[i].matchArray(`m${i % 150}`)).toEqual([]);
      expect(routers[i].subscriptionCount).toBe(1);
    }
    for (let i = 0; i < 150; i++) {
      expect(more[i].matchArray(`m${i}`)).toEqual([1000 + i]);
      expect(more[i].matchArray(`r${i}/x`)).toEqual([]);
    }
    expect(() => routers[0].match("r0/x")).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
  });

  it("serves matchId as a view of the cached list, refreshed after a change", async () => {
    const { router } = await newRouter();
    router.subscribe("s/+", 5);
    const id = router.channelId("s/t");
    expect(router.channelId("s/t")).toBe(id);
    const first = router.matchId(id);
    expect(first).toBeInstanceOf(Uint32Array);
    expect(Array.from(first)).toEqual([5]);
    router.subscribe("s/t", 1);
    expect(Array.from(router.matchId(id))).toEqual([1, 5]);
    expect(() => router.matchId(1 << 30)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    expect(() => router.matchId(-1)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
  });

  it("serves match(string) as the same view, and matchArray as a fresh array to keep", async () => {
    const { router } = await newRouter();
    for (let id = 0; id < 300; id++) router.subscribe(id % 2 ? "+/tag_values" : "dev-1/#", id);
    const view = router.match("dev-1/tag_values");
    expect(view).toBeInstanceOf(Uint32Array);
    expect(view.length).toBe(300);
    expect(Array.from(view)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const kept = router.matchArray("dev-1/tag_values");
    expect(Array.isArray(kept)).toBe(true);
    expect(Array.from(router.match("dev-2/tag_values"))).toEqual(kept.filter((id) => id % 2 === 1));
    router.unsubscribe("+/tag_values", 1);
    expect(kept.length).toBe(300);
    expect(router.match("dev-1/tag_values").length).toBe(299);
  });

  it("rejects subscriber ids outside u32", async () => {
    const { router } = await newRouter();
    for (const bad of [-1, 1.5, 2 ** 32, NaN]) {
      expect(() => router.subscribe("a", bad)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }));
    }
    expect(router.subscriptionCount).toBe(0);
  });

  it("fails with NOT_FOUND after dispose", async () => {
    const { router } = await newRouter();
    router.subscribe("a", 1);
    router.dispose();
    router.dispose();
    expect(() => router.match("a")).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    expect(() => router.subscribe("a", 1)).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
    expect(() => router.subscriptionCount).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NOT_FOUND" }));
  });
});

describe("router: names", () => {
  const badBoth = [
    "",
    "/",
    "/a",
    "a/",
    "a//b",
    "a b",
    "a/b c",
    "é",
    "a/ü/b",
    "a\u0000b",
    "a,b",
    "a*",
    "a".repeat(256),
    "a/".repeat(127) + "ab", // 256 bytes
  ];
  const badPatterns = [...badBoth, "a/#/b", "#/a", "a/b#", "a+/b", "a/+b", "++", "##", "+#", "#/#"];
  const badChannels = [...badBoth, "+", "#", "a/+", "a/#", "+/b"];

  it("accepts the full alphabet and 255 bytes", async () => {
    const { router } = await newRouter();
    const alphabet = "ABCXYZabcxyz0189_.:-";
    router.subscribe(alphabet + "/+", 1);
    expect(router.matchArray(alphabet + "/x")).toEqual([1]);
    const long = "a/".repeat(127) + "b"; // 255 bytes, 128 levels
    router.subscribe(long, 2);
    router.subscribe("+/".repeat(127) + "#", 3);
    expect(router.matchArray(long)).toEqual([2, 3]);
  });

  it("rejects invalid patterns with TAGWIRE_ERR_NAME and keeps earlier subscriptions", async () => {
    const { router } = await newRouter();
    router.subscribe("a/b", 1);
    router.subscribe("a/#", 2);
    router.subscribe("+/b", 3);
    const before = router.matchArray("a/b");
    for (const p of badPatterns) {
      expectNameError(() => router.subscribe(p, 7));
      expectNameError(() => router.unsubscribe(p, 1));
    }
    expect(router.subscriptionCount).toBe(3);
    expect(router.matchArray("a/b")).toEqual(before);
    expect(router.matchArray("a/b")).toEqual([1, 2, 3]);
    router.subscribe("a/c", 4);
    expect(router.matchArray("a/c")).toEqual([2, 4]);
  });

  it("rejects invalid channel names with TAGWIRE_ERR_NAME and stays usable", async () => {
    const { router } = await newRouter();
    router.subscribe("#", 1);
    router.subscribe("a/b", 2);
    for (const c of badChannels) {
      expectNameError(() => router.match(c));
      expectNameError(() => router.channelId(c));
    }
    expect(router.matchArray("a/b")).toEqual([1, 2]);
    expect(router.subscriptionCount).toBe(2);
  });

  it("checks the core's own validation too (byte length of multi-byte text)", async () => {
    const { core, router } = await newRouter();
    router.subscribe("x", 1);
    // 100 UTF-16 units but 200 UTF-8 bytes, and not in the alphabet: only the core can say.
    expectNameError(() => router.subscribe("é".repeat(100), 1));
    // Call the core directly: 256 ASCII bytes must be refused without help from the binding.
    const ex = core.instance.exports;
    // The first router of a fresh core has handle 1; make sure we talk to it.
    expect(ex.routerSubscriptionCount(1)).toBe(router.subscriptionCount);
    const len = core.instance.writeInString("a".repeat(256));
    expect(ex.routerSubscribe(1, ex.ioInPtr(), len, 1)).toBe(-5);
    expect(ex.routerInternChannel(1, ex.ioInPtr(), len)).toBe(-5);
    expect(router.matchArray("x")).toEqual([1]);
  });
});

describe("router: memory", () => {
  it("stays flat under subscribe/unsubscribe churn of a fixed pattern set", async () => {
    const { core, router } = await newRouter();
    const patterns: string[] = [];
    for (let i = 0; i < 500; i++) patterns.push(`agent-${i}/sensors/${i % 7}/#`, `+/ui_state/${i}`);
    const round = () => {
      for (let i = 0; i < patterns.length; i++) router.subscribe(patterns[i], i);
      for (let i = 0; i < 200; i++) router.match(`agent-${i}/sensors/${i % 7}/t`);
      for (let i = 0; i < patterns.length; i++) expect(router.unsubscribe(patterns[i], i)).toBe(true);
    };
    round();
    round();
    const bytes = core.instance.exports.memory.buffer.byteLength;
    for (let r = 0; r < 30; r++) round();
    expect(core.instance.exports.memory.buffer.byteLength).toBe(bytes);
    expect(router.subscriptionCount).toBe(0);
  });
});

describe("router: equivalence with qlobber (seeded)", () => {
  it("matches qlobber over 10,000 subscriptions, random matches and unsubscribes", async () => {
    const rand = seededRandom("router equivalence");
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

    const agents = Array.from({ length: 1000 }, (_, i) => `agent-${i}`);
    const vocab: readonly (readonly string[])[] = [
      ["sensors", "tag_values", "ui_state", "ui_cmds", "notifications", "status"],
      ["temperature", "humidity", "pressure", "power", "door", "pump.1"],
      ["indoor", "outdoor", "a", "b", "rpm:max"],
      ["x", "y"],
    ];
    const channel = (): string => {
      const depth = 1 + Math.floor(rand() * 4);
      const levels = [pick(agents)];
      for (let d = 0; d < depth; d++) levels.push(pick(vocab[d]));
      return levels.join("/");
    };
    const pattern = (): string => {
      const levels = channel().split("/");
      const r = rand();
      if (r < 0.4) {
        // exact, maybe with the agent replaced by +
        if (rand() < 0.1) levels[0] = "+";
      } else if (r < 0.7) {
        // + somewhere (agent level often)
        const at = rand() < 0.5 ? 0 : Math.floor(rand() * levels.length);
        levels[at] = "+";
      } else {
        // # after some prefix, prefix may hold + too
        const keep = Math.floor(rand() * levels.length);
        levels.length = keep;
        if (keep > 0 && rand() < 0.3) levels[0] = "+";
        levels.push("#");
      }
      return levels.join("/");
    };

    const q = new qlobber.Qlobber({ separator: "/", wildcard_one: "+", wildcard_some: "#", match_empty_levels: true });
    const { router } = await newRouter();
    const held = new Set<string>();
    const subs: [string, number][] = [];

    const add = (p: string, id: number) => {
      const key = `${p}\u0000${id}`;
      router.subscribe(p, id);
      if (!held.has(key)) {
        held.add(key);
        q.add(p, id);
        subs.push([p, id]);
      }
    };
    for (let i = 0; i < 10_000; i++) add(pattern(), Math.floor(rand() * 5000));
    // Idempotence under load: re-subscribe some existing pairs.
    for (let i = 0; i < 500; i++) add(...subs[Math.floor(rand() * subs.length)]);
    expect(router.subscriptionCount).toBe(held.size);
    expect(held.size).toBeGreaterThan(9000);

    const expected = (c: string): number[] => [...new Set(q.match(c) as number[])].sort((a, b) => a - b);
    const mismatches: string[] = [];
    let matched = 0;
    let totalFanOut = 0;
    const channels = Array.from({ length: 2000 }, channel);
    const check = (c: string) => {
      const want = expected(c);
      const got = rand() < 0.5 ? router.matchArray(c) : Array.from(router.matchId(router.channelId(c)));
      matched++;
      totalFanOut += want.length;
      if (JSON.stringify(got) !== JSON.stringify(want) && mismatches.length < 5) {
        const missing = want.filter((x) => !got.includes(x)).slice(0, 10);
        const extra = got.filter((x) => !want.includes(x)).slice(0, 10);
        mismatches.push(`${c}: got ${got.length} ids, want ${want.length}; missing ${missing}; extra ${extra}`);
      }
    };

    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 2000; i++) check(rand() < 0.5 ? pick(channels) : channel());
      // Random unsubscribes: present pairs, absent ids, patterns never subscribed.
      for (let i = 0; i < 1500; i++) {
        if (rand() < 0.7 && subs.length > 0) {
          const at = Math.floor(rand() * subs.length);
          const [p, id] = subs[at];
          subs[at] = subs[subs.length - 1];
          subs.pop();
          held.delete(`${p}\u0000${id}`);
          q.remove(p, id);
          expect(router.unsubscribe(p, id)).toBe(true);
        } else {
          const p = pattern();
          const id = Math.floor(rand() * 5000);
          const present = held.has(`${p}\u0000${id}`);
          if (present) {
            held.delete(`${p}\u0000${id}`);
            q.remove(p, id);
            const at = subs.findIndex(([sp, sid]) => sp === p && sid === id);
            subs[at] = subs[subs.length - 1];
            subs.pop();
          }
          expect(router.unsubscribe(p, id)).toBe(present);
        }
      }
      for (let i = 0; i < 500; i++) add(pattern(), Math.floor(rand() * 5000));
      expect(router.subscriptionCount).toBe(held.size);
    }
    for (const c of channels) check(c);

    expect(mismatches).toEqual([]);
    expect(matched).toBeGreaterThan(9000);
    // The workload must actually route: mean fan-out well above zero.
    expect(totalFanOut / matched).toBeGreaterThan(1);
  }, 60_000);
});
