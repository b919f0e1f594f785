// A Doover 1.x application end to end (examples/ui-app.ts: declared tags, a declarative UI bound
// to them, commands with coerce), over the in-process LocalBus and over a real hub through
// WebSocket clients. The "site" is a second agent: it reads the published schema, sends commands
// as RPC messages into the device's ui_cmds and awaits the replies.
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "../bindings/client/index.js";
import { LocalBus, ui1x as ui, type Agent, type Json } from "../bindings/index.js";
import { PUMP_TAGS, Pump } from "../examples/ui-app.js";
import { hubPerSuite } from "./hub-helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Send = (id: string, data: Json) => Promise<void>;

async function command(site: Agent, send: Send, deviceId: string, method: string, request: Json): Promise<Json> {
  const id = `cmd-${method}-${Math.random().toString(36).slice(2)}`;
  const reply = new Promise<Json>((resolve) => {
    const stop = site.subscribe(
      "ui_cmds",
      (e) => {
        if (e.type !== "message") return;
        const d = e.message.data as Record<string, Json>;
        if (d.reply_to !== id) return;
        stop();
        resolve({ status: d.status!, response: d.response! });
      },
      { agentId: deviceId },
    );
  });
  await send(id, { type: "rpc", method, request, status: { code: "sent" }, response: {}, app_key: "pump" });
  return reply;
}

async function scenario(device: Agent, site: Agent, send: Send): Promise<void> {
  const app = new Pump({ agent: device, appKey: "pump", loopPeriodMs: 50 });
  cleanups.push(async () => {
    app.attached?.detach();
    await app.stop();
  });
  await app.step();

  // The schema is pydoover's: elements reference tags and commands, config refs resolved.
  const uiState = (await site.getAggregate("ui_state", { agentId: device.id })) as {
    state: { children: Record<string, Record<string, Json>> };
  };
  const schema = uiState.state.children.pump!;
  expect(schema.type).toBe("uiApplication");
  expect(schema.name).toBe("pump");
  expect(schema.displayString).toBe("Pump");
  const status = (schema.children as Record<string, Record<string, Record<string, Record<string, Json>>>>).status!;
  expect(status.children!.water_temperature!.currentValue).toBe("$tag.app().temperature:number:15");
  expect((schema.children as Record<string, Record<string, Json>>).target_temperature!.currentValue).toBe(
    "$cmds.app().target_temperature::20",
  );
  // Values live only in tag_values, under the app key, declared defaults until set.
  expect(app.t.running.get()).toBe(false);

  expect(await command(site, send, device.id, "start", true)).toEqual({ status: { code: "success", message: null }, response: {} });
  expect(app.t.running.get()).toBe(true);
  expect(await command(site, send, device.id, "target_temperature", "35")).toEqual({
    status: { code: "success", message: null },
    response: { accepted: 35 },
  });
  expect(await command(site, send, device.id, "target_temperature", 99)).toEqual({
    status: { code: "error", message: { code: "BAD_SETPOINT", message: "target out of range: 99" } },
    response: {},
  });
  // The accepted (coerced) value is stored for the interaction, the refused one is not.
  await expect
    .poll(async () => ((await site.getAggregate("ui_cmds", { agentId: device.id })) as Record<string, Json>).pump)
    .toEqual({ start: true, target_temperature: 35 });
  expect(app.attached!.commands.value("target_temperature")).toBe(35);

  for (let i = 0; i < 4; i++) await app.step();
  const tagValues = (await site.getAggregate("tag_values", { agentId: device.id })) as Record<string, Record<string, Json>>;
  expect(tagValues.pump!.state).toBe("running");
  expect(tagValues.pump!.temperature).toBeGreaterThan(30);
  // Cross(30) on temperature and AnyChange on running logged data points.
  const logged = (await site.getMessages("tag_values", { agentId: device.id })).map((m) => m.data as Record<string, Record<string, Json>>);
  expect(logged.some((m) => m.pump?.running === true)).toBe(true);
  expect(logged.some((m) => typeof m.pump?.temperature === "number" && (m.pump.temperature as number) >= 30.5)).toBe(true);
  expect(Object.keys(PUMP_TAGS)).toEqual(["temperature", "running", "state"]);
}

describe("a 1.x application", () => {
  it("runs over LocalBus", async () => {
    const bus = new LocalBus();
    cleanups.push(() => bus.close());
    const device = bus.agent("pump-1x");
    const site = bus.agent("site");
    await scenario(device, site, async (id, data) => {
      await bus.createMessage(device.id, "ui_cmds", data, { messageId: id });
    });
  });

  describe("over a hub", () => {
    const hub = hubPerSuite({ auth: false, log: () => {} });
    it("runs over WebSocket clients", async () => {
      const device = await connect(hub.url, { agentId: `pump-1x-${Date.now()}` });
      const site = await connect(hub.url, { agentId: `site-${Date.now()}` });
      cleanups.push(async () => {
        await site.close();
        await device.close();
      });
      // The site's command goes through a third client acting as the device's own writer: the
      // hub lets an agent create messages only on its own channels.
      const writer = await connect(hub.url, { agentId: device.id });
      cleanups.push(() => writer.close());
      await scenario(device, site, async (id, data) => {
        await writer.createMessage("ui_cmds", data, { messageId: id });
      });
    });
  });
});

describe("UICommands", () => {
  it("answers an unknown method with nothing and a handler error with INTERNAL_ERROR", async () => {
    const bus = new LocalBus();
    cleanups.push(() => bus.close());
    const agent = bus.agent("x");
    const commands = new ui.UICommands(agent, "app");
    cleanups.push(async () => commands.stop());
    commands.onCommand(/^do_/, () => {
      throw new Error("boom");
    });
    await expect(commands.call("do_it", 1, { timeoutMs: 2000 })).rejects.toMatchObject({ code: "INTERNAL_ERROR", message: "boom" });
    await expect(commands.call("unknown", 1, { timeoutMs: 100 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_TIMEOUT" });
    // A command for another app is not ours.
    commands.onCommand("other", () => ({ ok: true }));
    await expect(commands.call("other", 1, { appKey: "someone_else", timeoutMs: 100 })).rejects.toMatchObject({
      code: "TAGWIRE_ERR_TIMEOUT",
    });
    await expect(commands.call("other", 1, { timeoutMs: 2000 })).resolves.toEqual({ ok: true });
  });
});

describe("ui1x.handler (pydoover's @handler)", () => {
  // The test transformer does not lower TC39 decorators; this drives the decorator protocol as
  // tsc's output does (see the same helper in sdk.ui.test.ts).
  it("registers the decorated method, with coerce, when attachUI runs", async () => {
    const bus = new LocalBus();
    cleanups.push(() => bus.close());
    const dev = bus.agent("dec");
    const { Application: App } = await import("../bindings/index.js");
    class Heater extends App {
      seen: Json[] = [];
      async onTarget(value: number): Promise<Json> {
        this.seen.push(value);
        return { ok: value };
      }
    }
    const initializers: ((this: unknown) => void)[] = [];
    const context = {
      kind: "method",
      name: "onTarget",
      static: false,
      private: false,
      metadata: {},
      addInitializer: (f: (this: unknown) => void) => initializers.push(f),
    };
    ui.handler<number>("target", { coerce: Number })(Heater.prototype.onTarget as never, context as never);
    const app = new Heater({ agent: dev, appKey: "heater" });
    for (const f of initializers) f.call(app);
    const attached = await ui.attachUI(app, new ui.UI([new ui.FloatInput("Target")]));
    cleanups.push(async () => attached.detach());
    const caller = new ui.UICommands(dev, "heater");
    cleanups.push(async () => caller.stop());
    expect(await caller.call("target", "21.5", { timeoutMs: 2000 })).toEqual({ ok: 21.5 });
    expect(app.seen).toEqual([21.5]);
    expect(attached.commands.value("target")).toBe(21.5);
  });
});

describe("getTag and declared tags", () => {
  it("falls back on the declared default (coerced), only for this app's own declared keys", async () => {
    const bus = new LocalBus();
    cleanups.push(() => bus.close());
    const { Application: App, tags: T } = await import("../bindings/index.js");
    const app = new App({ agent: bus.agent("g"), appKey: "a" });
    const t = app.declareTags({ on: new T.Boolean({ default: 1 }), level: new T.Number({ default: 7, name: "lvl" }) });
    expect(app.getTag("on")).toBe(true); // Python's bool(1)
    expect(app.getTag("lvl")).toBe(7);
    expect(app.getTag("level")).toBeUndefined(); // the key is the declared name
    expect(app.getTag("lvl", { default: 3 })).toBe(3); // an explicit default wins
    expect(app.getTag("lvl", { appKey: "other" })).toBeUndefined();
    await t.level.set(9);
    expect(app.getTag("lvl")).toBe(9);
    await t.level.delete();
    expect(app.getTag("lvl")).toBe(7);
  });
});
