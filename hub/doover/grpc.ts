// The Device Agent endpoint: Doover's `deviceAgent` gRPC service (device_agent.proto) served by
// the hub for one agent, so pydoover device applications run against tagwire unchanged. Local
// to a gateway: loopback by default and trusted there (like Doover's own agent); on any other
// interface every call must carry `authorization: Bearer <tagwire token>` of that agent, and
// the channel should be TLS (docs/DOOVER.md, "Securing a remote Device Agent").
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { TagwireError } from "../../bindings/core/errors.js";
import { applyDiff } from "../../bindings/sdk/json.js";
import type { Json } from "../../bindings/sdk/session.js";
import { principalOf } from "../access.js";
import { bearerToken, verifyToken } from "../auth.js";
import type { HubContext } from "../context.js";
import { RateBucket } from "../limits.js";
import { dooverAgentId } from "./agents.js";
import { HubPort, type PortEvent } from "./port.js";
import { DooverService, type DooverMessage } from "./service.js";
import { stringifyExact } from "./json.js";
import { parseSnowflake } from "./snowflake.js";
import { fromStruct, toStruct } from "./struct.js";

export interface DeviceAgentOptions {
  /** host:port; port 0 picks a free one. Default 127.0.0.1:50051. */
  address?: string;
  /** The agent this Device Agent serves (every channel name is one of its channels). */
  agentId: string;
  /** Most event streams open at once (default 256). */
  maxStreams?: number;
  /**
   * Every call must carry `authorization: Bearer <device token of agentId>` (default: true off
   * loopback, false on it, where the gateway's processes are trusted as with Doover's agent).
   */
  requireToken?: boolean;
}

export interface RunningDeviceAgent {
  /** host:port actually bound */
  readonly address: string;
  close(): Promise<void>;
}

const PROTO_FILES = ["device_agent.proto", "health.proto"];

/** The .proto files: next to this module (source tree), or the source tree beside dist/. */
function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, "..", "..", "..", "hub", "doover"), join(process.cwd(), "hub", "doover")]) {
    if (existsSync(join(dir, PROTO_FILES[0]!))) return dir;
  }
  throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `device_agent.proto not found next to ${here}`);
}

export function loadDeviceAgentProto(): grpc.GrpcObject {
  const dir = protoDir();
  const def = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(dir, f)),
    { keepCase: true, longs: String, enums: Number, defaults: false, arrays: true, oneofs: true },
  );
  return grpc.loadPackageDefinition(def);
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.");
}

/** Status codes in ResponseHeader, as pydoover reads them (404 -> NotFoundError). */
function statusOf(err: unknown): number {
  if (err instanceof TagwireError) {
    const code = err.code as string;
    if (code === "TAGWIRE_ERR_NOT_FOUND") return 404;
    if (code === "TAGWIRE_ERR_FORBIDDEN") return 403;
    if (code === "TAGWIRE_ERR_AUTH") return 401;
    if (code === "TAGWIRE_ERR_SIZE") return 413;
    if (code === "TAGWIRE_ERR_CLOSED") return 503;
    if (code === "TAGWIRE_ERR_RATE") return 429;
    return 400;
  }
  return 500;
}

const OK = { success: true, cloud_synced: true, cloud_ready: true };

function failed(err: unknown): { success: false; cloud_synced: true; cloud_ready: true; response_code: number; response_message: string } {
  return {
    success: false,
    cloud_synced: true,
    cloud_ready: true,
    response_code: statusOf(err),
    response_message: (err as Error)?.message ?? String(err),
  };
}

/** JSON text with snowflakes exact (the reason Doover added the data_json fields). */
const jsonOf = stringifyExact;

/** A request's payload: data_json when set (exact), else the Struct. */
function payloadOf(req: { data?: unknown; data_json?: string }): Record<string, unknown> {
  if (req.data_json) {
    let v: unknown;
    try {
      v = JSON.parse(req.data_json);
    } catch (err) {
      throw new TagwireError("TAGWIRE_ERR_PAYLOAD", `data_json is not JSON: ${(err as Error).message}`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v))
      throw new TagwireError("TAGWIRE_ERR_PAYLOAD", "data_json must be a JSON object");
    return v as Record<string, unknown>;
  }
  return fromStruct(req.data as never);
}

/** Both wire forms of a payload, as the subscriber's WireFormat asks (0 both, 1 JSON, 2 Struct). */
function carry(value: Record<string, unknown>, format = 0): { data?: unknown; data_json?: string } {
  const out: { data?: unknown; data_json?: string } = {};
  if (format !== 2) out.data_json = jsonOf(value);
  if (format !== 1) out.data = toStruct(value);
  return out;
}

function protoMessage(m: DooverMessage): Record<string, unknown> {
  const data = (m.data !== null && typeof m.data === "object" && !Array.isArray(m.data) ? m.data : { value: m.data }) as Record<
    string,
    unknown
  >;
  return {
    message_id: m.id.toString(),
    author_id: m.author_id.toString(),
    channel: { agent_id: m.channel.agent_id.toString(), name: m.channel.name },
    attachments: [],
    ...carry(data),
  };
}

function messageJson(m: DooverMessage): Record<string, unknown> {
  return { id: m.id, author_id: m.author_id, channel: m.channel, data: m.data, attachments: [] };
}

type Unary = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => void;

export async function startDeviceAgent(
  ctx: HubContext,
  options: DeviceAgentOptions,
  service = new DooverService(new HubPort(ctx)),
): Promise<RunningDeviceAgent> {
  const address = options.address ?? "127.0.0.1:50051";
  const colon = address.lastIndexOf(":");
  const host = colon > 0 ? address.slice(0, colon) : address;
  const local = isLoopback(host);
  const requireToken = options.requireToken ?? !local;
  if ((!local || requireToken) && !ctx.auth) {
    throw new TagwireError(
      "TAGWIRE_ERR_ARGUMENT",
      `refusing to serve the Device Agent on ${host} without auth: bind it to 127.0.0.1, or run the hub with auth`,
    );
  }
  const agentId = options.agentId;
  service.port.checkAddress(agentId, "x");
  const maxStreams = options.maxStreams ?? 256;
  const port = service.port;
  const agentInt = dooverAgentId(agentId);
  const proto = loadDeviceAgentProto() as any;
  const streams = new Set<{
    end(): void;
    oneShot(channel: string, data: Record<string, unknown>, ts: number): void;
    messageUpdate(channel: string, m: DooverMessage, request: unknown): void;
  }>();
  // Message updates from either surface (HTTP PATCH, gRPC UpdateMessage) reach the streams.
  const onUpdate = (a: string, ch: string, m: DooverMessage, request: unknown) => {
    if (a === agentId) for (const s of streams) s.messageUpdate(ch, m, request);
  };
  service.onMessageUpdate.add(onUpdate);

  /** Off loopback, a call must carry this agent's token (a device token, or one that may write it). */
  const authorise = (metadata: grpc.Metadata): void => {
    if (!requireToken) return;
    const p = principalOf(verifyToken(ctx.secret, bearerToken(String(metadata.get("authorization")[0] ?? ""))));
    if (p.role !== "device" || p.agentId !== agentId)
      throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `this Device Agent serves ${agentId}; the token is for ${p.role} ${p.agentId}`);
  };

  const channelName = (req: { channel_name?: unknown }): string => {
    const name = req.channel_name;
    if (typeof name !== "string" || name === "") throw new TagwireError("TAGWIRE_ERR_NAME", "channel_name is required");
    port.checkAddress(agentId, name);
    return name;
  };

  // One budget for the whole endpoint (its callers are one gateway's apps), as for a connection.
  const bucket = new RateBucket(ctx.limits.framesPerSecond);
  const takeBudget = () => {
    if (!bucket.take(performance.now()))
      throw new TagwireError("TAGWIRE_ERR_RATE", `more than ${ctx.limits.framesPerSecond} calls per second`);
  };

  /** A unary method whose failures go into the response header (how Doover's agent answers). */
  const unary =
    (fn: (req: any) => Promise<Record<string, unknown>> | Record<string, unknown>): Unary =>
    (call, callback) => {
      Promise.resolve()
        .then(() => authorise(call.metadata))
        .then(takeBudget)
        .then(() => fn(call.request ?? {}))
        .then(
          (out) => callback(null, { response_header: OK, ...out }),
          (err) => {
            if (statusOf(err) === 500) ctx.log(`device agent: ${(err as Error)?.stack ?? err}`);
            if (statusOf(err) === 401 || statusOf(err) === 403)
              callback({ code: grpc.status.PERMISSION_DENIED, details: (err as Error).message });
            else callback(null, { response_header: failed(err) });
          },
        );
    };

  const unimplemented =
    (what: string): Unary =>
    (_call, callback) =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: `${what}: not part of tagwire (docs/DOOVER.md)` });

  /** A stream refused before it starts: auth failures as a gRPC status, the rest in a header. */
  const refuse = (call: grpc.ServerWritableStream<any, any>, err: unknown): void => {
    const status = statusOf(err);
    if (status === 401 || status === 403) {
      call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: (err as Error).message });
      return;
    }
    call.write({ response_header: failed(err) });
    call.end();
  };

  const aggregateReply = (channel: string, format = 0) => {
    const agg = service.aggregate(agentId, channel);
    return {
      attachments: [],
      ...(agg.last_updated !== null ? { last_updated: String(agg.last_updated) } : {}),
      ...carry(agg.data, format),
    };
  };

  /**
   * A stream of one channel's changes: first the current aggregate, then each change in commit
   * order. `write` gets (event name, JSON payload); slow readers are cut off rather than buffered
   * without bound.
   */
  const openStream = (
    call: grpc.ServerWritableStream<any, any>,
    channel: string,
    write: (event: string, payload: Record<string, unknown>) => void,
  ): void => {
    if (streams.size >= maxStreams) {
      call.emit("error", { code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${maxStreams} event streams` });
      return;
    }
    const channelId = { agent_id: agentInt, name: channel };
    let aggregate = service.aggregate(agentId, channel).data as Json;
    let closed = false;
    const send = (event: string, payload: Record<string, unknown>) => {
      if (closed) return;
      if (call.writableLength > ctx.limits.maxBufferedBytes) {
        entry.end();
        return;
      }
      write(event, payload);
    };
    const onEvents = (events: PortEvent[]) => {
      for (const e of events) {
        if (e.channel !== channel || e.agentId !== agentId) continue;
        if (e.kind === "aggregate") {
          aggregate = applyDiff(aggregate, e.diff as Json);
          service.touched(agentId, channel);
          const last = service.lastUpdated(agentId, channel);
          send("AggregateUpdate", {
            author_id: agentInt,
            channel: channelId,
            aggregate: { data: aggregate, attachments: [], last_updated: last },
            request_data: { data: e.diff, attachments: [], last_updated: last },
            organisation_id: 0,
          });
        } else {
          send("MessageCreate", { message: messageJson(service.message(agentId, channel, { id: e.id, ts: e.ts, data: e.data })) });
        }
      }
    };
    const unsubscribe = port.subscribe(`${agentId}/${channel}`, onEvents);
    const entry = {
      end() {
        if (closed) return;
        closed = true;
        unsubscribe();
        streams.delete(entry);
        try {
          call.end();
        } catch {
          // already gone
        }
      },
      messageUpdate(ch: string, m: DooverMessage, request: unknown) {
        if (ch !== channel) return;
        send("MessageUpdate", {
          channel: channelId,
          author_id: agentInt,
          organisation_id: 0,
          message: messageJson(m),
          request_data: request,
        });
      },
      oneShot(ch: string, data: Record<string, unknown>, ts: number) {
        if (ch !== channel) return;
        send("OneShotMessage", {
          message: { id: 0, author_id: agentInt, channel: channelId, data, attachments: [], ts },
        });
      },
    };
    streams.add(entry);
    call.on("cancelled", () => entry.end());
    call.on("close", () => entry.end());
    call.on("error", () => entry.end());
    // The aggregate on subscribe, so a reader that connects after a change misses nothing.
    const snapshot = aggregate as Record<string, unknown>;
    const last = service.lastUpdated(agentId, channel);
    send("AggregateUpdate", {
      author_id: agentInt,
      channel: channelId,
      aggregate: { data: snapshot, attachments: [], last_updated: last },
      request_data: { data: snapshot, attachments: [], last_updated: last },
      organisation_id: 0,
    });
  };

  const impl = {
    TestComms: unary((req) => ({ response: String(req.message ?? "") })),

    GetAggregate: unary((req) => {
      const channel = channelName(req);
      if (!service.exists(agentId, channel)) throw service.notFound(agentId, channel);
      return { aggregate: aggregateReply(channel) };
    }),

    UpdateAggregate: unary(async (req) => {
      const channel = channelName(req);
      if (req.files?.length) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "file attachments are not supported by tagwire");
      await service.writeAggregate(
        agentId,
        channel,
        payloadOf(req),
        {
          replace: req.replace_data === true,
          replaceKeys: req.replace_keys ?? [],
          log: req.save_log === true,
        },
        agentId,
      );
      // return_aggregate unset means true (Doover's default).
      return req.return_aggregate === false ? {} : { aggregate: aggregateReply(channel) };
    }),

    WriteToChannel: unary(async (req) => {
      const channel = channelName(req);
      let value: unknown = req.message_payload ?? "";
      try {
        value = JSON.parse(String(req.message_payload));
      } catch {
        // a plain string payload: kept as a message only
      }
      const log = req.save_log !== false;
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        await service.writeAggregate(agentId, channel, value, { log }, agentId);
        return { message_id: "" };
      }
      const m = await service.createMessage(agentId, channel, { value }, { author: agentId });
      return { message_id: m.id.toString() };
    }),

    CreateMessage: unary(async (req) => {
      const channel = channelName(req);
      if (req.files?.length) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "file attachments are not supported by tagwire");
      const ts = req.timestamp ? Number(req.timestamp) : undefined;
      const m = await service.createMessage(agentId, channel, payloadOf(req), { ...(ts ? { ts } : {}), author: agentId });
      return { message_id: m.id.toString() };
    }),

    GetMessage: unary(async (req) => {
      const channel = channelName(req);
      const id = parseSnowflake(String(req.message_id ?? ""), "message_id");
      const m = id === undefined ? undefined : await service.findMessage(agentId, channel, id);
      if (!m) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no message ${req.message_id} in ${agentId}/${channel}`);
      return { message: protoMessage(service.message(agentId, channel, m)) };
    }),

    GetMessages: unary(async (req) => {
      const channel = channelName(req);
      const before = req.before === undefined ? undefined : parseSnowflake(String(req.before), "before");
      const after = req.after === undefined ? undefined : parseSnowflake(String(req.after), "after");
      const limit = Math.min(Math.max(1, Number(req.limit ?? 100) || 100), 1000);
      return { messages: (await service.listMessages(agentId, channel, before, after, limit, req.field_names ?? [])).map(protoMessage) };
    }),

    ListChannels: unary((req) => ({
      channels: port.channelNames(agentId).map((name) => ({
        channel_name: name,
        ...(req.include_aggregate ? { aggregate: jsonOf(service.aggregate(agentId, name).data) } : {}),
      })),
      // The hub is where channels live: its answer is always the whole list.
      from_cloud: true,
    })),

    SendOneShotMessage: unary((req) => {
      const channel = channelName(req);
      const data = payloadOf(req);
      const ts = req.timestamp ? Number(req.timestamp) : Date.now();
      for (const s of streams) s.oneShot(channel, data, ts);
      return {};
    }),

    ChannelEventSubscription(call: grpc.ServerWritableStream<any, any>) {
      let channel: string;
      try {
        authorise(call.metadata);
        takeBudget();
        channel = channelName(call.request ?? {});
      } catch (err) {
        refuse(call, err);
        return;
      }
      const format = Number(call.request.wire_format ?? 0);
      openStream(call, channel, (event, payload) =>
        call.write({ response_header: OK, event_name: event, channel_name: channel, ...carry(payload, format) }),
      );
    },

    GetChannelSubscription(call: grpc.ServerWritableStream<any, any>) {
      let channel: string;
      try {
        authorise(call.metadata);
        channel = channelName(call.request ?? {});
      } catch (err) {
        refuse(call, err);
        return;
      }
      openStream(call, channel, (event, payload) => {
        if (event === "AggregateUpdate") {
          const agg = (payload.aggregate as { data: unknown }).data;
          call.write({ response_header: OK, channel: { channel_name: channel, aggregate: jsonOf(agg) } });
        } else {
          const m = payload.message as { id: unknown; data: unknown; ts?: number };
          call.write({
            response_header: OK,
            message: { message_id: String(m.id), channel_name: channel, payload: jsonOf(m.data), timestamp: String(m.ts ?? Date.now()) },
          });
        }
      });
    },

    UpdateMessage: unary(async (req) => {
      const channel = channelName(req);
      if (req.files?.length) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "file attachments are not supported by tagwire");
      const id = parseSnowflake(String(req.message_id ?? ""), "message_id");
      if (id === undefined) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "message_id is required");
      const m = await service.updateMessage(agentId, channel, id, payloadOf(req), { replace: req.replace_data === true, author: agentId });
      return { message: protoMessage(m) };
    }),
    GetDebugInfo: unimplemented("GetDebugInfo"),
    GetTurnCredential: unimplemented("GetTurnCredential (TURN/WebRTC)"),
    FetchAttachment: unimplemented("FetchAttachment (file attachments)"),
  };

  const server = new grpc.Server({
    "grpc.max_receive_message_length": 4 * ctx.limits.maxPayloadBytes,
    "grpc.max_send_message_length": 16 * ctx.limits.maxPayloadBytes,
    "grpc.max_concurrent_streams": 128,
    // pydoover pings event streams every 60 s without data; accept pings down to 30 s.
    "grpc.http2.min_ping_interval_without_data_ms": 30_000,
  });
  server.addService(proto.device_agent.deviceAgent.service, impl);
  server.addService(proto.grpc.health.v1.Health.service, {
    Check: (_call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => callback(null, { status: 1 }),
    Watch: (call: grpc.ServerWritableStream<any, any>) => {
      call.write({ status: 1 });
    },
  });
  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((err) => {
    service.onMessageUpdate.delete(onUpdate);
    throw err;
  });
  const shownHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    address: `${shownHost}:${boundPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        service.onMessageUpdate.delete(onUpdate);
        for (const s of [...streams]) s.end();
        server.tryShutdown(() => resolve());
        // Streams that do not end promptly are cut.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
