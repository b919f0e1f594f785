// The README's ten-line example, run as written (only console.log is captured).
// biome-ignore-all format: the README's ten lines stay exactly as the README prints them
import { expect, test } from "vitest";
import { LocalBus, Application, tags } from "../bindings/index.js";

test("the README's ten lines do what the README says", async () => {
  const seen: unknown[] = [];
  const log = (...args: unknown[]) => {
    seen.push(args);
  };

  const bus = new LocalBus();
  const dev = bus.agent("dev-1"), viewer = bus.agent("viewer");
  viewer.subscribe("sensors/+/indoor", (e) => log(e.type, e.channel, "aggregate" in e ? e.aggregate : undefined), { agentId: "dev-1" });
  await dev.publish("sensors/temperature/indoor", { value: 21.5 }, { log: true });

  class Sim extends Application { t = this.declareTags({ temp: new tags.Number({ default: 20 }) }); async mainLoop() { await this.t.temp.set(25.5); } }
  const app = new Sim({ agent: dev, appKey: "sim_1", loopPeriodMs: 1000 });
  expect(app.t.temp.get()).toBe(20); // the declared default before the first write
  await app.step();

  expect(await dev.getAggregate("tag_values")).toEqual({ sim_1: { temp: 25.5 } });
  expect(await dev.getAggregate("sensors/temperature/indoor")).toEqual({ value: 21.5 });
  await new Promise((r) => setTimeout(r, 10));
  expect(seen).toContainEqual(["aggregate", "sensors/temperature/indoor", { value: 21.5 }]);
  expect((await dev.getMessages("sensors/temperature/indoor")).map((m) => m.data)).toEqual([{ value: 21.5 }]);
});

test("the README's 0.4-style line still does the same", async () => {
  const bus = new LocalBus();
  const dev = bus.agent("dev-1");
  class Sim extends Application { async mainLoop() { await this.setTag("temp", 25.5); } }
  await new Sim({ agent: dev, appKey: "sim_1", loopPeriodMs: 1000 }).step();
  expect(await dev.getAggregate("tag_values")).toEqual({ sim_1: { temp: 25.5 } });
  await bus.close();
});
