// A pump controller with a UI: a Start/Stop action, a setpoint parameter and live variables, on an
// in-process LocalBus. An "operator" plays the part of the Doover site: it writes commands into the
// device's `ui_cmds` (as the hub does for a user) and watches the `ui_state` diffs the app sends.
//
//   npm run build && node dist/examples/v0/ui-app.js
//   TAGWIRE_EXAMPLE_STEPS=4 node dist/examples/v0/ui-app.js   # stop after 4 loops (default 8)
import {
  Action,
  Application,
  Colour,
  LocalBus,
  NumericParameter,
  NumericVariable,
  Submodule,
  TextVariable,
  uiCommand,
  type CommandContext,
  type Json,
} from "../../bindings/index.js";

const STEPS = Number(process.env.TAGWIRE_EXAMPLE_STEPS ?? 8);
const LOOP_PERIOD_MS = 100;

class Pump extends Application {
  private pumping = false;
  private temperature = 15;

  override async setup(): Promise<void> {
    this.ui.add(
      new Action("start", "Start", { colour: Colour.green, requiresConfirm: false }),
      new Action("stop", "Stop", { colour: Colour.red }),
      new NumericParameter("setpoint", "Setpoint", { min: 5, max: 40, default: 20 }),
      new Submodule("status", "Status", {
        children: [
          new TextVariable("state", "State", { currentValue: "stopped" }),
          new NumericVariable("temperature", "Temperature", { precision: 1, units: "°C" }),
        ],
      }),
    );
    // A plain handler; the actions below use the decorator form.
    this.ui.onCommand("setpoint", (value) => {
      console.log(`  app: setpoint is now ${String(value)}`);
    });
  }

  // TC39 decorators: registered on this.ui when the instance is created.
  @uiCommand("start")
  async onStart(_value: Json, ctx: CommandContext): Promise<void> {
    this.pumping = true;
    console.log("  app: starting");
    await ctx.clear(); // actions are cleared once handled, so the next press fires again
  }

  @uiCommand("stop")
  async onStop(_value: Json, ctx: CommandContext): Promise<void> {
    this.pumping = false;
    console.log("  app: stopping");
    await ctx.clear();
  }

  override async mainLoop(): Promise<void> {
    const setpoint = this.ui.getValue("setpoint") as number;
    // Heats towards the setpoint while running, cools towards 15 when stopped.
    const target = this.pumping ? setpoint : 15;
    this.temperature += (target - this.temperature) * 0.5;
    this.ui.setValue("temperature", this.temperature);
    this.ui.setValue("state", this.pumping ? "running" : "stopped");
    await this.setTag("temperature", Math.round(this.temperature * 10) / 10);
  }
}

async function main(): Promise<void> {
  const bus = new LocalBus();
  const device = bus.agent("pump-controller");
  const site = bus.agent("site");

  site.subscribe(
    "ui_state",
    (event) => {
      if (event.type === "aggregate") console.log(`  ui_state diff: ${JSON.stringify(event.diff)}`);
    },
    { agentId: device.id },
  );

  // What a user does on the site, keyed by loop number.
  const operator: Record<number, [string, Json]> = { 2: ["start", true], 4: ["setpoint", 30], 6: ["stop", true] };

  const app = new Pump({ agent: device, appKey: "pump_1", loopPeriodMs: LOOP_PERIOD_MS });
  for (let loop = 1; loop <= STEPS; loop++) {
    const command = operator[loop];
    if (command !== undefined) {
      const [name, value] = command;
      console.log(`operator: ${name} = ${JSON.stringify(value)}`);
      await bus.publish(device.id, "ui_cmds", { pump_1: { [name]: value } });
      await app.ui.idle();
    }
    console.log(`loop ${loop}`);
    await app.step(); // one main loop, then the tag commit and the UI commit (a diff, if any)
    await new Promise((resolve) => setTimeout(resolve, LOOP_PERIOD_MS));
  }

  console.log(`ui_cmds: ${JSON.stringify(await device.getAggregate("ui_cmds"))}`);
  await app.stop();
  await bus.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
