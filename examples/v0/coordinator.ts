// A coordinator and two workers: three apps on one device (one agent), as Doover runs several apps
// on a device, sharing its `tag_values`. The coordinator writes a command tag per worker in its own
// namespace; each worker reads its command from the coordinator's tags and reports `status` and
// `progress` in its own; the coordinator watches the workers' status with onTagChange and stops
// them when all are finished. An operator agent elsewhere on the bus follows along through a
// subscription to the device's `tag_values`.
//
//   npm run build && node dist/examples/v0/coordinator.js     (ends by itself in a few seconds)
import { Application, Enter, LocalBus, type Agent, type Json } from "../../bindings/index.js";

const WORKERS = ["worker_1", "worker_2"] as const;

class Coordinator extends Application {
  private phase: "start" | "running" | "stopping" | "done" = "start";
  private readonly finished = new Set<string>();

  async setup(): Promise<void> {
    for (const w of WORKERS) {
      this.onTagChange(
        "status",
        (status) => {
          console.log(`[coordinator] ${w} is now ${String(status)}`);
          if (status === "finished") this.finished.add(w);
        },
        { appKey: w },
      );
    }
  }

  async mainLoop(): Promise<void> {
    if (this.phase === "start") {
      for (const [i, w] of WORKERS.entries()) {
        await this.setTag(`cmd_${w}`, { action: "run", jobs: 3 + 2 * i });
      }
      await this.setTag("phase", "running", { logOn: new Enter("running") });
      console.log("[coordinator] sent run commands");
      this.phase = "running";
    } else if (this.phase === "running") {
      const progress = WORKERS.map((w) => `${w}=${String(this.getTag("progress", { appKey: w, default: 0 }))}`);
      console.log(`[coordinator] progress ${progress.join(" ")}`);
      if (this.finished.size === WORKERS.length) {
        for (const w of WORKERS) await this.setTag(`cmd_${w}`, { action: "stop", jobs: null }); // objects merge: null clears
        await this.setTag("phase", "stopping");
        this.phase = "stopping";
      }
    } else if (this.phase === "stopping") {
      if (WORKERS.every((w) => this.getTag("status", { appKey: w }) === "stopped")) {
        await this.setTag("phase", "done", { log: true });
        await this.setTag("all_done", true, { global: true });
        this.phase = "done";
      }
    }
  }

  get done(): boolean {
    return this.phase === "done";
  }
}

class Worker extends Application {
  private done = 0;

  async mainLoop(): Promise<void> {
    const cmd = this.getTag(`cmd_${this.appKey}`, { appKey: "coordinator" }) as { action?: string; jobs?: number } | undefined;
    const status = this.getTag("status", { default: "idle" });
    if (cmd?.action === "run" && status === "idle") {
      await this.setTag("status", "running", { log: true });
    } else if (cmd?.action === "run" && status === "running") {
      this.done++;
      await this.setTag("progress", this.done);
      if (this.done >= (cmd.jobs ?? 1)) await this.setTag("status", "finished", { log: true });
    } else if (cmd?.action === "stop" && status !== "stopped") {
      await this.setTag("status", "stopped", { log: true });
    }
  }
}

async function main(): Promise<void> {
  const bus = await LocalBus.create();
  const device: Agent = bus.agent("plant-1");
  const operator = bus.agent("operator");
  operator.subscribe(
    "tag_values",
    (e) => {
      if (e.type === "message") console.log(`  [operator] logged: ${JSON.stringify(e.message.data)}`);
    },
    { agentId: "plant-1" },
  );

  const coordinator = new Coordinator({ agent: device, appKey: "coordinator", loopPeriodMs: 150 });
  const workers = WORKERS.map((appKey, i) => new Worker({ agent: device, appKey, loopPeriodMs: 100 + 40 * i }));
  const apps: Application[] = [coordinator, ...workers];
  for (const app of apps) void app.start();

  const deadline = Date.now() + 20_000;
  while (!coordinator.done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const app of apps) await app.stop();

  const tags = (await operator.getAggregate("tag_values", { agentId: "plant-1" })) as { [k: string]: Json };
  console.log(`[main] ${coordinator.done ? "all workers done" : "timed out"}; tags: ${JSON.stringify(tags)}`);
  await device.close();
  await operator.close();
  await bus.close();
  if (!coordinator.done) process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
