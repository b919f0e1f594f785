// Alert deduplication in Doover 1.x style: a tank's level is a declared tag shown by a 1.x UI;
// below 20 % the app raises a "low level" alert once (not once per loop), clears it with a
// resolution message when refilled, and raises it again when the level falls a second time. A
// viewer prints the notifications. pydoover 1.x has no AlertStream element; the alert state lives
// on the `notifications` channel. (The 0.4 form, with an AlertStream: examples/v0/alerts.ts.)
//
//   npm run build && node dist/examples/alerts.js     (14 loops; TAGWIRE_EXAMPLE_STEPS=n)
import { Application, LocalBus, tags, ui1x as ui } from "../bindings/index.js";

const LOW = 20;

class Tank extends Application {
  readonly t = this.declareTags({ level: new tags.Number({ default: 30, logOn: new tags.Fall([LOW]) }) });

  override async setup(): Promise<void> {
    await ui.attachUI(
      this,
      new ui.UI(
        [
          new ui.NumericVariable("Level", {
            value: this.t.level,
            precision: 0,
            units: "%",
            ranges: [new ui.Range({ label: "Low", minVal: 0, maxVal: LOW, colour: ui.Colour.red })],
          }),
          new ui.WarningIndicator("Low Level", { hidden: ui.tagRef("level_ok", "boolean", true) }),
        ],
        { displayName: "Tank" },
      ),
    );
  }

  override async mainLoop(): Promise<void> {
    // Drains 6 % per loop and is refilled to 60 % once empty.
    const before = this.t.level.get() as number;
    const level = before < 6 ? 60 : before - 6;
    await this.t.level.set(level);
    await this.setTag("level_ok", level >= LOW); // hides the warning while the level is fine
    if (level < LOW) {
      const sent = await this.sendAlertOnce("low_level", `Tank level low: ${level}%`, { title: "Tank 1", severity: "warn" });
      console.log(`level ${level}% -> low; alert ${sent ? "sent" : "already active, not repeated"}`);
    } else {
      const cleared = await this.clearAlert("low_level", { message: `Tank level back to ${level}%`, severity: "info" });
      console.log(`level ${level}%${cleared ? " -> alert cleared" : ""}`);
    }
  }
}

async function main(): Promise<void> {
  const steps = Number(process.env.TAGWIRE_EXAMPLE_STEPS ?? 14);
  const bus = new LocalBus();
  const device = bus.agent("tank-1");
  bus.agent("viewer").subscribe(
    "notifications",
    (event) => {
      if (event.type === "message") console.log(`  notification: ${JSON.stringify(event.message.data)}`);
    },
    { agentId: device.id },
  );
  const app = new Tank({ agent: device, appKey: "tank" });
  for (let loop = 0; loop < steps; loop++) await app.step();
  console.log(`active alerts: ${JSON.stringify(await app.alerts.activeAlerts())}`);
  await app.stop();
  await bus.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
