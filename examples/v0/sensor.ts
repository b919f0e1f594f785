// A sensor publisher: an app that reads a (simulated, noisy) temperature every loop, keeps it as
// a tag with change-based logging, keeps a rolling window of it as a stats tag, and publishes the
// raw reading to a sensor channel only when it moved (deadband). A viewer agent on the same bus
// watches the sensor channel.
//
//   npm run build && npm start                  runs until Ctrl-C / SIGTERM
//   node dist/examples/v0/sensor.js --once         one loop, then exits
//   TAGWIRE_EXAMPLE_STEPS=5 node dist/examples/v0/sensor.js
//   TAGWIRE_EXAMPLE_PERIOD_MS=200 ...           loop period (default 1000)
import { Application, Cross, LocalBus, type RollingStats, type Json } from "../../bindings/index.js";

const SENSOR_CHANNEL = "sensors/temperature/indoor";

class TemperatureSensor extends Application<{ baseC: number; swingC: number; noiseC: number }> {
  private stats!: RollingStats;
  private loops = 0;

  async setup(): Promise<void> {
    this.stats = this.createRollingStats({ window: 60 });
    console.log(`[${this.appKey}] setup: window of 60 samples, logging when temp crosses 23 °C (deadband 0.5)`);
  }

  async mainLoop(): Promise<void> {
    this.loops++;
    const { baseC, swingC, noiseC } = this.config;
    // A slow sine (one cycle per ~60 loops) plus uniform noise.
    const reading = round(baseC + swingC * Math.sin((this.loops / 60) * 2 * Math.PI) + (Math.random() - 0.5) * 2 * noiseC, 2);
    this.stats.add(reading);
    const before = this.getTag("temp");
    await this.setTag("temp", reading, { logOn: new Cross(23, { deadband: 0.5 }) });
    await this.publishStats("temp_stats", this.stats);
    const sent = await this.agent.publishOnChange(SENSOR_CHANNEL, "value", reading, { threshold: 0.3 });
    const s = this.stats.summary();
    console.log(
      `[${this.appKey}] loop ${this.loops}: temp=${reading.toFixed(2)} °C (was ${before ?? "-"}), ` +
        `mean=${s.mean.toFixed(2)} min=${s.min.toFixed(2)} max=${s.max.toFixed(2)} sd=${s.stddev.toFixed(2)} n=${s.count}` +
        `${sent ? `, published to ${SENSOR_CHANNEL}` : ", within deadband"}`,
    );
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function main(): Promise<void> {
  const once = process.argv.includes("--once");
  const stepsEnv = process.env.TAGWIRE_EXAMPLE_STEPS;
  const steps = once ? 1 : stepsEnv ? Number(stepsEnv) : undefined;
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1))
    throw new Error(`TAGWIRE_EXAMPLE_STEPS must be a positive integer, got ${stepsEnv}`);
  const periodMs = Number(process.env.TAGWIRE_EXAMPLE_PERIOD_MS ?? 1000);

  const bus = await LocalBus.create();
  const device = bus.agent("sensor-1");
  const viewer = bus.agent("viewer");
  viewer.subscribe(
    "sensors/#",
    (e) => {
      if (e.type === "aggregate") console.log(`  [viewer] ${e.agentId}/${e.channel} -> ${JSON.stringify(e.diff)} (v${e.version})`);
    },
    { agentId: "+" },
  );
  device.subscribe("tag_values", (e) => {
    if (e.type === "message") console.log(`  [log] tag_values message: ${JSON.stringify(e.message.data)}`);
  });

  const app = new TemperatureSensor({
    agent: device,
    appKey: "temp_sensor",
    loopPeriodMs: periodMs,
    config: { baseC: 22.5, swingC: 1.5, noiseC: 0.4 },
  });

  const finish = async (why: string) => {
    await app.stop();
    const tags = (await device.getAggregate("tag_values")) as { [k: string]: Json };
    console.log(`[main] ${why}; final tags: ${JSON.stringify(tags)}`);
    console.log(`[main] logged messages: ${(await device.getMessages("tag_values")).length}`);
    await device.close();
    await viewer.close();
    await bus.close();
  };

  if (steps !== undefined) {
    for (let i = 0; i < steps; i++) {
      await app.step();
      if (i < steps - 1) await new Promise((r) => setTimeout(r, periodMs));
    }
    await finish(`ran ${steps} loop${steps === 1 ? "" : "s"}`);
    return;
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[main] ${signal}: stopping`);
    void finish(`stopped by ${signal}`).then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  console.log(`[main] running every ${periodMs} ms; Ctrl-C to stop`);
  await app.start();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
