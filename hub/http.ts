// The HTTP API, shaped like Doover's data API (docs/PROTOCOL.md, "HTTP API"). JSON in and out;
// writes take the same route as WebSocket frames (HubState.publishDurably/createMessageDurably),
// so they fan out to subscribers and are answered only once durable (after the tick's commit).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId } from "../bindings/sdk/names.js";
import { decodeValue, encodeValue } from "../bindings/protocol/msgpack.js";
import { assertRead, assertWrite, authenticate, readableNames, type Principal } from "./access.js";
import { bearerToken } from "./auth.js";
import type { HubContext } from "./context.js";
import { messageLimit } from "./handlers.js";
import { RateBucket } from "./limits.js";
import { httpStatusOf } from "./http-status.js";
import { parseJsonBody } from "./json-body.js";

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 500;

function drainThenClose(req: IncomingMessage): void {
  let drained = 0;
  const timer = setTimeout(() => req.destroy(), DRAIN_MS);
  req.removeAllListeners("data");
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_BYTES) {
      clearTimeout(timer);
      req.destroy();
    }
  });
  req.once("end", () => {
    clearTimeout(timer);
    req.destroy();
  });
  req.resume();
}

/** The client went away mid-request: nothing to answer, and not the hub's error. */
class Aborted extends Error {}

function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, ctx: HubContext): void {
  if (err instanceof Aborted) {
    ctx.log(`http: ${req.method} ${req.url?.split("?")[0]} from ${req.socket.remoteAddress}: aborted by the client`);
    res.destroy();
    return;
  }
  if (!req.complete) {
    // A body we will not read (refused before or while reading it): close rather than let Node
    // read the rest to reuse the connection. Closing at once would make the TCP stack reset the
    // connection over the unread bytes and the client could lose the answer, so a little more
    // is read and dropped first (at most DRAIN_BYTES or DRAIN_MS).
    res.setHeader("connection", "close");
    res.once("finish", () => drainThenClose(req));
  }
  if (err instanceof TagwireError) {
    const extra = err as { allow?: string };
    if (extra.allow) res.setHeader("allow", extra.allow);
    send(res, httpStatusOf(err), { error: { code: err.code, message: err.message } });
    return;
  }
  ctx.log(`http: internal error: ${(err as Error)?.stack ?? err}`);
  send(res, 500, { error: { code: "TAGWIRE_ERR_INTERNAL", message: "internal error" } });
}

/** The bearer token of a request (header, or `?token=` for links opened in a browser). */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  return bearerToken(req.headers.authorization) ?? url.searchParams.get("token") ?? undefined;
}

function principalFor(ctx: HubContext, req: IncomingMessage, url: URL): Principal {
  return authenticate(ctx, requestToken(req, url));
}

/** Reads a body of at most `limit` bytes; the declared Content-Length is checked first. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return Promise.reject(new TagwireError("TAGWIRE_ERR_SIZE", `request body of ${declared} bytes (limit ${limit})`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject(new TagwireError("TAGWIRE_ERR_SIZE", `request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => reject(new Aborted()));
    req.on("aborted", () => reject(new Aborted()));
  });
}

async function jsonBody(req: IncomingMessage, ctx: HubContext): Promise<unknown> {
  // JSON text is larger than the msgpack it becomes; the document limit is checked on the msgpack.
  const text = (await readBody(req, 4 * ctx.limits.maxPayloadBytes)).toString("utf8");
  return parseJsonBody(text, ctx.limits.maxDepth);
}

/** A query parameter that must be a non-negative integer (timestamps, limit); absent: undefined. */
function queryInteger(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^[0-9]{1,16}$/.test(v))
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${name} must be a non-negative integer, not ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

/** Refuses query parameters the route does not take, and repeated ones: a typo must not pass silently. */
function checkQuery(url: URL, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (name !== "token" && !allowed.includes(name)) {
      throw new TagwireError(
        "TAGWIRE_ERR_ARGUMENT",
        `unknown query parameter ${JSON.stringify(name.slice(0, 40))} (this route takes: ${["token", ...allowed].join(", ")})`,
      );
    }
    if (seen.has(name)) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `query parameter ${name} given twice`);
    seen.add(name);
  }
}

function queryFlag(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === "false") return false;
  if (v === "true") return true;
  throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${name} must be true or false`);
}

interface Route {
  agentId: string;
  /** Undefined for /agents/{agent}/channels. */
  channel?: string;
  action: "channels" | "aggregate" | "messages";
}

/**
 * /agents/{agent}/channels
 * /agents/{agent}/channels/{channel...}/aggregate | /messages
 * The channel is every segment between "channels" and the last one (segments are URL-decoded,
 * so %2F works too).
 */
export function parseRoute(pathname: string): Route | undefined {
  const parts = pathname.split("/").slice(1);
  if (parts.length < 3 || parts[0] !== "agents" || parts[2] !== "channels") return undefined;
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  const agentId = decoded[1]!;
  if (parts.length === 3) return { agentId, action: "channels" };
  if (parts.length === 4 && parts[3] === "") return { agentId, action: "channels" };
  const action = decoded[decoded.length - 1];
  if (action !== "aggregate" && action !== "messages") return undefined;
  const channel = decoded.slice(3, -1).join("/");
  if (!channel) return undefined;
  return { agentId, channel, action };
}

export function createHttpHandler(ctx: HubContext): (req: IncomingMessage, res: ServerResponse) => void {
  const buckets = new WeakMap<Socket, RateBucket>();
  return (req, res) => {
    handle(ctx, buckets, req, res).catch((err) => {
      if (!res.headersSent) sendError(req, res, err, ctx);
      else res.destroy();
    });
  };
}

async function handle(ctx: HubContext, buckets: WeakMap<Socket, RateBucket>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://hub");
  if (req.method === "GET" && url.pathname === "/health") return send(res, 200, { ok: true });
  const route = parseRoute(url.pathname);
  if (!route) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no route ${req.method} ${url.pathname}`);

  let bucket = buckets.get(req.socket);
  if (!bucket) buckets.set(req.socket, (bucket = new RateBucket(ctx.limits.framesPerSecond)));
  if (!bucket.take(performance.now()))
    throw new TagwireError("TAGWIRE_ERR_RATE", `more than ${ctx.limits.framesPerSecond} requests per second`);

  // Auth and permission come before any body is read: a refused request costs no upload.
  const principal = principalFor(ctx, req, url);
  const state = ctx.state;
  const { agentId, channel, action } = route;
  const method = req.method ?? "GET";

  if (action === "channels") {
    if (method !== "GET") throw methodError(method, "GET");
    checkQuery(url, []);
    assertAgentId(agentId);
    return send(res, 200, { channels: readableNames(principal, agentId, state.channelNames(agentId)) });
  }
  const name = channel!;
  state.checkAddress(agentId, name);
  const key = `${agentId}/${name}`;

  if (action === "aggregate") {
    if (method === "GET") {
      checkQuery(url, []);
      assertRead(principal, agentId, name);
      const ch = state.channel(agentId, name);
      if (!ch || ch.version === 0) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `${key} has no aggregate`);
      const { version, aggregate } = state.aggregate(agentId, name);
      return send(res, 200, { agentId, channel: name, version, aggregate: decodeValue(aggregate) });
    }
    if (method === "PATCH" || method === "PUT") {
      checkQuery(url, ["log", "messageId"]);
      const log = queryFlag(url, "log");
      const messageId = url.searchParams.get("messageId") ?? undefined;
      assertWrite(principal, agentId, name);
      const body = await jsonBody(req, ctx);
      const out = await state.publishDurably(
        agentId,
        name,
        encodeValue(body),
        { replace: method === "PUT", log, messageId },
        principal.agentId,
      );
      const reply: Record<string, unknown> = { version: out.version, diff: decodeValue(out.diff) };
      if (out.message) reply.message = { id: out.message.id, ts: out.message.ts };
      return send(res, 200, reply);
    }
    throw methodError(method, "GET, PATCH, PUT");
  }

  // messages
  if (method === "GET") {
    checkQuery(url, ["before", "after", "limit"]);
    const before = queryInteger(url, "before");
    const after = queryInteger(url, "after");
    const limit = messageLimit(queryInteger(url, "limit"));
    assertRead(principal, agentId, name);
    const messages = await state.messages(agentId, name, before, after, limit, ctx.limits.maxQueuedBytes);
    return send(res, 200, { messages: messages.map((m) => ({ id: m.id, ts: m.ts, data: decodeValue(m.data) })) });
  }
  if (method === "POST") {
    checkQuery(url, ["messageId"]);
    assertWrite(principal, agentId, name);
    const body = await jsonBody(req, ctx);
    const m = await state.createMessageDurably(
      agentId,
      name,
      encodeValue(body),
      url.searchParams.get("messageId") ?? undefined,
      principal.agentId,
    );
    return send(res, 201, { id: m.id, ts: m.ts, data: decodeValue(m.data) });
  }
  throw methodError(method, "GET, POST");
}

function methodError(method: string, allowed: string): TagwireError {
  const err = new TagwireError("TAGWIRE_ERR_ARGUMENT", `method ${method} not allowed here (use ${allowed})`);
  return Object.assign(err, { httpStatus: 405, allow: allowed });
}
