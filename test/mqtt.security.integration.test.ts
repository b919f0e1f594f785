// The bridge's frame pipes against another user of the same broker (the real Mosquitto at
// 127.0.0.1:1883, a prefix unique to this run): no token crosses the broker, nothing published
// by someone without the token acts on the hub, forged presence and close markers do not end a
// client's relay, replayed frames are refused, and pipe handshakes are capped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { startMqttBridge, type MqttBridge } from "../hub/bridge-mqtt.js";
import { connect, type RemoteSession } from "../bindings/client/index.js";
import type { Agent } from "../bindings/sdk/agent.js";
import { encodeFrames } from "../bindings/protocol/index.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import { signMqttWrite } from "../bindings/transports/index.js";

const BROKER = "mqtt://127.0.0.1:1883";
const P = `tw-sec-${process.pid}-${Date.now().toString(36)}`;
const SECRET = "mqtt-security-secret";
const FAST = { backoff: { initialMs: 50, maxMs: 300 } };

let hub: RunningHub;
let bridge: MqttBridge;
let dataDir: string;
const bridgeLog: string[] = [];
const agents: Agent[] = [];
const clients: MqttClient[] = [];

const tok = (agentId: string) => createToken(SECRET, { agentId, role: "device" });

async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain broker user: no token, reads and publishes whatever the broker lets it. */
async function intruder(filter: string): Promise<{ c: MqttClient; got: { topic: string; payload: Buffer }[] }> {
  const c = await mqtt.connectAsync(BROKER, { clientId: `intruder-${Math.random().toString(16).slice(2)}` });
  clients.push(c);
  const got: { topic: string; payload: Buffer }[] = [];
  c.on("message", (topic, payload) => got.push({ topic, payload }));
  await c.subscribeAsync(filter, { qos: 1 });
  return { c, got };
}

async function httpAggregate(agentId: string, channel: string): Promise<any> {
  const r = await fetch(`${hub.httpUrl}/agents/${agentId}/channels/${channel}/aggregate`, {
    headers: { authorization: `Bearer ${createToken(SECRET, { agentId: "auditor", role: "viewer" })}` },
  });
  return r.status === 200 ? ((await r.json()) as { aggregate: unknown }).aggregate : r.status;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tw-mqtt-sec-"));
  hub = await startHub({ dataDir, secret: SECRET, log: () => {} });
  bridge = await startMqttBridge({
    hubUrl: hub.url,
    brokerUrl: BROKER,
    prefix: P,
    secret: SECRET,
    log: (l) => bridgeLog.push(l),
    pipeLimits: { maxPendingPipes: 8, maxPipes: 12, pipeHandshakeTimeoutMs: 2500 },
  });
});

afterAll(async () => {
  for (const a of agents) await a.close().catch(() => {});
  for (const c of clients) await c.endAsync().catch(() => {});
  await bridge?.close();
  await hub?.close();
  const c = await mqtt.connectAsync(BROKER);
  const retained: string[] = [];
  c.on("message", (topic, payload, packet) => {
    if (packet.retain && payload.length) retained.push(topic);
  });
  await c.subscribeAsync([`${P}/#`, `${P}-idle/#`], { qos: 1 });
  await sleep(300);
  for (const t of retained) await c.publishAsync(t, "", { qos: 1, retain: true });
  await c.endAsync();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("MQTT bridge pipes against other broker users", () => {
  it("never puts the token on the broker, on any topic", async () => {
    const spy = await intruder("#");
    const token = tok("s-pump");
    const signature = token.slice(token.lastIndexOf(".") + 1);
    const a = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "s-pump", token, ...FAST });
    agents.push(a);
    await a.publish("tag_values", { rpm: 1 });
    await a.createMessage("events", { text: "hi" });
    await a.getAggregate("tag_values");
    await sleep(200);
    const mine = spy.got.filter((m) => m.topic.startsWith(`${P}/`));
    expect(mine.some((m) => m.topic.startsWith(`${P}/hub/in/`))).toBe(true); // the pipe was seen
    const sigBytes = Buffer.from(signature, "base64url");
    for (const m of spy.got) {
      expect(m.payload.includes(token), m.topic).toBe(false);
      expect(m.payload.includes(signature), m.topic).toBe(false);
      expect(m.payload.includes(sigBytes), m.topic).toBe(false);
    }
  });

  it("does not let a broker user without the token act as a connected agent", async () => {
    const spy = await intruder(`${P}/#`);
    const victim = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "s-valve", token: tok("s-valve"), ...FAST });
    agents.push(victim);
    await victim.publish("state", { open: false });
    await sleep(100);
    const pipe = spy.got.find((m) => m.topic.startsWith(`${P}/hub/in/`) && m.payload[0] === 1)!;
    const pipeTopic = pipe.topic;
    const openRecord = JSON.parse(pipe.payload.subarray(1).toString()) as { claims: string };
    expect(openRecord.claims.startsWith("tw1.")).toBe(true);

    const forgedPublish = (reqId: number) => ({
      type: "publish" as const,
      reqId,
      agentId: "s-valve",
      channel: "state",
      diff: encodeValue({ open: true }),
    });
    // 1. The pre-redesign attack: a plain batch on the victim's pipe topic.
    await spy.c.publishAsync(pipeTopic, Buffer.from(encodeFrames([forgedPublish(900)])), { qos: 1 });
    // 2. Data envelopes with made-up sequence numbers and MACs.
    for (let seq = 1; seq < 40; seq++) {
      const body = encodeFrames([forgedPublish(900 + seq)]);
      const env = Buffer.alloc(21 + body.length);
      env[0] = 3;
      env.writeUInt32BE(seq, 1);
      for (let i = 5; i < 21; i++) env[i] = (seq * 31 + i) & 0xff;
      Buffer.from(body).copy(env, 21);
      await spy.c.publishAsync(pipeTopic, env, { qos: 1 });
    }
    // 3. A fresh handshake with the victim's (public) claims: the challenge comes, but no key to answer it.
    const fakeId = "tw-feedfacefeedface";
    const forgedOpen = Buffer.concat([
      Buffer.from([1]),
      Buffer.from(
        JSON.stringify({
          v: 1,
          claims: openRecord.claims,
          nonce: Buffer.alloc(16, 7).toString("base64url"),
          release: Buffer.alloc(32, 1).toString("base64url"),
        }),
      ),
    ]);
    await spy.c.publishAsync(`${P}/hub/in/${fakeId}`, forgedOpen, { qos: 1 });
    await until(() => spy.got.some((m) => m.topic === `${P}/hub/out/${fakeId}` && m.payload[0] === 2), 5000, "challenge to the forger");
    const body = encodeFrames([{ type: "hello", reqId: 1, protocol: 1, agentId: "s-valve" }, forgedPublish(2)]);
    const env = Buffer.concat([Buffer.from([3, 0, 0, 0, 1]), Buffer.alloc(16, 9), Buffer.from(body)]);
    await spy.c.publishAsync(`${P}/hub/in/${fakeId}`, env, { qos: 1 });
    await sleep(500);

    expect(await httpAggregate("s-valve", "state")).toEqual({ open: false });
    expect(bridge.droppedEnvelopes.forged).toBeGreaterThanOrEqual(40);
    // The victim is untouched and still works.
    expect((victim.session as RemoteSession).state).toBe("online");
    expect((await victim.publish("state", { open: false, checked: true }))?.version).toBe(2);
  });

  it("refuses replayed frames", async () => {
    const spy = await intruder(`${P}/hub/in/#`);
    const a = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "s-dial", token: tok("s-dial"), ...FAST });
    agents.push(a);
    await a.publish("setpoint", { value: 1 });
    await sleep(100);
    const captured = spy.got.filter((m) => m.payload[0] === 3);
    expect(captured.length).toBeGreaterThan(0);
    await a.publish("setpoint", { value: 2 });
    const before = bridge.droppedEnvelopes.replayed;
    // Replaying every data envelope the client sent so far (its hello and first publish among them).
    for (const m of captured) await spy.c.publishAsync(m.topic, m.payload, { qos: 1 });
    await sleep(400);
    expect(await httpAggregate("s-dial", "setpoint")).toEqual({ value: 2 });
    expect(bridge.droppedEnvelopes.replayed - before).toBeGreaterThanOrEqual(captured.length);
    expect((await a.publish("setpoint", { value: 3 }))?.version).toBe(3);
  });

  it("ignores forged presence records and close markers: another client's relay stays", async () => {
    const spy = await intruder(`${P}/#`);
    const a = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "s-fan", token: tok("s-fan"), ...FAST });
    agents.push(a);
    await a.publish("speed", { rpm: 10 });
    await until(() => spy.got.some((m) => m.topic === `${P}/presence/s-fan`), 5000, "presence");
    const online = JSON.parse(spy.got.find((m) => m.topic === `${P}/presence/s-fan`)!.payload.toString()) as { clientId: string };
    const relays = bridge.relayedClients;
    const session = a.session as RemoteSession;
    let wentOffline = false;
    session.onState((s) => {
      if (s !== "online") wentOffline = true;
    });
    await spy.c.publishAsync(`${P}/presence/s-fan`, JSON.stringify({ online: false, clientId: online.clientId }), { qos: 1 });
    await spy.c.publishAsync(
      `${P}/presence/s-fan`,
      JSON.stringify({ online: false, clientId: online.clientId, release: Buffer.alloc(16).toString("base64url") }),
      { qos: 1, retain: true },
    );
    await spy.c.publishAsync(`${P}/hub/in/${online.clientId}`, Buffer.alloc(0), { qos: 1 });
    await spy.c.publishAsync(`${P}/hub/in/${online.clientId}`, Buffer.concat([Buffer.from([4, 0, 0, 0, 9]), Buffer.alloc(16)]), { qos: 1 });
    await sleep(500);
    expect(bridge.relayedClients).toBe(relays);
    expect(wentOffline).toBe(false);
    expect(bridgeLog.some((l) => l.includes("without its release secret"))).toBe(true);
    expect((await a.publish("speed", { rpm: 20 }))?.version).toBe(2);
    // The client's own offline record (a clean close) does end it.
    await a.close();
    agents.splice(agents.indexOf(a), 1);
    await until(() => bridge.relayedClients === relays - 1, 5000, "relay closed by the real client");
  });

  it("caps pending handshakes and drops those never completed", async () => {
    const spy = await intruder(`${P}/hub/out/#`);
    const logBefore = bridgeLog.length;
    // All at once, well within the handshake timeout, so none has expired to make room.
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const open = Buffer.concat([
          Buffer.from([1]),
          Buffer.from(
            JSON.stringify({
              v: 1,
              claims: "",
              nonce: Buffer.alloc(16, i).toString("base64url"),
              release: Buffer.alloc(32, i).toString("base64url"),
            }),
          ),
        ]);
        return spy.c.publishAsync(`${P}/hub/in/tw-flood${i}`, open, { qos: 1 });
      }),
    );
    await until(() => spy.got.filter((m) => m.payload[0] === 2 || m.payload[0] === 5).length >= 30, 5000, "answers");
    const challenges = spy.got.filter((m) => m.payload[0] === 2).length;
    const refusals = spy.got.filter((m) => m.payload[0] === 5);
    expect(challenges).toBeLessThanOrEqual(8);
    expect(refusals.length).toBeGreaterThanOrEqual(22);
    expect(JSON.parse(refusals[0]!.payload.subarray(1).toString())).toMatchObject({ code: "TAGWIRE_ERR_RATE" });
    await until(
      () => bridgeLog.slice(logBefore).filter((l) => l.includes("handshake not completed")).length >= challenges,
      5000,
      "handshakes dropped",
    );
    // Room again for a real client.
    const a = await connect(`mqtt://127.0.0.1:1883/${P}`, { agentId: "s-late", token: tok("s-late"), ...FAST });
    agents.push(a);
    expect((await a.publish("x", { y: 1 }))?.version).toBe(1);
  });

  it("applies a signed plain write once: no token on the broker, forged and replayed ones refused", async () => {
    const spy = await intruder(`${P}/#`);
    const token = tok("s-plain");
    const topic = `${P}/set/s-plain/tag_values`;
    const body = JSON.stringify({ rpm: 7 });
    const props = signMqttWrite(token, topic, body);
    const writer = await mqtt.connectAsync(BROKER, { protocolVersion: 5 });
    clients.push(writer);
    await writer.publishAsync(topic, body, { qos: 1, properties: { userProperties: props } });
    await until(() => spy.got.some((m) => m.topic === `${P}/agg/s-plain/tag_values`), 5000, "mirrored write");
    expect(await httpAggregate("s-plain", "tag_values")).toEqual({ rpm: 7 });
    // Replayed as is, with another payload, or with a made-up mac: refused on P/error/...
    await writer.publishAsync(topic, body, { qos: 1, properties: { userProperties: props } });
    await writer.publishAsync(topic, JSON.stringify({ rpm: 666 }), { qos: 1, properties: { userProperties: props } });
    await writer.publishAsync(topic, JSON.stringify({ rpm: 667 }), {
      qos: 1,
      properties: { userProperties: { ...props, mac: "A".repeat(22) } },
    });
    await until(() => spy.got.filter((m) => m.topic === `${P}/error/s-plain/tag_values`).length >= 3, 5000, "three refusals");
    const errors = spy.got.filter((m) => m.topic === `${P}/error/s-plain/tag_values`).map((m) => JSON.parse(m.payload.toString()));
    expect(errors.map((e) => e.code)).toEqual(["TAGWIRE_ERR_AUTH", "TAGWIRE_ERR_AUTH", "TAGWIRE_ERR_AUTH"]);
    expect(errors[0].message).toMatch(/replayed/);
    expect(await httpAggregate("s-plain", "tag_values")).toEqual({ rpm: 7 });
    for (const m of spy.got) expect(m.payload.includes(token.slice(token.lastIndexOf(".") + 1))).toBe(false);
  });

  it("closes a pipe whose client went silent without a last will reaching the bridge", async () => {
    const lines: string[] = [];
    const quickP = `${P}-idle`;
    const quick = await startMqttBridge({
      hubUrl: hub.url,
      brokerUrl: BROKER,
      prefix: quickP,
      secret: SECRET,
      log: (l) => lines.push(l),
      mirrorAgentId: "mirror-idle",
      pipeLimits: { pipeIdleTimeoutMs: 600 },
    });
    try {
      const chatty = await connect(`mqtt://127.0.0.1:1883/${quickP}`, {
        agentId: "s-chatty",
        token: tok("s-chatty"),
        ...FAST,
        pingIntervalMs: 150,
      });
      const mute = await connect(`mqtt://127.0.0.1:1883/${quickP}`, {
        agentId: "s-mute",
        token: tok("s-mute"),
        ...FAST,
        pingIntervalMs: 0,
      });
      agents.push(chatty, mute);
      expect(quick.relayedClients).toBe(2);
      await until(() => lines.some((l) => l.includes("silent for 600 ms")), 5000, "idle close");
      await sleep(300);
      // The mute one was closed (and reconnects by itself); the chatty one kept its relay throughout.
      expect((chatty.session as RemoteSession).state).toBe("online");
      expect(lines.filter((l) => l.includes("silent for")).length).toBeGreaterThanOrEqual(1);
      expect((await chatty.publish("x", { n: 1 }))?.version).toBe(1);
    } finally {
      for (const a of agents.splice(-2)) await a.close().catch(() => {});
      await quick.close();
    }
  });
});
