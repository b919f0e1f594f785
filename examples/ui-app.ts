// A pump controller in Doover 1.x style: tags declared once (type, default, logging triggers), a
// declarative UI whose elements point at those tags and at commands instead of carrying values,
// and command handlers. The UI schema is published once; the dashboard reads values from
// `tag_values` and sends commands on `ui_cmds`. (The 0.4 form of this app: examples/v0/ui-app.ts.)
//
//   npm run build && node dist/examples/ui-app.js
//   TAGWIRE_EXAMPLE_STEPS=4 node dist/examples/ui-app.js   # stop after 4 loops (default 8)
import { pathToFileURL } from "node:url";
import { Application, LocalBus, tags, ui1x as ui, type Agent, type Json } from "../bindings/index.js";

/** The tags, as pydoover's `class PumpTags(Tags)`. */
export const PUMP_TAGS = {
  temperature: new tags.Number({ default: 15, logOn: new tags.Cross([30], { deadband: 1 }) }),
  running: new tags.Boolean({ default: false, logOn: new tags.AnyChange() }),
  state: new tags.String({ default: "stopped" }),
};

export class Pump extends Application {
  readonly t = this.declareTags(PUMP_TAGS);
  attached: ui.AttachedUI | undefined;

  override async setup(): Promise<void> {
    const t = this.t;
    // pydoover: class PumpUI(UI): start = Button("Start"); ... (declared once, values by reference)
    const pumpUI = new ui.UI(
      [
        new ui.Button("Start", { colour: ui.Colour.green }),
        new ui.Button("Stop", { colour: ui.Colour.red, requiresConfirm: true }),
        new ui.FloatInput("Target Temperature", { minVal: 5, maxVal: 40, default: 20 }),
        new ui.Submodule("Status", {
          children: [
            new ui.TextVariable("State", { value: t.state }),
            new ui.NumericVariable("Water Temperature", { value: t.temperature, precision: 1, units: "°C" }),
          ],
        }),
      ],
      { displayName: "Pump" },
    );
    this.attached = await ui.attachUI(this, pumpUI);
    const commands = this.attached.commands;
    commands.onCommand("start", async () => {
      await t.running.set(true);
    });
    commands.onCommand("stop", async () => {
      await t.running.set(false);
    });
    // The raw request is coerced before the handler sees it; a bad value answers an error.
    commands.onCommand<number>("target_temperature", (value) => ({ accepted: value }), {
      coerce: (raw) => {
        const n = Number(raw);
        if (!Number.isFinite(n) || n < 5 || n > 40) throw new ui.CommandError("BAD_SETPOINT", `target out of range: ${String(raw)}`);
        return n;
      },
    });
  }

  override async mainLoop(): Promise<void> {
    const setpoint = Number(this.attached?.commands.value("target_temperature") ?? 20);
    const running = this.t.running.get() === true;
    const current = this.t.temperature.get() as number;
    // Heats towards the setpoint while running, cools towards 15 when stopped.
    const next = Math.round((current + ((running ? setpoint : 15) - current) * 0.5) * 10) / 10;
    await this.t.temperature.set(next);
    await this.t.state.set(running ? "running" : "stopped");
  }
}

/** The site's side of a command: an RPC message into the device's `ui_cmds`, then its reply. */
async function siteCommand(bus: LocalBus, site: Agent, deviceId: string, appKey: string, method: string, request: Json): Promise<Json> {
  const id = `site-${++commandCount}`;
  // Listen first: the app may answer before createMessage resolves.
  const reply = new Promise<Json>((resolve) => {
    const stop = site.subscribe(
      "ui_cmds",
      (e) => {
        if (e.type !== "message") return;
        const d = e.message.data as { reply_to?: string; status?: Json; response?: Json };
        if (d.reply_to !== id) return;
        stop();
        resolve({ status: d.status ?? null, response: d.response ?? null });
      },
      { agentId: deviceId },
    );
  });
  await bus.createMessage(
    deviceId,
    "ui_cmds",
    { type: "rpc", method, request, status: { code: "sent" }, response: {}, app_key: appKey },
    { messageId: id },
  );
  return reply;
}
let commandCount = 0;

async function main(): Promise<void> {
  const steps = Number(process.env.TAGWIRE_EXAMPLE_STEPS ?? 8);
  const bus = new LocalBus();
  const device = bus.agent("pump-1x");
  const site = bus.agent("site");
  const app = new Pump({ agent: device, appKey: "pump", loopPeriodMs: 100 });
  await app.step();
  const uiState = (await device.getAggregate("ui_state")) as { state: { children: Record<string, unknown> } };
  console.log(`ui_state schema: ${JSON.stringify(uiState.state.children.pump).slice(0, 160)}...`);

  const operator: Record<number, [string, Json]> = {
    1: ["start", true],
    3: ["target_temperature", 35],
    4: ["target_temperature", 99],
    6: ["stop", true],
  };
  for (let loop = 1; loop <= steps; loop++) {
    const command = operator[loop];
    if (command)
      console.log(
        `site: ${command[0]} = ${JSON.stringify(command[1])} -> ${JSON.stringify(await siteCommand(bus, site, device.id, "pump", command[0], command[1]))}`,
      );
    await app.step();
    console.log(`loop ${loop}: tags ${JSON.stringify(((await device.getAggregate("tag_values")) as Record<string, unknown>).pump)}`);
  }
  console.log(`ui_cmds: ${JSON.stringify(await device.getAggregate("ui_cmds"))}`);
  app.attached?.detach();
  await app.stop();
  await bus.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
