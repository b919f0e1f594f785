// `tagwire start` (`npm start`): the demo - a hub serving the viewer, and a simulated climate
// chamber connected to it (examples/demo.ts). Runs until Ctrl-C / SIGTERM, then stops cleanly.
import { createServer } from "node:net";
import type { Command } from "./args.js";
import type { RunningDemo } from "../examples/demo.js";
import { CliError, EXIT, guarded, usage } from "./remote.js";

/**
 * Resolves when `port` can be listened on, else rejects with the listen error. startHub reports
 * a busy port as an unhandled 'error' event (which ends the process), so the demo asks first.
 */
function probePort(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

export const startCommand: Command = {
  spec: {
    name: "start",
    summary: "run the demo: a hub with the viewer and a simulated device (what `npm start` runs)",
    usage: "tagwire start [--port 8080] [--data-dir ./data] [--auth] [--host 127.0.0.1]",
    options: {
      port: { type: "string", value: "port", description: "TCP port (default TAGWIRE_PORT, else 8080; 0 picks a free one)" },
      host: { type: "string", value: "host", description: "interface; anything but loopback turns --auth on", default: "127.0.0.1" },
      "data-dir": { type: "string", value: "dir", description: "hub storage (tagwire.db, secret)", default: "./data" },
      auth: { type: "boolean", description: "require tokens: the demo creates them and prints a viewer link carrying one" },
      agent: { type: "string", value: "id", description: "the simulated device's agent id", default: "climate-chamber" },
      cluster: {
        type: "boolean",
        description:
          "three hubs in cluster mode on NATS JetStream (--nats, default nats://127.0.0.1:4222): device on hub A, viewer on every hub (ports port..port+2)",
      },
      nats: { type: "string", value: "urls", description: "with --cluster: the NATS servers", default: "nats://127.0.0.1:4222" },
      "loop-ms": { type: "string", value: "ms", description: "the device's main loop period", default: "1000" },
      "device-agent": {
        type: "string",
        value: "host:port",
        description: "also serve Doover's Device Agent (gRPC) for --agent, e.g. 127.0.0.1:50051 (docs/DOOVER.md)",
      },
    },
    notes: [
      "Without --auth the hub listens on 127.0.0.1 only and needs no token, so the viewer can",
      "publish anywhere; with --auth it uses tokens as in production (the viewer gets an operator",
      "token, which may send UI commands but not write other channels).",
      "Open the printed address; stop with Ctrl-C.",
    ].join("\n"),
  },
  run: ({ options }) =>
    guarded("start", async () => {
      const portText = (options.port as string | undefined) ?? process.env.TAGWIRE_PORT ?? "8080";
      const port = Number(portText);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be 0..65535, not ${portText}`);
      const loopPeriodMs = Number(options["loop-ms"]);
      if (!Number.isFinite(loopPeriodMs) || loopPeriodMs < 10) throw usage("--loop-ms must be a number >= 10");
      const host = String(options.host);
      let demo: RunningDemo;
      try {
        if (port !== 0) await probePort(port, host);
        // Loaded here, not at the top: the hub and SQLite are not worth loading for --help.
        const { startDemo } = await import("../examples/demo.js");
        const begin = options.cluster
          ? async (o: Parameters<typeof startDemo>[0]) =>
              (await import("../examples/cluster-demo.js")).startClusterDemo({ ...o, natsServers: String(options.nats).split(",") })
          : startDemo;
        demo = await begin({
          port,
          host,
          dataDir: String(options["data-dir"]),
          ...(options.auth !== undefined ? { auth: options.auth as boolean } : {}),
          agentId: String(options.agent),
          loopPeriodMs,
          ...(options["device-agent"] ? { deviceAgent: { address: String(options["device-agent"]), agentId: String(options.agent) } } : {}),
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE")
          throw new CliError(EXIT.hub, `port ${port} is in use: stop what runs there, or pick another port with --port or TAGWIRE_PORT`);
        if (code === "EACCES") throw new CliError(EXIT.hub, `not allowed to listen on port ${port}: pick one above 1023 with --port`);
        if (error instanceof Error && /refusing to run without auth/.test(error.message)) throw usage(`${error.message} (add --auth)`);
        throw error;
      }
      if (demo.hub.deviceAgentAddress)
        console.log(`[tagwire start] Device Agent (gRPC) for ${String(options.agent)} on ${demo.hub.deviceAgentAddress}`);
      console.log("[tagwire start] running; press Ctrl-C to stop");
      const signal = await new Promise<string>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
        demo.hub.failed.then(() => resolve("storage failure"));
      });
      console.log(`[tagwire start] ${signal}: stopping`);
      await demo.close();
      console.log("[tagwire start] stopped");
      return signal === "storage failure" ? EXIT.hub : EXIT.ok;
    }),
};
