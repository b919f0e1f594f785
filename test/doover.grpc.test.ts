// The Device Agent endpoint (hub/doover/grpc.ts) with a gRPC client built from our own
// device_agent.proto: every implemented method, event streams (aggregate on subscribe, then each
// change, from gRPC and native writers alike), one-shot messages, UNIMPLEMENTED for the rest,
// and a server that survives malformed and oversize messages and dropped streams.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { loadDeviceAgentProto } from "../hub/doover/grpc.js";
import { snowflakeTime } from "../hub/doover/snowflake.js";
import { tempDir } from "./hub-helpers.js";

const SECRET = "doover-grpc-secret";
const AGENT = "gw-1";
const MAX_STREAMS = 4;
const proto = loadDeviceAgentProto() as any;

let hub: RunningHub;
let dir: ReturnType<typeof tempDir>;
let client: any;
let health: any;
/** Streams the event tests leave open, cancelled by the stream-limit test. */
const openCalls: grpc.ClientReadableStream<any>[] = [];

function call<T = any>(method: string, request: unknown, c = client): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](request, { deadline: Date.now() + 5000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

/** Reads stream responses into an array; `next(n)` waits until n have arrived. */
function collect(stream: grpc.ClientReadableStream<any>) {
  const got: any[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  let ended: Error | null | undefined;
  stream.on("data", (d) => {
    got.push(d);
    if (waiter && got.length >= waiter.n) waiter.resolve();
  });
  stream.on("error", (e) => (ended = e));
  stream.on("end", () => (ended ??= null));
  return {
    got,
    get ended() {
      return ended;
    },
    next(n: number, ms = 5000): Promise<any[]> {
      if (got.length >= n) return Promise.resolve(got);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`only ${got.length} of ${n} events: ${JSON.stringify(got.map((g) => g.event_name))}`)),
          ms,
        );
        waiter = {
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(got);
          },
        };
      });
    },
  };
}

const json = (s: string) => JSON.parse(s);

beforeAll(async () => {
  dir = tempDir();
  hub = await startHub({
    dataDir: dir.dir,
    secret: SECRET,
    log: () => {},
    deviceAgent: { address: "127.0.0.1:0", agentId: AGENT, maxStreams: MAX_STREAMS },
  });
  client = new proto.device_agent.deviceAgent(hub.deviceAgentAddress!, grpc.credentials.createInsecure());
  health = new proto.grpc.health.v1.Health(hub.deviceAgentAddress!, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  health?.close();
  await hub?.close();
  dir?.remove();
});

describe("unary methods", () => {
  test("binds loopback on a free port; health says SERVING; TestComms echoes with a success header", async () => {
    expect(hub.deviceAgentAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await call("Check", { service: "doover.DeviceAgent" }, health)).toEqual({ status: 1 });
    const r = await call("TestComms", { message: "ping" });
    expect(r).toMatchObject({ response: "ping", response_header: { success: true, cloud_synced: true } });
  });

  test("GetAggregate of a missing channel: success=false, response_code 404 (pydoover's NotFoundError)", async () => {
    const r = await call("GetAggregate", { channel_name: "nope" });
    expect(r.response_header).toMatchObject({ success: false, response_code: 404 });
    expect(r.response_header.response_message).toMatch(/does not exist/);
  });

  test("UpdateAggregate: data_json and Struct payloads merge, dotted replace_keys, return_aggregate, save_log", async () => {
    const a = await call("UpdateAggregate", {
      channel_name: "tag_values",
      data_json: JSON.stringify({ app: { t: 1, id: 123456789012345 }, ui: { children: { x: { old: 1 } } } }),
    });
    expect(a.response_header.success).toBe(true);
    expect(a.aggregate.data_json).toContain('"id":123456789012345');
    expect(json(a.aggregate.data_json).app.t).toBe(1);
    expect(a.aggregate.data.fields.app.structValue.fields.t.numberValue).toBe(1);

    const b = await call("UpdateAggregate", {
      channel_name: "tag_values",
      data: { fields: { app: { structValue: { fields: { h: { numberValue: 2 } } } } } },
    });
    expect(json(b.aggregate.data_json).app).toMatchObject({ t: 1, h: 2 });

    const c = await call("UpdateAggregate", {
      channel_name: "tag_values",
      data_json: '{"ui":{"children":{"x":{"new":1}}}}',
      replace_keys: ["ui.children.x"],
      save_log: true,
    });
    expect(json(c.aggregate.data_json).ui).toEqual({ children: { x: { new: 1 } } });
    const none = await call("UpdateAggregate", { channel_name: "tag_values", data_json: '{"q":1}', return_aggregate: false });
    expect(none.response_header.success).toBe(true);
    expect(none.aggregate ?? null).toBeNull();
    const got = await call("GetAggregate", { channel_name: "tag_values" });
    expect(json(got.aggregate.data_json)).toMatchObject({ q: 1, app: { t: 1, h: 2 } });
    expect(Number(got.aggregate.last_updated)).toBeGreaterThan(Date.now() - 60_000);
    const logged = await call("GetMessages", { channel_name: "tag_values" });
    expect(logged.messages).toHaveLength(1);
    expect(json(logged.messages[0].data_json)).toEqual({ ui: { children: { x: { new: 1 } } } });
  });

  test("CreateMessage with a timestamp, GetMessage, GetMessages newest first with limit/before/after", async () => {
    const ts = Date.UTC(2026, 5, 1);
    const first = await call("CreateMessage", { channel_name: "events", data_json: '{"n":1}', timestamp: String(ts) });
    expect(first.response_header.success).toBe(true);
    expect(snowflakeTime(BigInt(first.message_id))).toBe(ts);
    const second = await call("CreateMessage", { channel_name: "events", data: { fields: { n: { numberValue: 2 } } } });
    const one = await call("GetMessage", { channel_name: "events", message_id: first.message_id });
    expect(one.message).toMatchObject({ message_id: first.message_id, channel: { name: "events" } });
    expect(one.message.channel.agent_id).toBe(one.message.author_id);
    expect(json(one.message.data_json)).toEqual({ n: 1 });
    const all = await call("GetMessages", { channel_name: "events" });
    expect(all.messages.map((m: any) => m.message_id)).toEqual([second.message_id, first.message_id]);
    expect((await call("GetMessages", { channel_name: "events", limit: 1 })).messages).toHaveLength(1);
    const older = await call("GetMessages", { channel_name: "events", before: second.message_id });
    expect(older.messages.map((m: any) => m.message_id)).toEqual([first.message_id]);
    const newer = await call("GetMessages", { channel_name: "events", after: first.message_id, field_names: ["n"] });
    expect(newer.messages.map((m: any) => m.message_id)).toEqual([second.message_id]);
    const missing = await call("GetMessage", { channel_name: "events", message_id: "1" });
    expect(missing.response_header).toMatchObject({ success: false, response_code: 404 });
  });

  test("ListChannels lists every channel of the agent, with aggregates on request", async () => {
    const names = await call("ListChannels", {});
    expect(names.from_cloud).toBe(true);
    expect(names.channels.map((c: any) => c.channel_name)).toEqual(expect.arrayContaining(["events", "tag_values"]));
    expect(names.channels.every((c: any) => c.aggregate == null)).toBe(true);
    const full = await call("ListChannels", { include_aggregate: true });
    const tags = full.channels.find((c: any) => c.channel_name === "tag_values");
    expect(json(tags.aggregate)).toMatchObject({ q: 1 });
  });

  test("bad payloads and names come back in the header; methods tagwire lacks are UNIMPLEMENTED", async () => {
    const bad = await call("UpdateAggregate", { channel_name: "tag_values", data_json: "{not json" });
    expect(bad.response_header).toMatchObject({ success: false, response_code: 400 });
    const arr = await call("CreateMessage", { channel_name: "events", data_json: "[1,2]" });
    expect(arr.response_header.success).toBe(false);
    const name = await call("GetAggregate", { channel_name: "" });
    expect(name.response_header).toMatchObject({ success: false, response_code: 400 });
    for (const m of ["GetTurnCredential", "FetchAttachment", "GetDebugInfo"]) {
      await expect(call(m, {}), m).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    }
  });
});

describe("event streams", () => {
  test("ChannelEventSubscription: the aggregate on subscribe, then each change from any writer, then one-shots", async () => {
    await call("UpdateAggregate", { channel_name: "ui_cmds", data_json: '{"mode":"auto"}' });
    const call1 = client.ChannelEventSubscription({ channel_name: "ui_cmds", wire_format: 1 });
    openCalls.push(call1);
    const s = collect(call1);
    const [snap] = await s.next(1);
    expect(snap.event_name).toBe("AggregateUpdate");
    expect(snap.data ?? null).toBeNull(); // JSON_ONLY: no Struct
    expect(json(snap.data_json).aggregate.data).toEqual({ mode: "auto" });

    await call("UpdateAggregate", { channel_name: "ui_cmds", data_json: '{"speed":3}' });
    // A native HTTP write by the same agent reaches the gRPC stream too.
    const token = createToken(SECRET, { agentId: AGENT, role: "device" });
    const native = await fetch(`${hub.httpUrl}/agents/${AGENT}/channels/ui_cmds/aggregate`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ mode: "manual" }),
    });
    expect(native.status).toBe(200);
    const created = await call("CreateMessage", { channel_name: "ui_cmds", data_json: '{"type":"rpc","status":{"code":"sent"}}' });
    // pydoover's RPC answers a command by updating its message.
    const updated = await call("UpdateMessage", {
      channel_name: "ui_cmds",
      message_id: created.message_id,
      data_json: '{"status":{"code":"success"}}',
    });
    expect(json(updated.message.data_json)).toEqual({ type: "rpc", status: { code: "success" } });
    await call("SendOneShotMessage", { channel_name: "ui_cmds", data_json: '{"live":1}' });
    await call("UpdateAggregate", { channel_name: "other", data_json: '{"x":1}' });

    const events = await s.next(6);
    expect(events.map((e) => e.event_name)).toEqual([
      "AggregateUpdate",
      "AggregateUpdate",
      "AggregateUpdate",
      "MessageCreate",
      "MessageUpdate",
      "OneShotMessage",
    ]);
    const up = json(events[1].data_json);
    expect(up).toMatchObject({
      channel: { name: "ui_cmds" },
      request_data: { data: { speed: 3 } },
      aggregate: { data: { mode: "auto", speed: 3 } },
    });
    expect(json(events[2].data_json).aggregate.data).toEqual({ mode: "manual", speed: 3 });
    // data_json keeps the 64-bit id exact: compare its text, not a rounded double.
    expect(events[3].data_json).toContain(`"id":${created.message_id}`);
    const msg = json(events[3].data_json).message;
    expect(msg.data).toEqual({ type: "rpc", status: { code: "sent" } });
    const upd = json(events[4].data_json);
    expect(upd).toMatchObject({
      channel: { name: "ui_cmds" },
      request_data: { status: { code: "success" } },
      message: { data: { status: { code: "success" } } },
    });
    expect(json(events[5].data_json).message.data).toEqual({ live: 1 });
  });

  test("WIRE_FORMAT_BOTH carries a Struct too; GetChannelSubscription sends the aggregate, then changes", async () => {
    const bothCall = client.ChannelEventSubscription({ channel_name: "ui_cmds" });
    const legacyCall = client.GetChannelSubscription({ channel_name: "ui_cmds" });
    openCalls.push(bothCall, legacyCall);
    const both = collect(bothCall);
    const [snap] = await both.next(1);
    expect(snap.data.fields.aggregate.structValue.fields.data.structValue.fields.mode.stringValue).toBe("manual");
    const legacy = collect(legacyCall);
    const [first] = await legacy.next(1);
    expect(json(first.channel.aggregate)).toMatchObject({ mode: "manual" });
    await call("UpdateAggregate", { channel_name: "ui_cmds", data_json: '{"speed":4}' });
    const [, second] = await legacy.next(2);
    expect(json(second.channel.aggregate)).toMatchObject({ mode: "manual", speed: 4 });
  });

  test(`streams beyond the limit (${MAX_STREAMS}) are refused; dropped streams free their slot`, async () => {
    // Earlier tests left streams open: dropping them must free their slots.
    for (const c of openCalls) c.cancel();
    await new Promise((r) => setTimeout(r, 300));
    const calls = Array.from({ length: MAX_STREAMS }, () => client.ChannelEventSubscription({ channel_name: "limits" }));
    const streams = calls.map(collect);
    await Promise.all(streams.map((s) => s.next(1)));
    const over = collect(client.ChannelEventSubscription({ channel_name: "limits" }));
    await new Promise((r) => setTimeout(r, 300));
    expect(over.ended).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    for (const c of calls) c.cancel();
    await new Promise((r) => setTimeout(r, 300));
    const again = collect(client.ChannelEventSubscription({ channel_name: "limits" }));
    await again.next(1);
    expect(again.got[0].event_name).toBe("AggregateUpdate");
  });
});

describe("bad input on the wire", () => {
  test("malformed protobuf bytes: the call fails, the server keeps serving", async () => {
    const raw = new grpc.Client(hub.deviceAgentAddress!, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        "/device_agent.deviceAgent/UpdateAggregate",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x17, 0x00, 0x01]), // field 2 with wire type 7 (no such type)
        (e) => resolve(e),
      ),
    );
    expect(err?.code).toBe(grpc.status.INTERNAL);
    raw.close();
    expect((await call("TestComms", { message: "still here" })).response).toBe("still here");
  });

  test("an oversize message is refused with RESOURCE_EXHAUSTED and nothing is written", async () => {
    const huge = JSON.stringify({ blob: "x".repeat(6 * 1024 * 1024) });
    await expect(call("UpdateAggregate", { channel_name: "huge", data_json: huge })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
    expect((await call("GetAggregate", { channel_name: "huge" })).response_header.response_code).toBe(404);
    expect((await call("TestComms", { message: "ok" })).response).toBe("ok");
  });

  test("requireToken: calls and streams need this agent's device token", async () => {
    const d = tempDir();
    const h = await startHub({
      dataDir: d.dir,
      secret: SECRET,
      log: () => {},
      deviceAgent: { address: "127.0.0.1:0", agentId: AGENT, requireToken: true },
    });
    const c = new proto.device_agent.deviceAgent(h.deviceAgentAddress!, grpc.credentials.createInsecure());
    const withToken = (token: string) => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${token}`);
      return md;
    };
    const callMd = (method: string, req: unknown, md?: grpc.Metadata) =>
      new Promise<any>((resolve, reject) =>
        c[method](req, md ?? new grpc.Metadata(), (err: Error | null, res: any) => (err ? reject(err) : resolve(res))),
      );
    try {
      await expect(callMd("TestComms", { message: "x" })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      const other = createToken(SECRET, { agentId: "pump-9", role: "device" });
      await expect(callMd("TestComms", { message: "x" }, withToken(other))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      const own = createToken(SECRET, { agentId: AGENT, role: "device" });
      expect((await callMd("TestComms", { message: "x" }, withToken(own))).response).toBe("x");
      const refused = collect(c.ChannelEventSubscription({ channel_name: "t" }));
      await new Promise((r) => setTimeout(r, 300));
      expect(refused.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      const allowed = collect(c.ChannelEventSubscription({ channel_name: "t" }, withToken(own)));
      await allowed.next(1);
    } finally {
      c.close();
      await h.close();
      d.remove();
    }
  });

  test("calls beyond the endpoint's rate budget are answered 429 in the header", async () => {
    const d = tempDir();
    const h = await startHub({
      dataDir: d.dir,
      secret: SECRET,
      log: () => {},
      limits: { framesPerSecond: 5 },
      deviceAgent: { address: "127.0.0.1:0", agentId: AGENT },
    });
    const c = new proto.device_agent.deviceAgent(h.deviceAgentAddress!, grpc.credentials.createInsecure());
    try {
      const replies = await Promise.all(Array.from({ length: 12 }, () => call("TestComms", { message: "x" }, c)));
      const codes = replies.map((r) => (r.response_header.success ? 200 : r.response_header.response_code));
      expect(codes.filter((x) => x === 200).length).toBeLessThanOrEqual(6);
      expect(codes).toContain(429);
    } finally {
      c.close();
      await h.close();
      d.remove();
    }
  });

  test("a Device Agent on a non-loopback interface without auth is refused at start", async () => {
    const d = tempDir();
    try {
      await expect(
        startHub({ dataDir: d.dir, auth: false, log: () => {}, deviceAgent: { address: "0.0.0.0:0", agentId: AGENT } }),
      ).rejects.toThrow(/without auth/);
    } finally {
      d.remove();
    }
  });
});
