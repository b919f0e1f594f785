// Alert deduplication: a tank drains; below 20 % the app raises a "low level" alert once (not once
// per loop), clears it with a resolution message when refilled, and raises it again when the level
// falls a second time. A viewer prints the notifications as Doover would receive them.
//
//   npm run build && node dist/examples/v0/alerts.js
//   TAGWIRE_EXAMPLE_STEPS=6 node dist/examples/v0/alerts.js   # stop after 6 loops (default 14)
import { AlertStream, Application, LocalBus, NumericVariable } from "../../bindings/index.js";

const STEPS = Number(process.env.TAGWIRE_EXAMPLE_STEPS ?? 14);
const LOW = 20;

class Tank extends Application {
  private level = 30;

  override async setup(): Promise<void> {
    this.ui.add(new NumericVariable("level", "Level", { precision: 0, units: "%" }), new AlertStream());
  }

  override async mainLoop(): Promise<void> {
    // Drains 6 % per loop and is refilled to 60 % once empty.
    this.level = this.level < 6 ? 60 : this.level - 6;
    this.ui.setValue("level", this.level);
    if (this.level < LOW) {
      const sent = await this.sendAlertOnce("low_level", `Tank level low: ${this.level}%`, { title: "Tank 1", severity: "warn" });
      console.log(`level ${this.level}% -> low; alert ${sent ? "sent" : "already active, not repeated"}`);
    } else {
      const cleared = await this.clearAlert("low_level", { message: `Tank level back to ${this.level}%`, severity: "info" });
      console.log(`level ${this.level}%${cleared ? " -> alert cleared" : ""}`);
    }
  }
}

async function main(): Promise<void> {
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
  for (let loop = 0; loop < STEPS; loop++) await app.step();

  console.log(`active alerts: ${JSON.stringify(await app.alerts.activeAlerts())}`);
  await app.stop();
  await bus.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
