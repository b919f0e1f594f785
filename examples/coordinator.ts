// A coordinator and two workers in Doover 1.x style: three apps on one device sharing its
// `tag_values`, each with declared tags in its own namespace. The coordinator declares a command
// tag per worker; each worker reads its command from the coordinator's namespace by app key and
// reports `status` and `progress` (declared, with defaults and logging triggers) in its own.
// (The 0.4 form: examples/v0/coordinator.ts.)
//
//   npm run build && node dist/examples/coordinator.js     (ends by itself in a few seconds)
import { Application, LocalBus, tags, type Json } from "../bindings/index.js";

const WORKERS = ["worker_1", "worker_2"] as const;

class Coordinator extends Application {
  readonly t = this.declareTags({
    cmd_worker_1: new tags.Tag("object", { default: { action: "idle" } }),
    cmd_worker_2: new tags.Tag("object", { default: { action: "idle" } }),
    phase: new tags.String({ default: "start", logOn: new tags.AnyChange() }),
  });

  override async mainLoop(): Promise<void> {
    const phase = this.t.phase.get();
    // Another app's tags are read by app key, as pydoover's get_tag(key, app_key=...).
    const status = (w: string) => this.getTag("status", { appKey: w, default: "idle" });
    if (phase === "start") {
      await this.t.cmd_worker_1.set({ action: "run", jobs: 3 });
      await this.t.cmd_worker_2.set({ action: "run", jobs: 5 });
      await this.t.phase.set("running");
    } else if (phase === "running" && WORKERS.every((w) => status(w) === "finished")) {
      for (const w of WORKERS) await this.t[`cmd_${w}`].set({ action: "stop", jobs: null });
      await this.t.phase.set("stopping");
    } else if (phase === "stopping" && WORKERS.every((w) => status(w) === "stopped")) {
      await this.t.phase.set("done");
    }
  }

  get done(): boolean {
    return this.t.phase.get() === "done";
  }
}

class Worker extends Application {
  readonly t = this.declareTags({
    status: new tags.String({ default: "idle", logOn: new tags.AnyChange() }),
    progress: new tags.Number({ default: 0 }),
  });

  override async mainLoop(): Promise<void> {
    const cmd = this.getTag(`cmd_${this.appKey}`, { appKey: "coordinator" }) as { action?: string; jobs?: number } | undefined;
    const status = this.t.status.get();
    if (cmd?.action === "run" && status === "idle") await this.t.status.set("running");
    else if (cmd?.action === "run" && status === "running") {
      const done = await this.t.progress.increment();
      if (done >= (cmd.jobs ?? 1)) await this.t.status.set("finished");
    } else if (cmd?.action === "stop" && status !== "stopped") await this.t.status.set("stopped");
  }
}

async function main(): Promise<void> {
  const bus = await LocalBus.create();
  const device = bus.agent("plant-1");
  bus.agent("operator").subscribe(
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
  console.log(
    `[main] ${coordinator.done ? "all done" : "timed out"}; tags: ${JSON.stringify((await device.getAggregate("tag_values")) as Json)}`,
  );
  await bus.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
