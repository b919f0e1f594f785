// A sensor publisher in Doover 1.x style: the temperature is a declared tag (type, default and a
// crossing trigger that logs a data point when it passes 23 °C), read and written through the app;
// a rolling window is published as a stats tag and the raw reading goes to a sensor channel only
// when it moved. The dashboard sees it through a one-element 1.x UI bound to the tag.
// (The 0.4 form: examples/v0/sensor.ts.)
//
//   npm run build && node dist/examples/sensor.js            (8 loops; TAGWIRE_EXAMPLE_STEPS=n)
import { Application, LocalBus, type RollingStats, tags, ui1x as ui } from "../bindings/index.js";

const SENSOR_CHANNEL = "sensors/temperature/indoor";

class TemperatureSensor extends Application<{ baseC: number; swingC: number }> {
  readonly t = this.declareTags({
    temp: new tags.Number({ default: 22, logOn: new tags.Cross([23], { deadband: 0.5 }), live: true }),
  });
  private stats!: RollingStats;
  private loops = 0;

  override async setup(): Promise<void> {
    this.stats = this.createRollingStats({ window: 60 });
    await ui.attachUI(
      this,
      new ui.UI([new ui.NumericVariable("Temperature", { value: this.t.temp, precision: 2, units: "°C" })], { displayName: "Sensor" }),
    );
  }

  override async mainLoop(): Promise<void> {
    this.loops++;
    const { baseC, swingC } = this.config;
    const reading = Math.round((baseC + swingC * Math.sin(this.loops / 2)) * 100) / 100;
    const before = this.t.temp.get(); // the declared default until the first write
    this.stats.add(reading);
    await this.t.temp.set(reading);
    await this.publishStats("temp_stats", this.stats);
    const sent = await this.agent.publishOnChange(SENSOR_CHANNEL, "value", reading, { threshold: 0.3 });
    console.log(`[${this.appKey}] loop ${this.loops}: temp ${before} -> ${reading} °C${sent ? `, published to ${SENSOR_CHANNEL}` : ""}`);
  }
}

async function main(): Promise<void> {
  const steps = Number(process.env.TAGWIRE_EXAMPLE_STEPS ?? 8);
  const bus = await LocalBus.create();
  const device = bus.agent("sensor-1");
  device.subscribe("tag_values", (e) => {
    if (e.type === "message") console.log(`  [log] ${JSON.stringify(e.message.data)}`);
  });
  const app = new TemperatureSensor({ agent: device, appKey: "temp_sensor", config: { baseC: 22.5, swingC: 1.5 } });
  for (let i = 0; i < steps; i++) await app.step();
  console.log(`[main] tags: ${JSON.stringify(await device.getAggregate("tag_values"))}`);
  await app.stop();
  await bus.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
