// Auth over real sockets: missing, wrong and expired tokens are refused at hello (error frame,
// close 4401) and over HTTP (401); role and grant violations get TAGWIRE_ERR_FORBIDDEN / 403; and
// in every refused case nothing is written (checked by reading back with an operator token).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHub, createToken, type RunningHub } from "../hub/index.js";
import { RawClient, doc, tempDir, val } from "./hub-helpers.js";

const SECRET = "integration-secret";
const token = (
  agentId: string,
  role: "device" | "viewer" | "operator",
  extra: { grants?: string[]; ttlSeconds?: number; now?: number } = {},
) => createToken(SECRET, { agentId, role, ...extra });

describe("hub with auth", () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tempDir>;
  let admin: RawClient;
  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({ dataDir: dir.dir, secret: SECRET, log: () => {} });
    // seed: pump-1 and pump-2 each own a channel
    for (const agent of ["pump-1", "pump-2"]) {
      const c = await RawClient.connect(hub.url, agent, token(agent, "device"));
      await c.publish(agent, "tag_values", { v: 1 });
      await c.close();
    }
    admin = await RawClient.connect(hub.url, "admin", token("admin", "operator"));
  });
  afterAll(async () => {
    await admin.close();
    await hub.close();
    dir.remove();
  });

  const aggregateOf = async (agent: string, channel: string) => {
    const r = await admin.request({ type: "getAggregate", reqId: 0, agentId: agent, channel });
    return { version: r.version, value: val(r.aggregate) };
  };

  async function refusedHello(c: RawClient, agentId: string, tok?: string, pattern?: RegExp) {
    const reply = await c.reply({ type: "hello", reqId: 0, protocol: 1, agentId, token: tok });
    expect(reply).toMatchObject({ type: "error", code: "TAGWIRE_ERR_AUTH" });
    if (pattern) expect((reply as any).message).toMatch(pattern);
    expect(await c.closed()).toBe(4401);
  }

  test("hello without a token, with a forged, expired or someone else's token is refused and closed", async () => {
    await refusedHello(await RawClient.open(hub.url), "pump-1", undefined, /no token/);
    await refusedHello(
      await RawClient.open(hub.url),
      "pump-1",
      createToken("wrong-secret", { agentId: "pump-1", role: "device" }),
      /signature/,
    );
    const expired = token("pump-1", "device", { now: Math.floor(Date.now() / 1000) - 100, ttlSeconds: 10 });
    await refusedHello(await RawClient.open(hub.url), "pump-1", expired, /expired/);
    await refusedHello(await RawClient.open(hub.url), "pump-1", token("pump-2", "device"), /pump-2/);
  });

  test("frames before hello are refused with TAGWIRE_ERR_AUTH and change nothing", async () => {
    const before = await aggregateOf("pump-1", "tag_values");
    const c = await RawClient.open(hub.url);
    const r = await c.reply({ type: "publish", reqId: 0, agentId: "pump-1", channel: "tag_values", diff: doc({ v: 666 }) });
    expect(r).toMatchObject({ type: "error", code: "TAGWIRE_ERR_AUTH" });
    expect(await aggregateOf("pump-1", "tag_values")).toEqual(before);
    await c.close();
  });

  test("the token may come in the upgrade request: Authorization header or ?token=", async () => {
    const viaHeader = await RawClient.open(hub.url, { header: token("pump-1", "device") });
    expect(await viaHeader.request({ type: "hello", reqId: 0, protocol: 1, agentId: "pump-1" })).toMatchObject({
      role: "device",
      agentId: "pump-1",
    });
    const viaQuery = await RawClient.open(hub.url, { token: token("viewer-1", "viewer") });
    expect(await viaQuery.request({ type: "hello", reqId: 0, protocol: 1, agentId: "viewer-1" })).toMatchObject({ role: "viewer" });
    await Promise.all([viaHeader.close(), viaQuery.close()]);
  });

  test("a device writes only its own channels; refused writes leave no trace", async () => {
    const dev = await RawClient.connect(hub.url, "pump-1", token("pump-1", "device"));
    const before = await aggregateOf("pump-2", "tag_values");
    const w1 = await dev.reply({ type: "publish", reqId: 0, agentId: "pump-2", channel: "tag_values", diff: doc({ v: 2 }) });
    expect(w1).toMatchObject({ type: "error", code: "TAGWIRE_ERR_FORBIDDEN" });
    const w2 = await dev.reply({ type: "publish", reqId: 0, agentId: "pump-2", channel: "brand-new", diff: doc({ v: 2 }), log: true });
    expect(w2).toMatchObject({ type: "error", code: "TAGWIRE_ERR_FORBIDDEN" });
    const w3 = await dev.reply({ type: "createMessage", reqId: 0, agentId: "pump-2", channel: "notifications", data: doc({ x: 1 }) });
    expect(w3).toMatchObject({ type: "error", code: "TAGWIRE_ERR_FORBIDDEN" });
    expect(await aggregateOf("pump-2", "tag_values")).toEqual(before);
    expect((await admin.request({ type: "listChannels", reqId: 0, agentId: "pump-2" })).channels).toEqual(["tag_values"]);
    // own channel: fine
    expect((await dev.publish("pump-1", "tag_values", { v: 3 })).version).toBe(2);
    await dev.close();
  });

  test("a device reads its own channels and its grants, nothing else", async () => {
    const plain = await RawClient.connect(hub.url, "pump-1", token("pump-1", "device"));
    const granted = await RawClient.connect(hub.url, "pump-3", token("pump-3", "device", { grants: ["pump-2/*"] }));
    expect(await plain.reply({ type: "getAggregate", reqId: 0, agentId: "pump-2", channel: "tag_values" })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    expect(await plain.reply({ type: "subscribe", reqId: 0, subId: 1, agentId: "+", pattern: "#" })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    expect(await plain.reply({ type: "getMessages", reqId: 0, agentId: "pump-2", channel: "tag_values" })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    expect((await plain.request({ type: "listChannels", reqId: 0, agentId: "pump-2" })).channels).toEqual([]);
    await plain.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-1", pattern: "#" });

    const agg = await granted.request({ type: "getAggregate", reqId: 0, agentId: "pump-2", channel: "tag_values" });
    expect(val(agg.aggregate)).toEqual({ v: 1 });
    await granted.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "pump-2", pattern: "#" });
    expect(granted.received.some((f) => f.type === "sync" && f.agentId === "pump-2")).toBe(true);
    expect(await granted.reply({ type: "subscribe", reqId: 0, subId: 2, agentId: "pump-1", pattern: "#" })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    await Promise.all([plain.close(), granted.close()]);
  });

  test("a viewer reads but cannot write; an operator writes ui_cmds only", async () => {
    const viewer = await RawClient.connect(hub.url, "ann", token("ann", "viewer"));
    await viewer.request({ type: "subscribe", reqId: 0, subId: 1, agentId: "+", pattern: "#" });
    expect(await viewer.reply({ type: "publish", reqId: 0, agentId: "pump-1", channel: "ui_cmds", diff: doc({ go: 1 }) })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    expect(await viewer.reply({ type: "publish", reqId: 0, agentId: "ann", channel: "mine", diff: doc({ go: 1 }) })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    const op = await RawClient.connect(hub.url, "bob", token("bob", "operator", { grants: ["pump-1"] }));
    const cmd = await op.publish("pump-1", "ui_cmds", { start: true });
    expect(cmd.version).toBe(1);
    expect(await op.reply({ type: "publish", reqId: 0, agentId: "pump-1", channel: "ui_state", diff: doc({ x: 1 }) })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    expect(await op.reply({ type: "publish", reqId: 0, agentId: "pump-2", channel: "ui_cmds", diff: doc({ x: 1 }) })).toMatchObject({
      code: "TAGWIRE_ERR_FORBIDDEN",
    });
    // the viewer saw the operator's command
    await viewer.waitFor((f) => f.type === "aggregate" && f.agentId === "pump-1" && f.channel === "ui_cmds");
    expect((await admin.request({ type: "listChannels", reqId: 0, agentId: "pump-2" })).channels).toEqual(["tag_values"]);
    expect((await admin.request({ type: "listChannels", reqId: 0, agentId: "ann" })).channels).toEqual([]);
    await Promise.all([viewer.close(), op.close()]);
  });

  test("HTTP: 401 without or with a bad token, 403 for role violations, nothing written", async () => {
    const url = `${hub.httpUrl}/agents/pump-2/channels/tag_values/aggregate`;
    const before = await aggregateOf("pump-2", "tag_values");
    const noToken = await fetch(url);
    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as any).error.code).toBe("TAGWIRE_ERR_AUTH");
    const bad = await fetch(url, { method: "PATCH", headers: { authorization: "Bearer tw1.x.y" }, body: JSON.stringify({ v: 9 }) });
    expect(bad.status).toBe(401);
    const asPump1 = { authorization: `Bearer ${token("pump-1", "device")}`, "content-type": "application/json" };
    const forbidden = await fetch(url, { method: "PATCH", headers: asPump1, body: JSON.stringify({ v: 9 }) });
    expect(forbidden.status).toBe(403);
    const post = await fetch(`${hub.httpUrl}/agents/pump-2/channels/log/messages`, { method: "POST", headers: asPump1, body: "{}" });
    expect(post.status).toBe(403);
    expect(await aggregateOf("pump-2", "tag_values")).toEqual(before);
    expect((await admin.request({ type: "listChannels", reqId: 0, agentId: "pump-2" })).channels).toEqual(["tag_values"]);
    const own = await fetch(`${hub.httpUrl}/agents/pump-1/channels/http/aggregate`, {
      method: "PATCH",
      headers: asPump1,
      body: JSON.stringify({ ok: 1 }),
    });
    expect(own.status).toBe(200);
    const viewerRead = await fetch(`${url}?token=${encodeURIComponent(token("ann", "viewer"))}`);
    expect(((await viewerRead.json()) as any).aggregate).toEqual({ v: 1 });
  });
});
