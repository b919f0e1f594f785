// The hub <-> broker bridge against the real Mosquitto at 127.0.0.1:1883 (a prefix unique to
// this run): SDK agents on MQTT and on WebSocket share channels; presence by last will; a
// bridge restart makes MQTT clients reconnect and resync; tokens are checked by the hub.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import mqtt from "mqtt";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { startMqttBridge, type MqttBridge } from "../hub/bridge-mqtt.js";
import { connect, type RemoteSession } from "../bindings/client/index.js";
import type { Agent } from "../bindings/sdk/agent.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";
import { buildForChild, removeChildBuilds } from "./fixtures/client-build.js";

const BROKER = "mqtt://127.0.0.1:1883";
const P = `tw-bridge-${process.pid}-${Date.now().toString(36)}`;
const SECRET = "bridge-test-secret";
const FAST = { backoff: { initialMs: 50, maxMs: 300 } };

let hub: RunningHub;
let bridge: MqttBridge;
let dataDir: string;
const agents: Agent[] = [];

const tok = (agentId: string, grants: string[] = ["#"]) => createToken(SECRET, { agentId, role: "device", grants });

async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Retained and live messages on `filter`, read by a plain mqtt.js client. */
async function watch(filter: string): Promise<{ got: { topic: string; json: any; retain: boolean }[]; end(): Promise<void> }> {
  const c = mqtt.connect(BROKER, { clientId: `watch-${Math.random().toString(16).slice(2)}` });
  const got: { topic: string; json: any; retain: boolean }[] = [];
  c.on("message", (topic, payload, packet) =>
    got.push({ topic, json: payload.length ? JSON.parse(payload.toString()) : null, retain: packet.retain }),
  );
  await new Promise<void>((resolve, reject) => {
    c.on("connect", () => c.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    c.on("error", reject);
  });
  return { got, end: () => c.endAsync() };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tw-bridge-"));
  hub = await startHub({ dataDir, secret: SECRET, log: () => {} });
  bridge = await startMqttBridge({ hubUrl: hub.url, brokerUrl: BROKER, prefix: P, secret: SECRET, log: () => {} });
});

afterAll(async () => {
  removeChildBuilds();
  for (const a of agents) await a.close().catch(() => {});
  await bridge?.close();
  await hub?.close();
  // Clear the retained messages this run left on the shared broker.
  const c = await mqtt.connectAsync(BROKER);
  const retained: string[] = [];
  c.on("message", (topic, payload, packet) => {
    if (packet.retain && payload.length) retained.push(topic);
  });
  await c.subscribeAsync(`${P}/#`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  for (const t of retained) await c.publishAsync(t, "", { qos: 1, retain: true });
  await c.endAsync();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("MQTT bridge", () => {
  it("lets an agent on MQTT and an agent on WebSocket share channels", async () => {
    const onMqtt = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "m-pump", token: tok("m-pump"), ...FAST });
    const onWs = await connect(hub.url, { agentId: "w-panel", token: tok("w-panel"), ...FAST });
    agents.push(onMqtt, onWs);
    expect((onMqtt.session as RemoteSession).state).toBe("online");
    expect(bridge.relayedClients).toBeGreaterThanOrEqual(1);

    const seenByWs: ChannelEvent[] = [];
    const seenByMqtt: ChannelEvent[] = [];
    onWs.subscribe(
      "#",
      (e) => {
        seenByWs.push(e);
      },
      { agentId: "m-pump" },
    );
    onMqtt.subscribe(
      "#",
      (e) => {
        seenByMqtt.push(e);
      },
      { agentId: "w-panel" },
    );
    await new Promise((r) => setTimeout(r, 100));

    const r = await onMqtt.publish("tag_values", { rpm: 900, temp: { c: 40 } });
    expect(r?.version).toBe(1);
    await onMqtt.createMessage("events", { text: "pump started" });
    await onWs.publish("ui_state", { mode: "auto" });
    await until(() => seenByWs.length >= 2 && seenByMqtt.length >= 1, 10_000, "cross-transport events");
    expect(seenByWs[0]).toMatchObject({ type: "aggregate", channel: "tag_values", version: 1, aggregate: { rpm: 900, temp: { c: 40 } } });
    expect(seenByWs[1]).toMatchObject({ type: "message", channel: "events", message: { data: { text: "pump started" } } });
    expect(seenByMqtt[0]).toMatchObject({ type: "aggregate", agentId: "w-panel", channel: "ui_state", aggregate: { mode: "auto" } });
    expect(await onMqtt.getAggregate("ui_state", { agentId: "w-panel" })).toEqual({ mode: "auto" });
    expect(await onWs.listChannels({ agentId: "m-pump" })).toEqual(["events", "tag_values"]);
    expect((await onMqtt.getMessages("events")).map((m) => m.data)).toEqual([{ text: "pump started" }]);
  });

  it("mirrors channels to plain MQTT topics: retained aggregates, diffs, messages", async () => {
    const w = await watch(`${P}/+/m-pump/#`);
    await until(() => w.got.some((m) => m.topic === `${P}/agg/m-pump/tag_values`), 5000, "retained aggregate");
    expect(w.got.find((m) => m.topic === `${P}/agg/m-pump/tag_values`)).toMatchObject({
      retain: true,
      json: { rpm: 900, temp: { c: 40 } },
    });
    const pump = agents[0]!;
    await pump.publish("tag_values", { rpm: 950 });
    await until(() => w.got.some((m) => m.topic === `${P}/diff/m-pump/tag_values`), 5000, "diff");
    expect(w.got.find((m) => m.topic === `${P}/diff/m-pump/tag_values`)!.json).toEqual({ version: 2, diff: { rpm: 950 } });
    expect(w.got.filter((m) => m.topic === `${P}/agg/m-pump/tag_values`).at(-1)!.json).toEqual({ rpm: 950, temp: { c: 40 } });
    await pump.createMessage("events", { text: "again" });
    await until(() => w.got.some((m) => m.topic === `${P}/msg/m-pump/events`), 5000, "message");
    expect(w.got.find((m) => m.topic === `${P}/msg/m-pump/events`)!.json).toMatchObject({ data: { text: "again" } });
    // Messages-only channels have no aggregate topic.
    expect(w.got.some((m) => m.topic === `${P}/agg/m-pump/events`)).toBe(false);
    await w.end();
  });

  it("refuses an MQTT agent with a bad token, through the hub's own auth", async () => {
    const bad = createToken("not-the-secret", { agentId: "m-intruder", role: "device" });
    await expect(
      connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "m-intruder", token: bad, ...FAST, onError: () => {} }),
    ).rejects.toMatchObject({
      code: "TAGWIRE_ERR_AUTH",
    });
  });

  it("publishes presence, and the last will marks a killed agent offline and ends its relay", async () => {
    const w = await watch(`${P}/presence/m-child`);
    const child = spawn(
      process.execPath,
      [await buildForChild("test/fixtures/client-mqtt-agent.ts"), `mqtt://127.0.0.1:1883/${P}`, "m-child", tok("m-child")],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("online") && resolve());
      child.on("exit", (code) => reject(new Error(`child exited ${code}`)));
    });
    await until(() => w.got.some((m) => m.json?.online === true), 5000, "online record");
    const online = w.got.find((m) => m.json?.online === true)!;
    const relaysBefore = bridge.relayedClients;
    child.kill("SIGKILL");
    await until(() => w.got.some((m) => m.json?.online === false), 10_000, "last will");
    const offline = w.got.find((m) => m.json?.online === false)!;
    expect(offline.json.clientId).toBe(online.json.clientId);
    await until(() => bridge.relayedClients === relaysBefore - 1, 5000, "relay closed");
    await w.end();
    // A late subscriber sees the retained offline record.
    const late = await watch(`${P}/presence/m-child`);
    await until(() => late.got.length > 0, 5000, "retained presence");
    expect(late.got[0]).toMatchObject({ retain: true, json: { online: false } });
    await late.end();
  });

  it("brings MQTT agents back after a bridge restart, resynced", async () => {
    const reader = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "m-reader", token: tok("m-reader"), ...FAST });
    const writer = await connect(hub.url, { agentId: "w-writer", token: tok("w-writer"), ...FAST });
    agents.push(reader, writer);
    const events: ChannelEvent[] = [];
    await writer.publish("state", { n: 1 });
    reader.subscribe(
      "state",
      (e) => {
        events.push(e);
      },
      { agentId: "w-writer" },
    );
    await until(() => events.length === 1, 5000, "sync");
    const session = reader.session as RemoteSession;
    await bridge.close();
    await until(() => session.state === "offline", 5000, "reader offline");
    await writer.publish("state", { n: 2 });
    bridge = await startMqttBridge({ hubUrl: hub.url, brokerUrl: BROKER, prefix: P, secret: SECRET, log: () => {} });
    await until(() => session.state === "online", 10_000, "reader back online");
    await until(() => events.length === 2, 5000, "resync");
    expect(events[1]).toMatchObject({ type: "resynced", version: 2, aggregate: { n: 2 } });
    await writer.publish("state", { n: 3 });
    await until(() => events.length === 3, 5000, "live after restart");
    expect(events[2]).toMatchObject({ type: "aggregate", version: 3 });
  });
});
