// The `npm start` demo (`tagwire start`): a hub with the viewer, and a simulated climate chamber
// built with the SDK, connected to that hub over WebSocket like any real device.
//
// The chamber has temperature and humidity sensors with noise and a heater. Its app publishes
// - tags (`tag_values`): readings, a 1-minute rolling summary of each (count, mean, min, max,
//   stddev, computed in the wasm core), heater state and setpoint;
// - the raw readings to `sensors/climate`, logged, so the viewer has a history to chart;
// - a UI (`ui_state`): readings, a setpoint parameter and Start/Stop actions (Stop asks for
//   confirmation), handled from `ui_cmds`;
// - notifications: "heater started/stopped", and a high-temperature alert sent once while the
//   temperature stays high (sendAlertOnce) and cleared, with a resolution message, when it falls.
// Start the heater, raise the setpoint above 30 °C and watch the alert arrive.
//
// Auth: by default the hub runs without tokens and listens on 127.0.0.1 only, so nothing beyond
// this machine can reach it and the viewer's publish box can write any channel. With `auth: true`
// (or a non-loopback host, which forces it) the demo creates a device token for the chamber and
// an operator token for the viewer, and prints a viewer address carrying it.
import { connect } from "../bindings/client/index.js";
import {
  Action,
  AlertStream,
  Application,
  Colour,
  NumericParameter,
  NumericVariable,
  Submodule,
  TextVariable,
  type Agent,
  type RollingStats,
} from "../bindings/index.js";
import { pathToFileURL } from "node:url";
import { createToken, loadSecret, startHub, type HubOptions, type RunningHub } from "../hub/index.js";
import { Pump } from "./ui-app.js";
import { createViewerHandler, defaultViewerDir, viewerBuilt } from "../viewer/serve.js";

export interface DemoOptions {
  /** Hub port (default TAGWIRE_PORT, else 8080; 0 picks a free one). */
  port?: number;
  /** Interface (default 127.0.0.1; anything else turns auth on). */
  host?: string;
  /** Hub storage (default ./data). */
  dataDir?: string;
  /** Require tokens (default false on loopback). */
  auth?: boolean;
  /** The chamber's agent id (default "climate-chamber"). */
  agentId?: string;
  /** Main loop period (default 1000 ms). */
  loopPeriodMs?: number;
  /** Built viewer directory (default dist/viewer/www). */
  viewerDir?: string;
  /** Seed of the sensor noise (default random). */
  seed?: number;
  /** Simulated seconds per real second (default 1; tests speed the physics up). */
  speed?: number;
  /** Cluster mode: the hub keeps channels in NATS JetStream (hub/cluster, docs/CLUSTER.md). */
  nats?: import("../hub/cluster/jetstream-storage.js").ClusterOptions;
  /** Where the demo's log lines go (default console.log). */
  log?: (line: string) => void;
  /** The hub's own log (default: into `log` with a "hub:" prefix). */
  hubLog?: (line: string) => void;
  /** Serve Doover's Device Agent gRPC service too (docs/DOOVER.md). */
  deviceAgent?: HubOptions["deviceAgent"];
}

export interface RunningDemo {
  readonly hub: RunningHub;
  readonly agent: Agent;
  readonly app: ClimateChamber;
  /** A Doover 1.x app (declared tags, declarative UI) on the same device, beside the 0.4 one. */
  readonly app1x: Pump;
  /** The viewer's address (with `?token=` when auth is on). */
  readonly viewerUrl: string;
  /** The operator token the viewer URL carries (auth only). */
  readonly viewerToken: string | undefined;
  /** Stops the app, the device connection and the hub. */
  close(): Promise<void>;
}

export const APP_KEY = "climate";
/** App key of the 1.x demo app (examples/ui-app.ts). */
export const APP_KEY_1X = "pump_1x";
/** Above this the high-temperature alert is raised; it clears 1 °C below. */
export const HIGH_TEMPERATURE_C = 30;

/** xorshift32: the same noise for the same seed. */
function noiseSource(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  // Standard normal by Box-Muller.
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface ClimateConfig {
  seed: number;
  /** Simulated seconds per real second. */
  speed: number;
  log: (line: string) => void;
}

export class ClimateChamber extends Application<ClimateConfig> {
  private heating = false;
  private setpoint = 24;
  private temperature = 19;
  private humidity = 55;
  private readonly noise = noiseSource(this.config.seed);
  private temperatureStats!: RollingStats;
  private humidityStats!: RollingStats;
  private loops = 0;

  override async setup(): Promise<void> {
    this.temperatureStats = this.createRollingStats({ windowMs: 60_000 });
    this.humidityStats = this.createRollingStats({ windowMs: 60_000 });
    this.ui.add(
      new Submodule("readings", "Readings", {
        children: [
          new NumericVariable("temperature", "Temperature", {
            precision: 1,
            units: "°C",
            ranges: [
              { label: "Cold", min: 0, max: 15, colour: Colour.blue },
              { label: "Normal", min: 15, max: HIGH_TEMPERATURE_C, colour: Colour.green },
              { label: "High", min: HIGH_TEMPERATURE_C, max: 45, colour: Colour.red },
            ],
          }),
          new NumericVariable("humidity", "Humidity", { precision: 0, units: "%RH" }),
          new NumericVariable("temperature_mean", "Mean temperature (1 min)", { precision: 2, units: "°C" }),
        ],
      }),
      new Submodule("control", "Heater", {
        children: [
          new TextVariable("heater", "State", { currentValue: "off" }),
          new NumericParameter("setpoint", "Setpoint (°C)", { min: 10, max: 40, default: this.setpoint }),
          new Action("start", "Start heater", { colour: Colour.green, requiresConfirm: false }),
          new Action("stop", "Stop heater", { colour: Colour.red, requiresConfirm: true }),
        ],
      }),
      new AlertStream(),
    );

    // The setpoint lives in ui_cmds (where the viewer writes it): seed it once with the default,
    // so every viewer shows it; a value set earlier (kept by the hub) wins.
    const commands = await this.agent.getAggregate("ui_cmds");
    const own = commands !== null && typeof commands === "object" && !Array.isArray(commands) ? commands[this.appKey] : undefined;
    const stored = own !== null && typeof own === "object" && !Array.isArray(own) ? own.setpoint : undefined;
    if (stored === undefined || stored === null) await this.ui.coerce("setpoint", this.setpoint, { log: false });

    this.ui.onCommand("setpoint", (value) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 10 || n > 40) {
        this.config.log(`ignored setpoint ${JSON.stringify(value)} (must be 10..40)`);
        return;
      }
      this.setpoint = n;
      this.config.log(`setpoint is now ${n} °C`);
    });
    this.ui.onCommand("start", async (_value, ctx) => {
      await ctx.clear(); // an action fires again only after it is cleared
      if (this.heating) return;
      this.heating = true;
      this.config.log("start pressed: heater on");
      this.ui.setValue("heater", this.heaterState());
      await this.ui.commit();
      await this.sendNotification(`Heater started (setpoint ${this.setpoint} °C)`, { title: "Climate chamber", severity: "info" });
    });
    this.ui.onCommand("stop", async (_value, ctx) => {
      await ctx.clear();
      if (!this.heating) return;
      this.heating = false;
      this.config.log("stop pressed: heater off");
      this.ui.setValue("heater", this.heaterState());
      await this.ui.commit();
      await this.sendNotification("Heater stopped", { title: "Climate chamber", severity: "info" });
    });
  }

  override async mainLoop(): Promise<void> {
    const dt = (Math.max(this.loopPeriodMs, 100) / 1000) * this.config.speed;
    const now = Date.now();
    // The room drifts slowly around 18 °C; the heater pulls towards the setpoint, the room
    // pulls back when it is off. Humidity falls as the air warms.
    const ambient = 18 + 1.5 * Math.sin(now / 300_000);
    const target = this.heating ? this.setpoint : ambient;
    this.temperature += (target - this.temperature) * Math.min(1, (this.heating ? 0.12 : 0.05) * dt) + 0.03 * this.noise() * Math.sqrt(dt);
    const relative = 62 - 1.4 * (this.temperature - 18);
    this.humidity += (relative - this.humidity) * Math.min(1, 0.2 * dt) + 0.4 * this.noise() * Math.sqrt(dt);
    this.humidity = Math.min(100, Math.max(5, this.humidity));

    // What the sensors read: the true value plus measurement noise.
    const temperature = round(this.temperature + 0.08 * this.noise(), 2);
    const humidity = round(this.humidity + 0.5 * this.noise(), 1);
    this.temperatureStats.add(temperature, now);
    this.humidityStats.add(humidity, now);

    await this.agent.publish("sensors/climate", { temperature, humidity }, { log: true });

    await this.setTag("temperature", temperature);
    await this.setTag("humidity", humidity);
    await this.publishStats("temperature_stats", roundSummary(this.temperatureStats));
    await this.publishStats("humidity_stats", roundSummary(this.humidityStats));
    await this.setTag("heater", this.heating ? "on" : "off");
    await this.setTag("setpoint", this.setpoint);

    this.ui.setValue("temperature", temperature);
    this.ui.setValue("humidity", humidity);
    this.ui.setValue("temperature_mean", this.temperatureStats.mean);
    this.ui.setValue("heater", this.heaterState());

    if (temperature > HIGH_TEMPERATURE_C) {
      const sent = await this.sendAlertOnce(
        "high_temperature",
        `Temperature high: ${temperature.toFixed(1)} °C (limit ${HIGH_TEMPERATURE_C} °C)`,
        {
          title: "Climate chamber",
          severity: "warn",
        },
      );
      if (sent) this.config.log(`alert: temperature ${temperature} °C above ${HIGH_TEMPERATURE_C} °C`);
    } else if (temperature < HIGH_TEMPERATURE_C - 1) {
      const cleared = await this.clearAlert("high_temperature", {
        message: `Temperature back to normal: ${temperature.toFixed(1)} °C`,
        title: "Climate chamber",
        severity: "info",
      });
      if (cleared) this.config.log(`alert cleared: temperature ${temperature} °C`);
    }

    // A heartbeat every ~30 s, so the terminal shows the device is alive.
    if (this.loops++ % Math.max(1, Math.round(30_000 / Math.max(this.loopPeriodMs, 1))) === 0) {
      this.config.log(`temperature ${temperature.toFixed(1)} °C, humidity ${humidity.toFixed(0)} %RH, heater ${this.heaterState()}`);
    }
  }

  /** "off", "heating" (below the setpoint) or "holding" (at it). */
  heaterState(): string {
    if (!this.heating) return "off";
    return this.temperature < this.setpoint - 0.5 ? "heating" : "holding";
  }
}

function roundSummary(stats: RollingStats): { count: number; mean: number; min: number; max: number; stddev: number } {
  const s = stats.summary();
  return { count: s.count, mean: round(s.mean, 2), min: round(s.min, 2), max: round(s.max, 2), stddev: round(s.stddev, 3) };
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost";
}

/** Starts the hub (serving the viewer), connects the chamber to it and runs its app. */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const log = options.log ?? ((line: string) => console.log(`[tagwire start] ${line}`));
  const host = options.host ?? "127.0.0.1";
  const auth = options.auth ?? !isLoopback(host);
  if (!auth && !isLoopback(host)) {
    throw new Error(`refusing to run without auth on ${host}: only loopback may go without tokens`);
  }
  const port = options.port ?? Number(process.env.TAGWIRE_PORT ?? 8080);
  const dataDir = options.dataDir ?? "./data";
  const agentId = options.agentId ?? "climate-chamber";
  const viewerDir = options.viewerDir ?? defaultViewerDir();
  if (!viewerBuilt(viewerDir)) log(`the viewer is not built in ${viewerDir}: run \`npm run build\` (the hub still runs)`);

  const hub = await startHub({
    port,
    host,
    dataDir,
    auth,
    log: options.hubLog ?? ((line) => log(`hub: ${line}`)),
    httpFallback: createViewerHandler({ dir: viewerDir }),
    ...(options.nats ? { nats: options.nats } : {}),
    ...(options.deviceAgent ? { deviceAgent: options.deviceAgent } : {}),
  });
  let agent: Agent | undefined;
  let app: ClimateChamber | undefined;
  let app1x: Pump | undefined;
  try {
    const secret = auth ? loadSecret(hub.dataDir) : "";
    const deviceToken = auth ? createToken(secret, { agentId, role: "device", ttlSeconds: 365 * 86_400 }) : undefined;
    const viewerToken = auth ? createToken(secret, { agentId: "viewer", role: "operator", ttlSeconds: 7 * 86_400 }) : undefined;
    log(`hub listening on ${hub.url} (HTTP API on ${hub.httpUrl}, data in ${hub.dataDir}, auth ${auth ? "on" : "off, loopback only"})`);

    agent = await connect(hub.url, { agentId, ...(deviceToken ? { token: deviceToken } : {}), connectTimeoutMs: 10_000 });
    log(`device ${agentId} connected over WebSocket`);
    app = new ClimateChamber({
      agent,
      appKey: APP_KEY,
      loopPeriodMs: options.loopPeriodMs ?? 1000,
      config: { seed: options.seed ?? Date.now() >>> 0, speed: options.speed ?? 1, log: (l) => log(`${agentId}: ${l}`) },
    });
    void app.start();
    app1x = new Pump({ agent, appKey: APP_KEY_1X, loopPeriodMs: options.loopPeriodMs ?? 1000 });
    void app1x.start();

    const shown = isLoopback(host) || host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
    const viewerUrl = `http://${shown}:${hub.port}/${viewerToken ? `?token=${encodeURIComponent(viewerToken)}` : ""}`;
    log(`viewer: ${viewerUrl}`);
    if (viewerToken) log("(the link carries an operator token valid 7 days; the page keeps it and removes it from the address bar)");

    const running = { agent, app, app1x };
    let closing: Promise<void> | undefined;
    return {
      hub,
      agent,
      app,
      app1x,
      viewerUrl,
      viewerToken,
      close: () =>
        (closing ??= (async () => {
          await running.app.stop();
          running.app1x.attached?.detach();
          await running.app1x.stop();
          await running.agent.close();
          await hub.close();
        })()),
    };
  } catch (error) {
    await app?.stop().catch(() => {});
    await app1x?.stop().catch(() => {});
    await agent?.close().catch(() => {});
    await hub.close();
    throw error;
  }
}

/** For `node dist/examples/demo.js` directly: same as `tagwire start` with defaults. */
async function main(): Promise<void> {
  const demo = await startDemo();
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await demo.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
