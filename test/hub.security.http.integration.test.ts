// The HTTP API against bad and hostile requests: numeric query parameters are validated, unknown
// ones refused, auth and Content-Length are checked before a body is read, an aborted upload is
// one log line, 404/405 carry their documented codes, and Node clients keep tokens out of URLs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect as tcpConnect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { createToken, startHub, verifyToken, type RunningHub } from "../hub/index.js";
import { loadSecret } from "../hub/auth.js";
import { connectSession } from "../bindings/client/index.js";
import { decodeFrames } from "../bindings/protocol/index.js";
import { RawClient, tempDir } from "./hub-helpers.js";

const SECRET = "http-security-secret";
const device = createToken(SECRET, { agentId: "pump-1", role: "device" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends raw bytes and resolves with what came back before the server closed (or `waitMs`). */
function raw(port: number, text: string, waitMs = 2000): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = tcpConnect(port, "127.0.0.1", () => s.write(text));
    let response = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ response, closed });
    };
    s.on("data", (d) => (response += d.toString()));
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
    setTimeout(() => finish(false), waitMs);
  });
}

describe("HTTP API hardening", () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tempDir>;
  const log: string[] = [];
  const get = async (path: string, token = device) => {
    const r = await fetch(hub.httpUrl + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as any, allow: r.headers.get("allow") };
  };

  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({ dataDir: dir.dir, secret: SECRET, log: (l) => log.push(l) });
    const c = await RawClient.connect(hub.url, "pump-1", device);
    await c.publish("pump-1", "tag_values", { rpm: 1 });
    await c.request({ type: "createMessage", reqId: 0, agentId: "pump-1", channel: "events", data: new Uint8Array([0x80]) });
    await c.close();
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it("refuses non-integer numeric query parameters with 400 TAGWIRE_ERR_ARGUMENT (not a 500)", async () => {
    for (const q of ["limit=1.5", "limit=abc", "limit=0", "limit=", "before=-1", "after=1e3", "before=12.5", "limit=99999999999999999"]) {
      const r = await get(`/agents/pump-1/channels/events/messages?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe("TAGWIRE_ERR_ARGUMENT");
    }
    expect((await get("/agents/pump-1/channels/events/messages?limit=5&after=0")).status).toBe(200);
    expect(log.some((l) => l.includes("internal error"))).toBe(false);
  });

  it("refuses unknown and repeated query parameters with 400", async () => {
    const r = await get("/agents/pump-1/channels/tag_values/aggregate?limt=5");
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "TAGWIRE_ERR_ARGUMENT" });
    expect(r.body.error.message).toMatch(/unknown query parameter "limt"/);
    expect((await get("/agents/pump-1/channels/events/messages?limit=1&limit=2")).status).toBe(400);
    expect((await get("/agents/pump-1/channels?x=1")).status).toBe(400);
    const patch = await fetch(`${hub.httpUrl}/agents/pump-1/channels/tag_values/aggregate?log=yes`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${device}` },
      body: "{}",
    });
    expect(patch.status).toBe(400);
  });

  it("answers 404 with TAGWIRE_ERR_NOT_FOUND and 405 with TAGWIRE_ERR_ARGUMENT and an Allow header", async () => {
    const nf = await get("/nothing/here");
    expect(nf.status).toBe(404);
    expect(nf.body.error.code).toBe("TAGWIRE_ERR_NOT_FOUND");
    const r = await fetch(`${hub.httpUrl}/agents/pump-1/channels/events/messages`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${device}` },
    });
    expect(r.status).toBe(405);
    expect(((await r.json()) as any).error.code).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(r.headers.get("allow")).toBe("GET, POST");
  });

  it("answers 413 from Content-Length before reading a body over the limit", async () => {
    const head = `PATCH /agents/pump-1/channels/tag_values/aggregate HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${device}\r\nContent-Type: application/json\r\nContent-Length: ${5 * 1024 * 1024}\r\n\r\n`;
    const r = await raw(hub.port, head + "{");
    expect(r.response).toMatch(/^HTTP\/1.1 413/);
    expect(r.response).toContain("TAGWIRE_ERR_SIZE");
  });

  it("answers 413 (not a reset) to a chunked body that grows over the limit", async () => {
    const chunk = "x".repeat(1024 * 1024);
    const head = `POST /agents/pump-1/channels/events/messages HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${device}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    let body = "";
    for (let i = 0; i < 5; i++) body += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const r = await raw(hub.port, head + body);
    expect(r.response).toMatch(/^HTTP\/1.1 413/);
  });

  it("answers 401 before reading the body of an unauthenticated request", async () => {
    const head = `POST /agents/pump-1/channels/events/messages HTTP/1.1\r\nHost: hub\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n`;
    const start = Date.now();
    // No body is sent at all: the answer cannot have waited for it.
    const r = await raw(hub.port, head, 3000);
    expect(r.response).toMatch(/^HTTP\/1.1 401/);
    expect(Date.now() - start).toBeLessThan(2500);
    expect(r.closed).toBe(true);
  });

  it("logs an aborted upload as one line, not an internal error", async () => {
    const before = log.length;
    await new Promise<void>((resolve) => {
      const s = tcpConnect(hub.port, "127.0.0.1", () => {
        s.write(
          `POST /agents/pump-1/channels/events/messages HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${device}\r\nContent-Length: 100000\r\n\r\n{"a":`,
        );
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 100);
      });
    });
    await sleep(200);
    const lines = log.slice(before);
    expect(lines.filter((l) => l.includes("aborted"))).toHaveLength(1);
    expect(lines.some((l) => l.includes("internal error"))).toBe(false);
    expect(lines.join("\n")).not.toMatch(/\n\s+at /);
  });
});

describe("tokens stay out of URLs in Node", () => {
  it("connect() sends the token in the hello frame, not the WebSocket URL", async () => {
    const seen: { url: string; auth?: string; first?: Uint8Array } = { url: "" };
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const got = new Promise<void>((resolve) => {
      wss.on("connection", (ws, req) => {
        seen.url = req.url ?? "";
        ws.on("message", (data: Buffer) => {
          seen.first ??= data;
          resolve();
        });
      });
    });
    const port = (wss.address() as { port: number }).port;
    const session = await connectSession(`ws://127.0.0.1:${port}`, { agentId: "pump-1", token: device, connectTimeoutMs: 0 });
    await got;
    await session.close(0);
    await new Promise((r) => wss.close(r));
    expect(seen.url).not.toContain("token");
    expect(seen.url).not.toContain(device.slice(-20));
    const hello = decodeFrames(seen.first!)[0]!;
    expect(hello).toMatchObject({ type: "hello", agentId: "pump-1", token: device });
  });
});

describe("the hub secret", () => {
  it("is 64 hex characters in <data-dir>/secret, and the HMAC key is that text", async () => {
    const d = tempDir();
    try {
      const secret = loadSecret(d.dir, {});
      const text = readFileSync(join(d.dir, "secret"), "utf8");
      expect(text).toMatch(/^[0-9a-f]{64}\n$/);
      expect(secret).toBe(text.trim());
      // A token signed with the text (not the 32 bytes it spells) is the hub's.
      const hub = await startHub({ dataDir: d.dir, log: () => {} });
      try {
        const t = createToken(text.trim(), { agentId: "a", role: "viewer" });
        expect(verifyToken(secret, t).agentId).toBe("a");
        const r = await fetch(`${hub.httpUrl}/agents/a/channels`, { headers: { authorization: `Bearer ${t}` } });
        expect(r.status).toBe(200);
      } finally {
        await hub.close();
      }
    } finally {
      d.remove();
    }
  });
});
