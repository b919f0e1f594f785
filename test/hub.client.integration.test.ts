// The hub through the SDK: agents made by connect("ws://...") (the client's remote session over
// the WebSocket transport) against a real hub, with and without auth. The raw-protocol tests are
// in hub.integration.test.ts; this file checks that both sides of the wire agree.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { connect } from "../bindings/client/index.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";
import { tempDir } from "./hub-helpers.js";

const SECRET = "client-secret";

describe("connect() against the hub", () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({ dataDir: dir.dir, secret: SECRET, log: () => {} });
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  const token = (agentId: string, role: "device" | "viewer" | "operator", grants?: string[]) =>
    createToken(SECRET, { agentId, role, grants });

  test("two agents exchange tags: publish, subscribe, sync, aggregate and message events", async () => {
    const pump = await connect(hub.url, { agentId: "pump-1", token: token("pump-1", "device") });
    const ops = await connect(hub.url, { agentId: "ops", token: token("ops", "operator") });
    try {
      await pump.publish("tag_values", { rpm: 1000, temp: { value: 20 } });
      const events: ChannelEvent[] = [];
      const unsubscribe = ops.subscribe("#", (e) => void events.push(e), { agentId: "pump-1" });
      await waitUntil(() => events.some((e) => e.type === "sync"));
      expect(events[0]).toMatchObject({
        type: "sync",
        agentId: "pump-1",
        channel: "tag_values",
        version: 1,
        aggregate: { rpm: 1000, temp: { value: 20 } },
      });

      const r = await pump.publish("tag_values", { rpm: 1200, temp: { value: 20 } });
      expect(r).toMatchObject({ version: 2, diff: { rpm: 1200 } });
      await pump.createMessage("notifications", { text: "rpm high" });
      await waitUntil(() => events.some((e) => e.type === "message"));
      const agg = events.find((e) => e.type === "aggregate");
      expect(agg).toMatchObject({ version: 2, diff: { rpm: 1200 }, aggregate: { rpm: 1200, temp: { value: 20 } } });
      expect(events.find((e) => e.type === "message")).toMatchObject({ channel: "notifications", message: { data: { text: "rpm high" } } });

      // the operator sends a command; the device sees it
      const cmds: ChannelEvent[] = [];
      pump.subscribe("ui_cmds", (e) => void cmds.push(e));
      await ops.session.publish("pump-1", "ui_cmds", { start: true });
      await waitUntil(() => cmds.some((e) => e.type === "aggregate" || (e.type === "sync" && (e.aggregate as any).start)));
      expect(await pump.getAggregate("ui_cmds")).toEqual({ start: true });
      expect(await ops.listChannels({ agentId: "pump-1" })).toEqual(["notifications", "tag_values", "ui_cmds"]);
      const msgs = await ops.getMessages("notifications", { agentId: "pump-1" });
      expect(msgs.map((m) => m.data)).toEqual([{ text: "rpm high" }]);
      unsubscribe();
    } finally {
      await Promise.all([pump.close(), ops.close()]);
    }
  });

  test("a channel that appears after subscribing arrives as an aggregate event at version 1 holding the whole aggregate", async () => {
    const dev = await connect(hub.url, { agentId: "pump-9", token: token("pump-9", "device") });
    const ops = await connect(hub.url, { agentId: "ops-9", token: token("ops-9", "operator") });
    try {
      const events: ChannelEvent[] = [];
      ops.subscribe("#", (e) => void events.push(e), { agentId: "pump-9" });
      // the subscription is live once a round trip after it has completed
      await ops.listChannels({ agentId: "pump-9" });
      await dev.publish("fresh", { a: 1, nested: { b: 2 } });
      await dev.createMessage("fresh-log", { text: "first" });
      await waitUntil(() => events.some((e) => e.type === "message"));
      expect(events.map((e) => [e.type, e.channel])).toEqual([
        ["aggregate", "fresh"],
        ["message", "fresh-log"],
      ]);
      expect(events[0]).toMatchObject({ version: 1, diff: { a: 1, nested: { b: 2 } }, aggregate: { a: 1, nested: { b: 2 } } });
    } finally {
      await Promise.all([dev.close(), ops.close()]);
    }
  });

  test("refusals surface as TagwireErrors with the hub's codes, and write nothing", async () => {
    const pump2 = await connect(hub.url, { agentId: "pump-2", token: token("pump-2", "device") });
    const viewer = await connect(hub.url, { agentId: "ann", token: token("ann", "viewer") });
    try {
      await expect(viewer.session.publish("pump-2", "tag_values", { x: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_FORBIDDEN" });
      await expect(pump2.session.publish("pump-1", "tag_values", { x: 1 })).rejects.toMatchObject({ code: "TAGWIRE_ERR_FORBIDDEN" });
      await expect(pump2.getAggregate("tag_values", { agentId: "pump-1" })).rejects.toMatchObject({ code: "TAGWIRE_ERR_FORBIDDEN" });
      expect(await viewer.listChannels({ agentId: "pump-2" })).toEqual([]);
      expect((await viewer.getAggregate("tag_values", { agentId: "pump-1" })) as any).not.toHaveProperty("x");
    } finally {
      await Promise.all([pump2.close(), viewer.close()]);
    }
  });

  test("a wrong token does not connect", async () => {
    await expect(
      connect(hub.url, {
        agentId: "pump-1",
        token: createToken("not-the-secret", { agentId: "pump-1", role: "device" }),
        connectTimeoutMs: 1500,
        onError: () => {},
      }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^TAGWIRE_ERR_(AUTH|TIMEOUT)$/) });
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
