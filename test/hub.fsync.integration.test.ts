// Acks wait for the fsync, end to end: a real hub whose SQLite storage makes commits durable off
// the event loop (the default), with the WAL's fsync held by the test. Nothing that reports a
// write (WebSocket ack, subscriber event, HTTP reply, Doover API reply, gRPC reply) may arrive
// while the fsync covering it is held; each arrives once it is let go; a failed fsync stops the
// hub without an ack.
import { fdatasync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, test, vi } from "vitest";
import type { Frame } from "../bindings/protocol/index.js";
import { startHub, type RunningHub } from "../hub/index.js";
import { loadDeviceAgentProto } from "../hub/doover/grpc.js";
import { SqliteStorage } from "../hub/storage/sqlite.js";
import { doc, RawClient, tempDir } from "./hub-helpers.js";

const DOOVER_AGENT = "1234567890123";

/** The storage's fsync: the real one, or parked until the test lets it go. */
function heldSync() {
  let holding = false;
  const parked: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    parked,
    hold() {
      holding = true;
    },
    /** Lets the oldest parked fsync finish (the next one may park again while holding). */
    releaseOne() {
      parked.shift()!.resolve();
    },
    releaseAll() {
      holding = false;
      for (const p of parked.splice(0)) p.resolve();
    },
    sync(fd: number): Promise<void> {
      if (holding) return new Promise((resolve, reject) => parked.push({ resolve, reject }));
      return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    },
  };
}

let hub: RunningHub | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
let gate: ReturnType<typeof heldSync>;
const clients: RawClient[] = [];

async function start(options: { deviceAgent?: boolean } = {}): Promise<RunningHub> {
  dir = tempDir("tw-fsync-");
  gate = heldSync();
  hub = await startHub({
    dataDir: dir.dir,
    auth: false,
    log: () => {},
    storage: new SqliteStorage(dir.dir, { durability: "fsync", syncFile: gate.sync }),
    ...(options.deviceAgent ? { deviceAgent: { address: "127.0.0.1:0", agentId: DOOVER_AGENT } } : {}),
  });
  return hub;
}

async function connect(agentId: string): Promise<RawClient> {
  const c = await RawClient.connect(hub!.url, agentId);
  clients.push(c);
  return c;
}

/** A few turns of the event loop and some time for sockets and the thread pool. */
const settle = () => new Promise((r) => setTimeout(r, 50));

const acks = (c: RawClient) => c.received.filter((f) => f.type === "ack" || f.type === "error");

afterEach(async () => {
  gate?.releaseAll();
  for (const c of clients.splice(0)) c.ws.terminate();
  await hub?.close();
  hub = undefined;
  dir?.remove();
});

test("a createMessage's ack and its subscriber event leave only once the fsync covering them is done", async () => {
  await start();
  const pub = await connect("pump-1");
  const sub = await connect("watcher");
  await sub.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "log" });
  gate.hold();
  const before = acks(pub).length;
  pub.send([{ type: "createMessage", reqId: 900, agentId: "pump-1", channel: "log", data: doc({ n: 1 }) }]);
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  await settle();
  expect(acks(pub).length).toBe(before);
  expect(sub.received.some((f) => f.type === "message")).toBe(false);
  gate.releaseOne();
  const ack = await pub.waitFor((f) => f.type === "ack" && f.reqId === 900);
  expect(ack).toMatchObject({ type: "ack", reqId: 900 });
  await sub.waitFor((f) => f.type === "message");
});

test("writes arriving while an fsync is in flight are acked after the next fsync, in order", async () => {
  await start();
  const pub = await connect("pump-2");
  gate.hold();
  pub.send([{ type: "createMessage", reqId: 1001, agentId: "pump-2", channel: "log", data: doc({ n: 1 }) }]);
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  // the hub keeps reading and applying while that fsync is held
  pub.send([{ type: "createMessage", reqId: 1002, agentId: "pump-2", channel: "log", data: doc({ n: 2 }) }]);
  pub.send([{ type: "publish", reqId: 1003, agentId: "pump-2", channel: "state", diff: doc({ x: 3 }) }]);
  await settle();
  expect(gate.parked.length).toBe(1); // one fsync in flight at most
  expect(pub.received.filter((f) => "reqId" in f && f.reqId > 1000)).toEqual([]);

  gate.releaseOne();
  await pub.waitFor((f) => f.type === "ack" && f.reqId === 1001);
  // the second fsync (covering 1002 and 1003) started and is held
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  await settle();
  const answered = () => pub.received.filter((f): f is Frame & { reqId: number } => "reqId" in f && f.reqId > 1000).map((f) => f.reqId);
  expect(answered()).toEqual([1001]);

  gate.releaseOne();
  await pub.waitFor((f) => f.type === "ack" && f.reqId === 1003);
  expect(answered()).toEqual([1001, 1002, 1003]);
  expect(
    acks(pub)
      .filter((f) => f.reqId > 1000)
      .every((f) => f.type === "ack"),
  ).toBe(true);
});

test("a failed fsync stops the hub: no ack leaves, connections close 1011, `failed` has a typed error", async () => {
  await start();
  const pub = await connect("pump-3");
  gate.hold();
  pub.send([{ type: "createMessage", reqId: 77, agentId: "pump-3", channel: "log", data: doc({ n: 1 }) }]);
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  pub.send([{ type: "createMessage", reqId: 78, agentId: "pump-3", channel: "log", data: doc({ n: 2 }) }]);
  await settle();
  gate.parked.shift()!.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
  const error = await hub!.failed;
  expect(error).toMatchObject({ code: "TAGWIRE_ERR_CLOSED", message: expect.stringMatching(/fsync .* failed: EIO/) });
  expect(await pub.closed()).toBe(1011);
  expect(pub.received.filter((f) => "reqId" in f && (f.reqId === 77 || f.reqId === 78))).toEqual([]);
});

test("HTTP and Doover API writes (whenCommitted) answer only once durable", async () => {
  await start();
  gate.hold();
  let answered = false;
  const http = fetch(`${hub!.httpUrl}/agents/pump-4/channels/state/aggregate`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ x: 1 }),
  }).then(async (r) => {
    answered = true;
    return { status: r.status, body: await r.json() };
  });
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  await settle();
  expect(answered).toBe(false);
  gate.releaseOne();
  expect(await http).toEqual({ status: 200, body: { version: 1, diff: { x: 1 } } });

  let dooverAnswered = false;
  const doover = fetch(`${hub!.httpUrl}/api/agents/${DOOVER_AGENT}/channels/log/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data: { n: 1 } }),
  }).then(async (r) => {
    dooverAnswered = true;
    return r.status;
  });
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  await settle();
  expect(dooverAnswered).toBe(false);
  gate.releaseOne();
  expect(await doover).toBeLessThan(300);
});

test("gRPC Device Agent writes answer only once durable", async () => {
  await start({ deviceAgent: true });
  const proto = loadDeviceAgentProto() as any;
  const client = new proto.device_agent.deviceAgent(hub!.deviceAgentAddress!, grpc.credentials.createInsecure());
  try {
    gate.hold();
    let answered = false;
    const reply = new Promise<any>((resolve, reject) =>
      client.UpdateAggregate(
        { channel_name: "tag_values", data_json: '{"q":1}', return_aggregate: false },
        { deadline: Date.now() + 10_000 },
        (err: Error | null, res: any) => {
          answered = true;
          return err ? reject(err) : resolve(res);
        },
      ),
    );
    await vi.waitFor(() => expect(gate.parked.length).toBe(1));
    await settle();
    expect(answered).toBe(false);
    gate.releaseOne();
    expect(await reply).toMatchObject({ response_header: { success: true } });
  } finally {
    client.close();
  }
});

test("hub shutdown waits for the fsync in flight and still answers what it accepted", async () => {
  await start();
  const pub = await connect("pump-5");
  gate.hold();
  pub.send([{ type: "createMessage", reqId: 5, agentId: "pump-5", channel: "log", data: doc({ n: 1 }) }]);
  await vi.waitFor(() => expect(gate.parked.length).toBe(1));
  let closed = false;
  const closing = hub!.close().then(() => (closed = true));
  await settle();
  expect(closed).toBe(false);
  expect(pub.received.some((f) => "reqId" in f && f.reqId === 5)).toBe(false);
  gate.releaseAll();
  await closing;
  expect(pub.received.filter((f) => "reqId" in f && f.reqId === 5)).toMatchObject([{ type: "ack", reqId: 5 }]);
  hub = undefined;
});
