// Application and tags over LocalBus: the one-write commit, read-your-writes, global and other
// apps' tags, deleteTag, onTagChange, log_on triggers in an app, the loop, and a coordinator with
// two workers exchanging commands and status through tags.
import { describe, expect, it } from "vitest";
import { Application, Cross, Delta, Enter, type RollingStats, type Agent, type ChannelEvent } from "../bindings/index.js";
import { busesClosedAfterEach } from "./support/bus.js";

const newBus = busesClosedAfterEach();

const tick = () => new Promise((r) => setTimeout(r, 0));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts aggregate writes and messages on an agent's tag_values. */
function watchTagChannel(agent: Agent) {
  const seen = { aggregates: [] as Extract<ChannelEvent, { type: "aggregate" }>[], messages: [] as ChannelEvent[] };
  agent.subscribe("tag_values", (e) => {
    if (e.type === "aggregate") seen.aggregates.push(e);
    if (e.type === "message") seen.messages.push(e);
  });
  return seen;
}

describe("Application", () => {
  it("runs the contract example", async () => {
    const bus = newBus();
    const dev = bus.agent("dev-1");
    class Sim extends Application {
      async mainLoop() {
        await this.setTag("temp", 25.5);
      }
    }
    const app = new Sim({ agent: dev, appKey: "sim_1", loopPeriodMs: 1000 });
    expect(app.appKey).toBe("sim_1");
    expect(app.agent).toBe(dev);
    await app.step();
    expect(await dev.getAggregate("tag_values")).toEqual({ sim_1: { temp: 25.5 } });
    await app.stop();
  });

  it("commits all tags of a loop in one write; global tags are top-level keys", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const seen = watchTagChannel(dev);
    let n = 0;
    class Many extends Application {
      async mainLoop() {
        n++;
        for (let i = 0; i < 50; i++) await this.setTag(`t${i}`, i * n);
        await this.setTag("site_mode", "auto", { global: true });
      }
    }
    const app = new Many({ agent: dev, appKey: "many" });
    await app.step();
    await tick();
    expect(seen.aggregates).toHaveLength(1);
    const agg = (await dev.getAggregate("tag_values")) as Record<string, Record<string, number>>;
    expect(Object.keys(agg.many!)).toHaveLength(50);
    expect(agg.many!.t7).toBe(7);
    expect(agg.site_mode).toBe("auto");
    await app.step();
    await tick();
    expect(seen.aggregates).toHaveLength(2);
    // The second loop changed every t_i except t0 (0 * n): the effective diff says so.
    expect(Object.keys((seen.aggregates[1]!.diff as { many: object }).many)).toHaveLength(49);
    expect(seen.messages).toHaveLength(0);
    await app.stop();
  });

  it("reads its own writes before the commit, other apps' tags, globals and defaults", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.publish("tag_values", { other: { speed: 3 }, site: "north", me: { old: 1 } });
    const reads: unknown[] = [];
    class Reader extends Application {
      async mainLoop() {
        reads.push(this.getTag("old"), this.getTag("x"), this.getTag("x", { default: 42 }));
        await this.setTag("x", 1);
        reads.push(this.getTag("x"));
        await this.setTag("x", { a: 1 });
        await this.setTag("x", { b: 2 });
        reads.push(this.getTag("x"));
        reads.push(this.getTag("speed", { appKey: "other" }), this.getTag("site", { global: true }));
        await this.deleteTag("old");
        reads.push(this.getTag("old", { default: "gone" }));
      }
    }
    const app = new Reader({ agent: dev, appKey: "me" });
    await app.step();
    expect(reads).toEqual([1, undefined, 42, 1, { a: 1, b: 2 }, 3, "north", "gone"]);
    expect(await dev.getAggregate("tag_values")).toEqual({ other: { speed: 3 }, site: "north", me: { x: { a: 1, b: 2 } } });
    expect(app.getTag("x")).toEqual({ a: 1, b: 2 });
    // Values handed out are frozen: they cannot be changed behind the cache's back.
    expect(() => {
      (app.getTag("x") as Record<string, number>).a = 5;
    }).toThrow();
    await app.stop();
  });

  it("a set that changes nothing writes nothing", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const seen = watchTagChannel(dev);
    class Same extends Application {
      async mainLoop() {
        await this.setTag("v", 5);
        await this.setTag("obj", { a: 1, b: 2 });
      }
    }
    const app = new Same({ agent: dev, appKey: "same" });
    await app.step();
    await app.step();
    await app.step();
    await tick();
    expect(seen.aggregates).toHaveLength(1);
    await app.stop();
  });

  it("onTagChange fires only on real changes, whoever wrote them; deletes give null", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const errors: unknown[] = [];
    class Watcher extends Application {}
    const watcher = new Watcher({ agent: dev, appKey: "watcher", onError: (e) => errors.push(e) });
    const changes: unknown[] = [];
    watcher.onTagChange(
      "level",
      (value, change) => {
        changes.push([value, change.appKey, change.key]);
      },
      { appKey: "tank" },
    );
    watcher.onTagChange(
      "level",
      () => {
        throw new Error("handler bug");
      },
      { appKey: "tank" },
    );
    const globals: unknown[] = [];
    watcher.onTagChange("mode", (v) => void globals.push(v), { global: true });
    let level: number | null = 10;
    class Tank extends Application {
      async mainLoop() {
        if (level === null) await this.deleteTag("level");
        else await this.setTag("level", level);
        await this.setTag("noise", Math.random());
      }
    }
    const tank = new Tank({ agent: dev, appKey: "tank" });
    await tank.step(); // 10
    await tank.step(); // 10 again: no change
    level = 12;
    await tank.step();
    level = null;
    await tank.step();
    await dev.publish("tag_values", { mode: "manual" });
    await dev.publish("tag_values", { mode: "manual" });
    await tick();
    expect(changes).toEqual([
      [10, "tank", "level"],
      [12, "tank", "level"],
      [null, "tank", "level"],
    ]);
    expect(globals).toEqual(["manual"]);
    expect(errors).toHaveLength(3);
    await tank.stop();
    await watcher.stop();
  });

  it("setup runs once before the first loop; a failing loop commits nothing and throws", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const calls: string[] = [];
    let fail = true;
    class Flaky extends Application<{ target: number }> {
      async setup() {
        calls.push(`setup:${this.config.target}`);
      }
      async mainLoop() {
        calls.push("loop");
        await this.setTag("target", this.config.target);
        if (fail) throw new Error("sensor offline");
      }
    }
    const app = new Flaky({ agent: dev, appKey: "flaky", config: { target: 7 } });
    await expect(app.step()).rejects.toThrow("sensor offline");
    expect(await dev.getAggregate("tag_values")).toEqual({});
    expect(app.getTag("target")).toBe(7);
    fail = false;
    await app.step();
    expect(calls).toEqual(["setup:7", "loop", "loop"]);
    expect(await dev.getAggregate("tag_values")).toEqual({ flaky: { target: 7 } });
    await app.stop();
  });

  it("start() loops every loopPeriodMs until stop(); loop errors are reported and it goes on", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const errors: unknown[] = [];
    let loops = 0;
    class Ticker extends Application {
      async mainLoop() {
        loops++;
        await this.setTag("loops", loops);
        if (loops === 2) throw new Error("second loop fails");
      }
    }
    const app = new Ticker({ agent: dev, appKey: "ticker", loopPeriodMs: 20, onError: (e) => errors.push(e) });
    const done = app.start();
    expect(app.running).toBe(true);
    await sleep(150);
    await app.stop();
    await done;
    expect(app.running).toBe(false);
    const after = loops;
    // 150 ms at 20 ms: about 8 loops; the machine is shared, so allow a wide band.
    expect(after).toBeGreaterThanOrEqual(4);
    expect(after).toBeLessThanOrEqual(10);
    expect(errors).toHaveLength(1);
    expect((await dev.getAggregate("tag_values")) as object).toEqual({ ticker: { loops: after } });
    await sleep(60);
    expect(loops).toBe(after);
  });

  it("start() then stop() at once: setup ran, no loop left running", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const calls: string[] = [];
    class Quick extends Application {
      async setup() {
        calls.push("setup");
      }
      async mainLoop() {
        calls.push("loop");
      }
    }
    const app = new Quick({ agent: dev, appKey: "quick", loopPeriodMs: 10 });
    const done = app.start();
    await app.stop();
    await done;
    const n = calls.length;
    await sleep(50);
    expect(calls.length).toBe(n);
    expect(calls[0]).toBe("setup");
    expect(calls.filter((c) => c === "loop").length).toBeLessThanOrEqual(1);
  });

  it("logs tags with log: true and log_on triggers, one message per commit", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    const seen = watchTagChannel(dev);
    const temps = [25, 29.8, 30.6, 31, 29.7, 29.4, 35, 35];
    let i = 0;
    class Thermo extends Application {
      async mainLoop() {
        const t = temps[i++]!;
        await this.setTag("temp", t, { logOn: [new Cross(30, { deadband: 1 })] });
        await this.setTag("state", t > 30 ? "hot" : "ok", { logOn: new Enter("hot") });
        await this.setTag("loop", i, { log: i === 1 });
      }
    }
    const app = new Thermo({ agent: dev, appKey: "thermo" });
    for (let k = 0; k < temps.length; k++) await app.step();
    await tick();
    const logged = (await dev.getMessages("tag_values")).map((m) => m.data);
    // Cross(30, deadband 1): rises at >= 30.5 (30.6), falls at <= 29.5 (29.4), rises at 35.
    // Enter("hot") fires with the rises. Loop 8 sets 35 again: no change, nothing logged.
    expect(logged).toEqual([
      { thermo: { loop: 1 } },
      { thermo: { temp: 30.6, state: "hot" } },
      { thermo: { temp: 29.4 } },
      { thermo: { temp: 35, state: "hot" } },
    ]);
    expect(seen.messages).toHaveLength(4);
    expect(seen.aggregates).toHaveLength(8);
    await app.stop();
  });

  it("log_on first values: Delta logs the first value; a trigger firing on an unchanged value logs nothing", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    await dev.publish("tag_values", { meter: { flow: 35 } });
    const flows = [35, 36, 41, 44, 46];
    let i = 0;
    class Meter extends Application {
      async mainLoop() {
        const f = flows[i++]!;
        // Cross(30) fires on the first 35 (it starts "below"), but 35 is already the stored value.
        await this.setTag("flow", f, { logOn: [new Cross(30), new Delta({ amount: 5 })] });
      }
    }
    const app = new Meter({ agent: dev, appKey: "meter" });
    for (const _ of flows) await app.step();
    const logged = (await dev.getMessages("tag_values")).map((m) => m.data);
    // Delta's baseline is 35 (its first value, fired but unchanged): 41 fires (6), 46 fires (5).
    expect(logged).toEqual([{ meter: { flow: 41 } }, { meter: { flow: 46 } }]);
    await app.stop();
  });

  it("publishStats writes a summary tag of a rolling window", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    class Stats extends Application {
      stats!: RollingStats;
      async setup() {
        this.stats = this.createRollingStats({ window: 4 });
      }
      async mainLoop() {
        for (const v of [1, 2, 3, 4, 5, 6]) this.stats.add(v);
        await this.publishStats("temp_stats", this.stats);
      }
    }
    const app = new Stats({ agent: dev, appKey: "st" });
    await app.step();
    const agg = (await dev.getAggregate("tag_values")) as { st: { temp_stats: Record<string, number> } };
    expect(agg.st.temp_stats).toEqual({ count: 4, mean: 4.5, min: 3, max: 6, stddev: expect.closeTo(Math.sqrt(5 / 3), 12) });
    await app.stop();
  });

  it("a coordinator and two workers exchange commands and status through tags", async () => {
    const bus = newBus();
    const dev = bus.agent("plant");
    const log: string[] = [];

    class Worker extends Application {
      done = 0;
      async mainLoop() {
        const cmd = this.getTag(`cmd_${this.appKey}`, { appKey: "coordinator", default: "idle" }) as string;
        const status = this.getTag("status", { default: "idle" });
        if (cmd === "run" && status === "idle") await this.setTag("status", "running");
        else if (cmd === "run" && status === "running") {
          this.done++;
          await this.setTag("progress", this.done);
          if (this.done >= (this.config as { jobs: number }).jobs) await this.setTag("status", "finished");
        } else if (cmd === "stop") await this.setTag("status", "stopped");
      }
    }

    class Coordinator extends Application {
      phase = "start";
      async setup() {
        for (const w of ["worker_1", "worker_2"]) {
          this.onTagChange("status", (v) => void log.push(`${w}:${v}`), { appKey: w });
        }
      }
      async mainLoop() {
        const s1 = this.getTag("status", { appKey: "worker_1" });
        const s2 = this.getTag("status", { appKey: "worker_2" });
        if (this.phase === "start") {
          await this.setTag("cmd_worker_1", "run");
          await this.setTag("cmd_worker_2", "run");
          this.phase = "running";
        } else if (this.phase === "running" && s1 === "finished" && s2 === "finished") {
          await this.setTag("cmd_worker_1", "stop");
          await this.setTag("cmd_worker_2", "stop");
          await this.setTag("summary", "all done", { global: true });
          this.phase = "stopping";
        }
      }
    }

    const coordinator = new Coordinator({ agent: dev, appKey: "coordinator" });
    const w1 = new Worker({ agent: dev, appKey: "worker_1", config: { jobs: 2 } });
    const w2 = new Worker({ agent: dev, appKey: "worker_2", config: { jobs: 4 } });
    for (let round = 0; round < 10; round++) {
      await coordinator.step();
      await w1.step();
      await w2.step();
    }
    await tick();
    const tags = (await dev.getAggregate("tag_values")) as Record<string, Record<string, unknown>>;
    expect(tags.coordinator).toEqual({ cmd_worker_1: "stop", cmd_worker_2: "stop" });
    expect(tags.worker_1).toEqual({ status: "stopped", progress: 2 });
    expect(tags.worker_2).toEqual({ status: "stopped", progress: 4 });
    expect(tags.summary).toBe("all done");
    expect(log).toEqual([
      "worker_1:running",
      "worker_2:running",
      "worker_1:finished",
      "worker_2:finished",
      "worker_1:stopped",
      "worker_2:stopped",
    ]);
    for (const app of [coordinator, w1, w2]) await app.stop();
  });

  it("workers on other agents read the coordinator's tags with getAggregate and subscribe", async () => {
    const bus = newBus();
    const hq = bus.agent("hq"),
      field = bus.agent("field-1");
    class Hq extends Application {
      async mainLoop() {
        await this.setTag("setpoint", 21);
      }
    }
    const hqApp = new Hq({ agent: hq, appKey: "hq" });
    const seen: unknown[] = [];
    field.subscribe(
      "tag_values",
      (e) => {
        if (e.type !== "message") seen.push((e.aggregate as { hq?: { setpoint?: number } }).hq?.setpoint);
      },
      { agentId: "hq" },
    );
    await hqApp.step();
    await tick();
    expect(seen).toEqual([21]);
    expect(await field.getAggregate("tag_values", { agentId: "hq" })).toEqual({ hq: { setpoint: 21 } });
    await hqApp.stop();
  });

  it("rejects bad app and tag keys", async () => {
    const bus = newBus();
    const dev = bus.agent("dev");
    expect(() => new Application({ agent: dev, appKey: "bad key" })).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    const app = new Application({ agent: dev, appKey: "ok" });
    await expect(app.setTag("a.b", 1)).rejects.toMatchObject({ code: "TAGWIRE_ERR_NAME" });
    await expect(app.setTag("a", undefined)).rejects.toMatchObject({ code: "TAGWIRE_ERR_ARGUMENT" });
    await expect(app.setTag("a", new Map())).rejects.toMatchObject({ code: "TAGWIRE_ERR_PAYLOAD" });
    await app.step();
    expect(await dev.getAggregate("tag_values")).toEqual({});
  });
});
