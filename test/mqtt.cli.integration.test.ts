// docs/PROTOCOL.md alone is enough for the Mosquitto command-line clients: this runs the very
// commands printed in its "MQTT topic layout" section (with this run's prefix and real tokens)
// against the real Mosquitto at 127.0.0.1:1883, a real hub and the bridge, and checks that an
// SDK agent on WebSocket sees what they wrote and they see what it wrote.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { startMqttBridge, type MqttBridge } from "../hub/bridge-mqtt.js";
import { connect } from "../bindings/client/index.js";
import type { Agent } from "../bindings/sdk/agent.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";

const run = promisify(execFile);
const P = `tw-cli-${process.pid}-${Date.now().toString(36)}`;
const SECRET = "cli-test-secret";
let hub: RunningHub;
let bridge: MqttBridge;
let dataDir: string;
let pump: Agent;
const events: ChannelEvent[] = [];

/** The shell commands of the doc's MQTT section, continuation lines joined, comments dropped. */
function docCommands(): string[] {
  const doc = readFileSync(new URL("../docs/PROTOCOL.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## MQTT topic layout"));
  const lines = section.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (!line.startsWith("mosquitto_")) continue;
    while (line.endsWith("\\")) line = line.slice(0, -1) + " " + lines[++i]!.trim();
    // A comment is " # " outside quotes; a topic's "#" is always followed by a quote or "/".
    out.push(line.replace(/\s+#\s.*$/, ""));
  }
  return out;
}

/** A doc command for this run: our prefix; subscribers stop after `count` messages or 10 s. */
function adapt(cmd: string, count = 1): string {
  let c = cmd.replaceAll("tagwire/", `${P}/`);
  if (c.startsWith("mosquitto_sub")) c += ` -C ${count} -W 10`;
  return c;
}

function shell(cmd: string, env: Record<string, string> = {}) {
  return run("bash", ["-c", cmd], { env: { ...process.env, ...env }, timeout: 15_000 });
}

async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tw-cli-"));
  hub = await startHub({ dataDir, secret: SECRET, log: () => {} });
  bridge = await startMqttBridge({ hubUrl: hub.url, brokerUrl: "mqtt://127.0.0.1:1883", prefix: P, secret: SECRET, log: () => {} });
  pump = await connect(hub.url, { agentId: "pump-1", token: createToken(SECRET, { agentId: "pump-1", role: "device", grants: ["#"] }) });
  pump.subscribe("#", (e) => {
    events.push(e);
  });
});

afterAll(async () => {
  await pump?.close();
  await bridge?.close();
  await hub?.close();
  const c = await mqtt.connectAsync("mqtt://127.0.0.1:1883");
  const retained: string[] = [];
  c.on("message", (topic, payload, packet) => packet.retain && payload.length && retained.push(topic));
  await c.subscribeAsync(`${P}/#`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  for (const t of retained) await c.publishAsync(t, "", { qos: 1, retain: true });
  await c.endAsync();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("Mosquitto CLI following docs/PROTOCOL.md", () => {
  const cmds = docCommands();

  it("finds the documented commands", () => {
    expect(cmds.map((c) => c.split(" ")[0])).toEqual(["mosquitto_sub", "mosquitto_sub", "mosquitto_pub", "mosquitto_pub"]);
  });

  it("writes a channel with mosquitto_pub (set and post) that a WebSocket agent sees", async () => {
    const TOKEN = createToken(SECRET, { agentId: "pump-1", role: "device" });
    await shell(adapt(cmds[2]!), { TOKEN });
    await shell(adapt(cmds[3]!), { TOKEN });
    await until(() => events.length >= 2, 10_000, "events from CLI writes");
    expect(events[0]).toMatchObject({ type: "aggregate", agentId: "pump-1", channel: "tag_values", aggregate: { rpm: 1200 }, version: 1 });
    expect(events[1]).toMatchObject({ type: "message", channel: "events", message: { data: { text: "door opened" } } });
    expect(await pump.getAggregate("tag_values")).toEqual({ rpm: 1200 });
  });

  it("reads the retained state with mosquitto_sub", async () => {
    await pump.publish("tag_values", { temp: 21.5 });
    await until(() => events.length >= 3, 5000, "own write");
    // Retained: a subscriber that starts now still gets the current aggregate at once.
    const { stdout } = await shell(adapt(cmds[0]! + " -F '%t %p'"));
    // -F is after -v in the command: mosquitto_sub prints "topic payload" either way.
    const [topic, ...rest] = stdout.trim().split(" ");
    expect(topic).toBe(`${P}/agg/pump-1/tag_values`);
    expect(JSON.parse(rest.join(" "))).toEqual({ rpm: 1200, temp: 21.5 });
  });

  it("follows messages of every agent with mosquitto_sub", async () => {
    const sub = spawn("bash", ["-c", adapt(cmds[1]!)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    sub.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => sub.on("exit", r));
    // mosquitto_sub has no "subscribed" signal: publish until its first line shows up.
    const deadline = Date.now() + 10_000;
    let n = 0;
    while (!out.includes("\n") && Date.now() < deadline) {
      await pump.createMessage("notifications", { level: "warn", text: `low pressure ${n++}` });
      await new Promise((r) => setTimeout(r, 200));
    }
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 12_000))]);
    if (code === "still running") sub.kill();
    expect(code).toBe(0);
    const line = out.trim();
    expect(line.startsWith(`${P}/msg/pump-1/notifications `)).toBe(true);
    const msg = JSON.parse(line.slice(line.indexOf(" ") + 1));
    expect(msg).toMatchObject({ data: { level: "warn" } });
    expect(typeof msg.id).toBe("string");
    expect(typeof msg.ts).toBe("number");
  });

  it("gets the hub's refusal on the error topic, and nothing is written", async () => {
    const errors = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-q", "1", "-t", `${P}/error/pump-1/#`, "-W", "20"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    errors.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      // mosquitto_sub says nothing once subscribed: probe until it prints a probe line.
      const probe = await mqtt.connectAsync("mqtt://127.0.0.1:1883");
      const deadline = Date.now() + 10_000;
      while (!out.includes("probe") && Date.now() < deadline) {
        await probe.publishAsync(`${P}/error/pump-1/probe`, JSON.stringify({ code: "probe" }), { qos: 1 });
        await new Promise((r) => setTimeout(r, 100));
      }
      await probe.endAsync();
      const otherDevice = createToken(SECRET, { agentId: "pump-2", role: "device" });
      await shell(adapt(cmds[2]!).replace('{"rpm": 1200}', '{"rpm": 0}'), { TOKEN: otherDevice });
      await shell(adapt(cmds[2]!).replace(`'{"rpm": 1200}'`, "'not json'"), { TOKEN: otherDevice });
      const refusals = () =>
        out
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
          .filter((l) => l.code !== "probe");
      await until(() => refusals().length >= 2, 10_000, "two refusals");
      expect(
        refusals()
          .map((l) => l.code)
          .sort(),
      ).toEqual(["TAGWIRE_ERR_FORBIDDEN", "TAGWIRE_ERR_PAYLOAD"]);
    } finally {
      errors.kill();
    }
    expect(await pump.getAggregate("tag_values")).toEqual({ rpm: 1200, temp: 21.5 });
  });
});
