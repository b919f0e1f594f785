// `tagwire hub`: runs the hub until SIGINT/SIGTERM.
import { loadSecret, startHub } from "../hub/index.js";
import { startMqttBridge } from "../hub/bridge-mqtt.js";
import { UsageError, type Command, type OptionSpec } from "./args.js";
import { DEFAULT_LIMITS, LIMIT_FLAGS, limitDefault, type HubLimits, type PipeLimits } from "../hub/limits.js";

const limitOptions: Record<string, OptionSpec> = Object.fromEntries(
  LIMIT_FLAGS.map((f) => [f.flag, { type: "string", value: "n", description: f.description, default: String(limitDefault(f.key)) }]),
);

export const hubCommand: Command = {
  spec: {
    name: "hub",
    summary: "run the tagwire hub (WebSocket + HTTP API + durable storage)",
    usage:
      "tagwire hub [--port 8080] [--data-dir ./data] [--no-auth] [--mqtt mqtt://127.0.0.1:1883] [--device-agent 127.0.0.1:50051 --device-agent-id gw-1]",
    options: {
      port: { type: "string", value: "port", description: "TCP port", default: "8080" },
      host: { type: "string", value: "host", description: "interface to listen on (default all)" },
      "data-dir": { type: "string", value: "dir", description: "where tagwire.db and the secret live", default: "./data" },
      auth: { type: "boolean", description: "require tokens (default); --no-auth turns auth off for local experiments", default: true },
      sync: {
        type: "string",
        value: "full|normal",
        description: "SQLite synchronous mode: full survives power loss, normal survives process crashes",
        default: "full",
      },
      durability: {
        type: "string",
        value: "auto|fsync|inline",
        description:
          "with --sync full, how each commit is fsync'd before its acks leave: on the event loop while the disk is fast and on the thread pool while it is slow (auto), always on the thread pool (fsync), or inside SQLite's COMMIT (inline)",
        default: "auto",
      },
      "max-messages": { type: "string", value: "n", description: "messages kept per channel (0 = no limit)", default: "10000" },
      "max-age": { type: "string", value: "days", description: "days messages are kept (0 = forever)", default: "30" },
      "frames-per-second": { type: "string", value: "n", description: "frames per second per connection (0 = no limit)", default: "10000" },
      mqtt: {
        type: "string",
        value: "url",
        description: "bridge this MQTT broker: MQTT and WebSocket agents share channels (docs/PROTOCOL.md)",
      },
      "mqtt-prefix": { type: "string", value: "prefix", description: "first topic level of the bridged topics", default: "tagwire" },
      nats: {
        type: "string",
        value: "urls",
        description:
          "cluster mode: keep channels in NATS JetStream (comma-separated URLs); hubs on one NATS cluster act as one hub (docs/CLUSTER.md)",
      },
      "nats-replicas": {
        type: "string",
        value: "n",
        description: "cluster mode: JetStream replicas of the write stream (3 on a 3-node cluster)",
        default: "1",
      },
      "mqtt-writes": {
        type: "string",
        value: "token|signed|trusted|off",
        description: "plain JSON writes from MQTT clients: signed or with a token, signed only, trust the broker's ACLs, or ignore",
        default: "token",
      },
      "device-agent": {
        type: "string",
        value: "host:port",
        description: "serve Doover's Device Agent gRPC service here for pydoover apps (docs/DOOVER.md)",
      },
      "device-agent-id": {
        type: "string",
        value: "id",
        description: "the agent whose channels the Device Agent serves (required with --device-agent)",
      },
      ...limitOptions,
    },
    notes: [
      "The secret that signs tokens comes from TAGWIRE_SECRET, or is generated once into <data-dir>/secret.",
      "Create tokens with `tagwire token create`. The protocol is described in docs/PROTOCOL.md;",
      "every limit, and what to configure on a shared MQTT broker, in docs/SECURITY.md.",
    ].join("\n"),
  },
  async run({ options }) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, not ${options.port}`);
    const sync = options.sync as string;
    if (sync !== "full" && sync !== "normal") throw new UsageError("--sync must be full or normal");
    const durability = options.durability as string;
    if (durability !== "auto" && durability !== "fsync" && durability !== "inline")
      throw new UsageError("--durability must be auto, fsync or inline");
    const num = (name: string) => {
      const n = Number(options[name]);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number`);
      return n;
    };
    const limits: Partial<HubLimits> = { framesPerSecond: num("frames-per-second") || Infinity };
    const pipeLimits: Partial<PipeLimits> = {};
    for (const f of LIMIT_FLAGS) {
      const n = num(f.flag);
      if (f.key in DEFAULT_LIMITS) (limits as Record<string, number>)[f.key] = n;
      else (pipeLimits as Record<string, number>)[f.key] = n;
    }
    const writes = options["mqtt-writes"] as string;
    if (writes !== "token" && writes !== "signed" && writes !== "trusted" && writes !== "off")
      throw new UsageError("--mqtt-writes must be token, signed, trusted or off");
    const deviceAgentId = options["device-agent-id"] as string | undefined;
    if (options["device-agent"] && !deviceAgentId)
      throw new UsageError("--device-agent needs --device-agent-id (the agent whose channels it serves)");
    const hub = await startHub({
      ...(options["device-agent"] ? { deviceAgent: { address: options["device-agent"] as string, agentId: deviceAgentId! } } : {}),
      port,
      host: options.host as string | undefined,
      dataDir: options["data-dir"] as string,
      auth: options.auth as boolean,
      synchronous: sync,
      durability,
      retention: { maxMessagesPerChannel: num("max-messages"), maxMessageAgeMs: num("max-age") * 86_400_000 },
      limits,
      ...(options.nats ? { nats: { servers: String(options.nats).split(","), replicas: num("nats-replicas") || 1 } } : {}),
    });
    console.error(`[tagwire hub] listening on ${hub.url} and ${hub.httpUrl} (data in ${hub.dataDir})`);
    if (hub.deviceAgentAddress) console.error(`[tagwire hub] Device Agent (gRPC) for ${deviceAgentId} on ${hub.deviceAgentAddress}`);
    let bridge: Awaited<ReturnType<typeof startMqttBridge>> | undefined;
    if (options.mqtt) {
      const bridgeOptions: Parameters<typeof startMqttBridge>[0] = {
        hubUrl: hub.url,
        brokerUrl: options.mqtt as string,
        prefix: options["mqtt-prefix"] as string,
        nativeWrites: writes,
        pipeLimits,
      };
      if (options.auth) bridgeOptions.secret = loadSecret(hub.dataDir);
      bridge = await startMqttBridge(bridgeOptions);
      console.error(`[tagwire hub] bridging ${options.mqtt as string} under ${bridge.prefix}/`);
    }
    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        console.error(`[tagwire hub] ${signal}: closing`);
        Promise.resolve(bridge?.close())
          .then(() => hub.close())
          .then(
            () => resolve(0),
            () => resolve(1),
          );
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      hub.failed.then(() => hub.close().finally(() => resolve(1)));
    });
  },
};
