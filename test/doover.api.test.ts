// The Doover-compatible Data API (/api, hub/doover/) against a real hub with auth on: every
// request pydoover's DataClient sent to a recording server (test/fixtures/pydoover-http/, bytes
// as sent, gzip included) is replayed here and its answer checked against what pydoover's
// models read; then bad input: gzip bombs, broken gzip, bad tokens, other agents, 501 routes.
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { dooverAgentId, resolveAgent } from "../hub/doover/agents.js";
import { stringifyExact } from "../hub/doover/json.js";
import { parseDooverRoute } from "../hub/doover/routes.js";
import { DOOVER_EPOCH_MS, messageSnowflake, SnowflakeAllocator, snowflakeAt, snowflakeTime } from "../hub/doover/snowflake.js";
import { tempDir } from "./hub-helpers.js";

const SECRET = "doover-api-secret";
const AGENT = "1234567890123";
const FIXTURES = join(import.meta.dirname, "fixtures", "pydoover-http");

interface Fixture {
  name: string;
  request: {
    method: string;
    path: string;
    query: [string, string][];
    headers: Record<string, string>;
    body_base64?: string;
    body_json?: unknown;
  };
}
const fixtures = new Map<string, Fixture>(
  readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .map((f) => {
      const fx = JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as Fixture;
      return [fx.name, fx];
    }),
);

interface Reply {
  status: number;
  text: string;
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

let hub: RunningHub;
let dir: ReturnType<typeof tempDir>;
const device = createToken(SECRET, { agentId: AGENT, role: "device" });

function send(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer; token?: string | null } = {},
): Promise<Reply> {
  const url = new URL(path, hub.httpUrl);
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? device : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  else delete headers.authorization;
  if (options.body) headers["content-length"] = String(options.body.length);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, text, json, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Replays a recorded pydoover request byte for byte (with a real token). */
function replay(name: string): Promise<Reply> {
  const fx = fixtures.get(name);
  if (!fx) throw new Error(`no fixture ${name}`);
  const r = fx.request;
  const query = r.query.length ? `?${new URLSearchParams(r.query).toString()}` : "";
  const headers = { ...r.headers };
  delete headers.authorization;
  return send(r.method, r.path + query, { headers, ...(r.body_base64 ? { body: Buffer.from(r.body_base64, "base64") } : {}) });
}

/** The exact integer text of a JSON field (JSON.parse would round a 64-bit id). */
function rawInt(text: string, field: string): bigint {
  const m = new RegExp(`"${field}":(\\d+)`).exec(text);
  if (!m) throw new Error(`no integer ${field} in ${text}`);
  return BigInt(m[1]!);
}

beforeAll(async () => {
  dir = tempDir();
  hub = await startHub({ dataDir: dir.dir, secret: SECRET, log: () => {} });
});
afterAll(async () => {
  await hub.close();
  dir.remove();
});

describe("pydoover DataClient requests (recorded fixtures)", () => {
  test("the fixtures hold what pydoover sends: gzip for bodies of 50+ bytes, Bearer token, repeated replace", () => {
    expect(fixtures.size).toBeGreaterThanOrEqual(18);
    const big = fixtures.get("update_aggregate_gzip_log_replace")!.request;
    expect(big.headers["content-encoding"]).toBe("gzip");
    expect(big.query).toEqual([
      ["log_update", "true"],
      ["replace", "state.children.app"],
      ["replace", "note"],
    ]);
    expect(fixtures.get("update_aggregate_small")!.request.headers["content-encoding"]).toBeUndefined();
    expect(fixtures.get("fetch_channel")!.request.headers.authorization).toMatch(/^Bearer /);
  });

  test("a missing channel: aggregate and channel are 404 in Doover's error shape", async () => {
    const agg = await replay("fetch_channel_aggregate");
    expect(agg.status).toBe(404);
    expect(agg.json).toEqual({ detail: expect.stringContaining("does not exist"), error: "TAGWIRE_ERR_NOT_FOUND" });
    expect((await replay("fetch_channel")).status).toBe(404);
  });

  test("create_channel answers {id}; put_channel and fetch_channel answer a Channel", async () => {
    const created = await replay("create_channel");
    expect(created.status).toBe(200);
    expect(typeof created.json.id).toBe("number");
    const put = await replay("put_channel");
    expect(put.json).toMatchObject({ name: "tag_values", is_private: false, aggregate: { data: {}, attachments: [] } });
    expect(rawInt(put.text, "owner_id")).toBe(BigInt(AGENT));
    const fetched = await replay("fetch_channel");
    expect(fetched.json).toMatchObject({ name: "tag_values", owner_id: Number(AGENT), aggregate: { data: {} } });
    const empty = await replay("fetch_channel_aggregate");
    expect(empty.json).toEqual({ data: {}, attachments: [], last_updated: null });
  });

  test("aggregate merge, gzip + log_update + dotted replace keys, then replace with suppress_response", async () => {
    const small = await replay("update_aggregate_small");
    expect(small.status).toBe(200);
    expect(small.json.data).toEqual({ temperature: 21.5 });
    expect(typeof small.json.last_updated).toBe("number");

    // Put something under the subtree the next write replaces: it must be gone afterwards.
    const seeded = await send("PATCH", `/api/agents/${AGENT}/channels/tag_values/aggregate`, {
      body: Buffer.from(JSON.stringify({ state: { children: { app: { old: true } }, keep: 1 } })),
      headers: { "content-type": "application/json" },
    });
    expect(seeded.json.data.state).toEqual({ children: { app: { old: true } }, keep: 1 });
    const big = await replay("update_aggregate_gzip_log_replace");
    expect(big.status).toBe(200);
    expect(big.json.data.state).toEqual({ children: { app: { mode: "auto" } }, keep: 1 });
    expect(big.json.data.humidity).toBe(40);
    const log = await send("GET", `/api/agents/${AGENT}/channels/tag_values/messages`);
    expect(log.json).toHaveLength(1);
    expect(log.json[0].data.humidity).toBe(40);

    const suppressed = await replay("replace_aggregate_suppressed");
    expect(suppressed.status).toBe(204);
    expect(suppressed.text).toBe("");
    expect((await replay("fetch_channel_aggregate")).json.data).toEqual({ only: 1 });
    const list = await replay("list_channels");
    expect(list.json).toEqual([expect.objectContaining({ name: "tag_values", aggregate: expect.objectContaining({ data: { only: 1 } }) })]);
  });

  test("fetch_multi_agent_aggregates: the channel's aggregate per named agent that has it", async () => {
    const r = await replay("fetch_multi_agent_aggregates");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ count: 1, results: [expect.objectContaining({ data: { only: 1 }, attachments: [] })] });
    expect(rawInt(r.text, "agent_id")).toBe(BigInt(AGENT));
    // A device token reads only its own agent's channels: another agent's are left out.
    const other = createToken(SECRET, { agentId: "pump-9", role: "device" });
    const theirs = await send("GET", `/api/agents/channels/tag_values/aggregates?agent_id=${AGENT}`, { token: other });
    expect(theirs.json).toEqual({ count: 0, results: [] });
  });

  test("messages: create with ts (gzip) and with an id, fetch one, list with before/after/limit and field_name", async () => {
    const created = await replay("create_message_ts");
    expect(created.status).toBe(200);
    const id = rawInt(created.text, "id");
    // pydoover's Message.timestamp reads the time from the id: it must be the ts sent.
    expect(snowflakeTime(id)).toBe(1767225600000);
    expect(created.json).toMatchObject({ data: { kind: "start" }, channel: { name: "events" }, attachments: [] });
    expect(rawInt(created.text, "author_id")).toBe(BigInt(AGENT));
    expect(rawInt(created.text, "agent_id")).toBe(BigInt(AGENT));

    const withId = await replay("create_message_with_id");
    expect(rawInt(withId.text, "id")).toBe(132271570944000037n);
    const again = await replay("create_message_with_id");
    expect(rawInt(again.text, "id")).toBe(132271570944000037n);

    const one = await replay("fetch_message");
    expect(one.status).toBe(200);
    expect(one.json.data).toEqual({ kind: "stop" });
    const missing = await send("GET", `/api/agents/${AGENT}/channels/events/messages/132271570944000038`);
    expect(missing.status).toBe(404);

    const range = await replay("list_messages_range");
    expect(range.status).toBe(200);
    const ids = [...range.text.matchAll(/"id":(\d+)/g)].map((m) => BigInt(m[1]!));
    expect(ids).toHaveLength(2);
    expect(range.json.map((m: any) => m.data.kind).sort()).toEqual(["start", "stop"]);
    const fields = await replay("list_messages_fields");
    expect(fields.json.every((m: any) => Object.keys(m.data).join() === "kind")).toBe(true);
    const limited = await send("GET", `/api/agents/${AGENT}/channels/events/messages?limit=1`);
    expect(limited.json).toHaveLength(1);
  });

  test("fetch_multi_agent_messages: oldest first across the named agents, per-agent and total limits", async () => {
    const pump = createToken(SECRET, { agentId: "pump-8", role: "device" });
    await send("POST", "/api/agents/pump-8/channels/events/messages", { token: pump, body: Buffer.from('{"data":{"kind":"pump"}}') });
    const viewer = createToken(SECRET, { agentId: "dash", role: "viewer" });
    const q = `agent_id=${AGENT}&agent_id=${dooverAgentId("pump-8")}&agent_id=42&after=1`;
    const all = await send("GET", `/api/agents/channels/events/messages?${q}`, { token: viewer });
    expect(all.status).toBe(200);
    const ids = [...all.text.matchAll(/"id":(\d+)/g)].map((m) => BigInt(m[1]!));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect(all.json.count).toBe(3);
    expect(all.json.results.map((m: any) => m.data.kind).sort()).toEqual(["pump", "start", "stop"]);
    const perAgent = await send("GET", `/api/agents/channels/events/messages?${q}&agent_message_limit=1`, { token: viewer });
    expect(perAgent.json.count).toBe(2);
    const recorded = await replay("fetch_multi_agent_messages");
    expect(recorded.json.results.every((m: any) => m.channel.name === "events")).toBe(true);
  });

  test("a message written natively gets a stable derived snowflake that fetch_message finds", async () => {
    const native = await fetch(`${hub.httpUrl}/agents/${AGENT}/channels/native/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${device}`, "content-type": "application/json" },
      body: JSON.stringify({ v: 1 }),
    });
    const { id: tagwireId, ts } = (await native.json()) as { id: string; ts: number };
    const list = await send("GET", `/api/agents/${AGENT}/channels/native/messages`);
    const id = rawInt(list.text, "id");
    expect(id).toBe(messageSnowflake(tagwireId, ts));
    const one = await send("GET", `/api/agents/${AGENT}/channels/native/messages/${id}`);
    expect(one.json.data).toEqual({ v: 1 });
  });

  test("a named agent (pump-7) reads as its derived integer, and that integer names it in paths", async () => {
    const pump = createToken(SECRET, { agentId: "pump-7", role: "device" });
    const w = await send("PATCH", "/api/agents/pump-7/channels/tag_values/aggregate", { token: pump, body: Buffer.from('{"on":true}') });
    expect(w.status).toBe(200);
    const id = dooverAgentId("pump-7");
    const ch = await send("GET", `/api/agents/${id}/channels/tag_values`, { token: pump });
    expect(ch.status).toBe(200);
    expect(rawInt(ch.text, "owner_id")).toBe(id);
    expect(ch.json.aggregate.data).toEqual({ on: true });
    const m = await send("POST", `/api/agents/${id}/channels/log/messages`, { token: pump, body: Buffer.from('{"data":{"n":1}}') });
    expect(rawInt(m.text, "author_id")).toBe(id);
  });

  test("send_notification is a message on the notifications channel", async () => {
    const n = await replay("send_notification");
    expect(n.status).toBe(200);
    expect(n.json).toMatchObject({ channel: { name: "notifications" }, data: { message: "Tank level low", severity: 6 } });
  });

  test("update_message merges into the stored message (PUT replaces, suppress_response = 204)", async () => {
    const upd = await replay("update_message");
    expect(upd.status).toBe(200);
    expect(rawInt(upd.text, "id")).toBe(132271570944000037n);
    expect(upd.json.data).toEqual({ kind: "edited" });
    const path = `/api/agents/${AGENT}/channels/events/messages/132271570944000037`;
    await send("PATCH", path, { body: Buffer.from('{"data":{"status":{"code":"ok"}}}') });
    expect((await send("GET", path)).json.data).toEqual({ kind: "edited", status: { code: "ok" } });
    const put = await send("PUT", `${path}?suppress_response=true`, { body: Buffer.from('{"data":{"only":true}}') });
    expect(put.status).toBe(204);
    expect((await send("GET", path)).json.data).toEqual({ only: true });
    expect((await send("PATCH", `/api/agents/${AGENT}/channels/events/messages/5`, { body: Buffer.from('{"data":{}}') })).status).toBe(404);
    expect((await send("DELETE", path)).status).toBe(501);
  });

  test("alarms and other Doover-only routes answer 501 with a clear body", async () => {
    const alarms = await replay("list_alarms");
    expect(alarms.status).toBe(501);
    expect(alarms.json.detail).toMatch(/alarms/);
    for (const path of [
      "/api/billing/invoices",
      "/api/agents/1/notifications/endpoints",
      "/api/turn/token",
      "/api/agents/messages",
      "/api/agents/channels/x/summaries",
    ]) {
      const r = await send("GET", path);
      expect(r.status, path).toBe(501);
      expect(r.json.error).toBe("TAGWIRE_ERR_UNSUPPORTED");
    }
  });
});

describe("bad input", () => {
  const aggPath = `/api/agents/${AGENT}/channels/bad/aggregate`;
  const gz = { "content-encoding": "gzip", "content-type": "application/json" };

  test("no token, a forged token, another agent's token: 401/401/403, nothing written", async () => {
    const none = await send("GET", `/api/agents/${AGENT}/channels`, { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error).toBe("TAGWIRE_ERR_AUTH");
    expect((await send("GET", `/api/agents/${AGENT}/channels`, { token: "tw1.e30.AAAA" })).status).toBe(401);
    const other = createToken(SECRET, { agentId: "pump-9", role: "device" });
    const w = await send("PATCH", aggPath, { token: other, body: Buffer.from('{"x":1}') });
    expect(w.status).toBe(403);
    expect((await send("GET", aggPath)).status).toBe(404);
    const viewer = createToken(SECRET, { agentId: "dash", role: "viewer" });
    expect((await send("PATCH", aggPath, { token: viewer, body: Buffer.from('{"x":1}') })).status).toBe(403);
  });

  test("a gzip bomb is refused with 413 before it is inflated past the bound", async () => {
    const bomb = gzipSync(Buffer.alloc(24 * 1024 * 1024, 0x20)); // 24 MiB of spaces -> ~24 KiB
    expect(bomb.length).toBeLessThan(200_000);
    const r = await send("PATCH", aggPath, { headers: gz, body: bomb });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ error: "TAGWIRE_ERR_SIZE", detail: expect.stringContaining("inflates") });
  });

  test("broken gzip, unknown encoding, non-JSON, too deep, non-object aggregate, bad ts, bad snowflake", async () => {
    expect((await send("PATCH", aggPath, { headers: gz, body: Buffer.from("not gzip at all") })).json.error).toBe("TAGWIRE_ERR_PAYLOAD");
    expect((await send("PATCH", aggPath, { headers: { "content-encoding": "br" }, body: Buffer.from("{}") })).status).toBe(415);
    expect((await send("PATCH", aggPath, { body: Buffer.from("{nope") })).status).toBe(400);
    let deep = "1";
    for (let i = 0; i < 200; i++) deep = `{"a":${deep}}`;
    expect((await send("PATCH", aggPath, { body: Buffer.from(deep) })).json.error).toBe("TAGWIRE_ERR_DEPTH");
    expect((await send("PATCH", aggPath, { body: Buffer.from("[1,2]") })).json.error).toBe("TAGWIRE_ERR_PAYLOAD");
    const msgs = `/api/agents/${AGENT}/channels/bad/messages`;
    expect((await send("POST", msgs, { body: Buffer.from('{"data":{},"ts":"yesterday"}') })).status).toBe(400);
    expect((await send("POST", msgs, { body: Buffer.from('{"nodata":1}') })).status).toBe(400);
    expect((await send("GET", `${msgs}?before=abc`)).status).toBe(400);
    expect((await send("GET", `${msgs}?before=99999999999999999999999`)).status).toBe(400);
    expect((await send("DELETE", aggPath)).status).toBe(405);
    expect((await send("GET", aggPath)).status).toBe(404);
  });

  test("an oversize body is refused (413) and the hub keeps answering", async () => {
    const huge = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const r = await send("PATCH", aggPath, { body: huge }).catch((e: Error) => ({ status: -1, text: e.message }) as Reply);
    expect([413, -1]).toContain(r.status);
    expect((await send("GET", `/api/agents/${AGENT}/channels`)).status).toBe(200);
  });
});

describe("snowflakes and agent ids", () => {
  test("layout matches pydoover: epoch 2025-01-01, time << 22", () => {
    expect(DOOVER_EPOCH_MS).toBe(Date.UTC(2025, 0, 1));
    // pydoover generate_snowflake_id_at(datetime(2027,1,1)) as recorded in list_messages_range.
    expect(snowflakeTime(264543141888000000n)).toBe(Date.UTC(2027, 0, 1));
    expect(snowflakeAt(Date.UTC(2027, 0, 1), 0)).toBe(264543141888000000n);
    const alloc = new SnowflakeAllocator(0x3ffe);
    const ids = new Set(Array.from({ length: 5000 }, () => alloc.next(Date.UTC(2026, 0, 1))));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(Number((id >> 4n) & 0xfn)).toBe(2); // type = message
  });

  test("agent ids: digits are themselves, names map to stable 2^62-tagged integers and back", () => {
    expect(dooverAgentId("1234567890123")).toBe(1234567890123n);
    const pump = dooverAgentId("pump-7");
    expect(pump >> 62n).toBe(1n);
    expect(dooverAgentId("pump-7")).toBe(pump);
    expect(resolveAgent(pump.toString(), () => ["a", "pump-7"])).toBe("pump-7");
    expect(resolveAgent("pump-7", () => [])).toBe("pump-7");
    expect(stringifyExact({ id: 18446744073709551615n, n: 1 })).toBe('{"id":18446744073709551615,"n":1}');
  });

  test("routes read keywords from the end, so channel names may hold '/'", () => {
    expect(parseDooverRoute("/api/agents/a/channels/site/pump/aggregate")).toEqual({ kind: "aggregate", agent: "a", channel: "site/pump" });
    expect(parseDooverRoute("/api/agents/a/channels/x/messages/42")).toEqual({
      kind: "message",
      agent: "a",
      channel: "x",
      messageId: "42",
    });
    expect(parseDooverRoute("/api/agents/a/channels/")).toEqual({ kind: "channels", agent: "a" });
    expect(parseDooverRoute("/agents/a/channels").kind).toBe("none");
  });
});
