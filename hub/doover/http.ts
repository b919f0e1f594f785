// The Doover-compatible Data API under /api (docs/DOOVER.md): the routes, query parameters,
// bodies and answers pydoover's DataClient uses for channels, aggregates and messages. The
// native API (hub/http.ts) is untouched; both run over the same hub state.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { TagwireError } from "../../bindings/core/errors.js";
import { LIMITS } from "../../bindings/protocol/frames.js";
import { anonymousPrincipal, canRead, canWrite, principalOf, type Principal } from "../access.js";
import { bearerToken, verifyToken } from "../auth.js";
import type { HubContext } from "../context.js";
import { RateBucket } from "../limits.js";
import { dooverAgentId } from "./agents.js";
import { readJsonBody, type BodyLimits } from "./body.js";
import { errorBody, methodNotAllowed, unsupported } from "./errors.js";
import { stringifyExact } from "./json.js";
import { HubPort } from "./port.js";
import { parseDooverRoute } from "./routes.js";
import { DooverService } from "./service.js";
import { parseSnowflake } from "./snowflake.js";

function send(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { "content-length": 0 });
    res.end();
    return;
  }
  const text = stringifyExact(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function flag(url: URL, name: string, fallback: boolean): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return fallback;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${name} must be true or false`);
}

function limitParam(url: URL): number {
  const v = url.searchParams.get("limit");
  if (v === null || v === "") return LIMITS.defaultMessageLimit;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "limit must be a positive integer");
  return Math.min(n, LIMITS.maxMessageLimit);
}

export interface DooverApi {
  /** True when the request was under /api (and is being answered). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  readonly service: DooverService;
}

export function createDooverApi(ctx: HubContext, service = new DooverService(new HubPort(ctx))): DooverApi {
  const buckets = new WeakMap<Socket, RateBucket>();
  const limits: BodyLimits = {
    maxWire: 4 * ctx.limits.maxPayloadBytes,
    // JSON text is larger than the msgpack document it becomes (checked again by the hub).
    maxInflated: 4 * ctx.limits.maxPayloadBytes,
    maxDepth: ctx.limits.maxDepth,
  };
  return {
    service,
    handle(req, res) {
      const url = new URL(req.url ?? "/", "http://hub");
      if (url.pathname !== "/api" && !url.pathname.startsWith("/api/")) return false;
      serve(ctx, service, buckets, limits, req, res, url).catch((err) => {
        const { status, body, internal } = errorBody(err);
        if (internal) ctx.log(`doover api: internal error: ${(err as Error)?.stack ?? err}`);
        if (!res.headersSent) {
          // An unread body would otherwise be parsed as the next request on this connection.
          if (!req.complete) res.setHeader("connection", "close");
          send(res, status, body);
        } else res.destroy();
      });
      return true;
    },
  };
}

async function serve(
  ctx: HubContext,
  service: DooverService,
  buckets: WeakMap<Socket, RateBucket>,
  limits: BodyLimits,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  let bucket = buckets.get(req.socket);
  if (!bucket) buckets.set(req.socket, (bucket = new RateBucket(ctx.limits.framesPerSecond)));
  if (!bucket.take(performance.now()))
    throw new TagwireError("TAGWIRE_ERR_RATE", `more than ${ctx.limits.framesPerSecond} requests per second`);

  // Authenticate before anything else, so an unauthenticated caller learns nothing about routes.
  const principal: Principal = ctx.auth
    ? principalOf(verifyToken(ctx.secret, bearerToken(req.headers.authorization)))
    : anonymousPrincipal("http");
  const route = parseDooverRoute(url.pathname);
  const method = req.method ?? "GET";
  if (route.kind === "none") throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no route ${method} ${url.pathname}`);
  if (route.kind === "unsupported") throw unsupported(route.what);
  if (/^multipart\//i.test(String(req.headers["content-type"] ?? ""))) throw unsupported("file attachments (multipart uploads)");

  if (route.kind === "multiAggregates") {
    if (method !== "GET") throw methodNotAllowed(method, "GET");
    // pydoover's fetch_multi_agent_aggregates: the channel's aggregate for each agent named that
    // has the channel and may be read by this token (the others are left out).
    const ids = url.searchParams.getAll("agent_id");
    if (ids.length > 1000) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "at most 1000 agent_id values");
    const results: unknown[] = [];
    for (const segment of new Set(ids)) {
      const agent = service.agent(segment);
      try {
        service.port.checkAddress(agent, route.channel);
      } catch {
        continue;
      }
      if (!canRead(principal, `${agent}/${route.channel}`) || !service.exists(agent, route.channel)) continue;
      results.push({ agent_id: dooverAgentId(agent), ...service.aggregate(agent, route.channel) });
    }
    return send(res, 200, { results, count: results.length });
  }

  if (route.kind === "multiMessages") {
    if (method !== "GET") throw methodNotAllowed(method, "GET");
    const requested = url.searchParams.getAll("agent_id");
    if (requested.length > 1000) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "at most 1000 agent_id values");
    const agents: string[] = [];
    for (const segment of new Set(requested)) {
      const agent = service.agent(segment);
      try {
        service.port.checkAddress(agent, route.channel);
      } catch {
        continue;
      }
      if (canRead(principal, `${agent}/${route.channel}`) && service.exists(agent, route.channel)) agents.push(agent);
    }
    const perAgentText = url.searchParams.get("agent_message_limit");
    const perAgent = perAgentText ? Number(perAgentText) : LIMITS.maxMessageLimit;
    if (!Number.isInteger(perAgent) || perAgent < 1)
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "agent_message_limit must be a positive integer");
    const before = parseSnowflake(url.searchParams.get("before"), "before");
    const after = parseSnowflake(url.searchParams.get("after"), "after");
    const fields = url.searchParams.getAll("field_name").filter((f) => f !== "");
    const results = await service.listMultiAgent(agents, route.channel, before, after, limitParam(url), perAgent, fields);
    return send(res, 200, { results, count: results.length });
  }

  const agentId = service.agent(route.agent);
  const read = (channel: string) => {
    if (!canRead(principal, `${agentId}/${channel}`))
      throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `${principal.agentId} may not read ${agentId}/${channel}`);
  };
  const write = (channel: string) => {
    if (!canWrite(principal, agentId, channel)) {
      throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `${principal.role} ${principal.agentId} may not write ${agentId}/${channel}`);
    }
  };
  const port = service.port;

  if (route.kind === "channels") {
    if (method !== "GET") throw methodNotAllowed(method, "GET");
    port.checkAddress(agentId, "x");
    const withAggregate = flag(url, "include_aggregate", true);
    const names = port.channelNames(agentId).filter((n) => canRead(principal, `${agentId}/${n}`));
    return send(
      res,
      200,
      names.map((n) => service.channel(agentId, n, withAggregate)),
    );
  }

  const channel = route.channel;
  port.checkAddress(agentId, channel);

  if (route.kind === "channel") {
    if (method === "GET") {
      read(channel);
      if (!service.exists(agentId, channel)) throw service.notFound(agentId, channel);
      return send(res, 200, service.channel(agentId, channel, flag(url, "include_aggregate", true)));
    }
    if (method === "POST" || method === "PUT") {
      write(channel);
      // Schemas and privacy are accepted and not enforced (tagwire has neither; docs/DOOVER.md).
      await readJsonBody(req, limits);
      await service.ensureChannel(agentId, channel);
      if (method === "POST") return send(res, 200, { id: service.channelId(agentId, channel) });
      return send(res, 200, service.channel(agentId, channel, true));
    }
    throw methodNotAllowed(method, "GET, POST, PUT");
  }

  if (route.kind === "aggregate") {
    if (method === "GET") {
      read(channel);
      if (!service.exists(agentId, channel)) throw service.notFound(agentId, channel);
      return send(res, 200, service.aggregate(agentId, channel));
    }
    if (method === "PATCH" || method === "PUT") {
      write(channel);
      const body = await readJsonBody(req, limits);
      const replaceKeys = url.searchParams.getAll("replace").filter((k) => k !== "");
      await service.writeAggregate(
        agentId,
        channel,
        body ?? {},
        {
          replace: method === "PUT",
          replaceKeys,
          log: flag(url, "log_update", false),
        },
        principal.agentId,
      );
      if (flag(url, "suppress_response", false)) return send(res, 204, undefined);
      return send(res, 200, service.aggregate(agentId, channel));
    }
    throw methodNotAllowed(method, "GET, PATCH, PUT");
  }

  const author = principal.agentId;
  if (route.kind === "messages") {
    if (method === "GET") {
      read(channel);
      const before = parseSnowflake(url.searchParams.get("before"), "before");
      const after = parseSnowflake(url.searchParams.get("after"), "after");
      const fields = url.searchParams.getAll("field_name").filter((f) => f !== "");
      return send(res, 200, await service.listMessages(agentId, channel, before, after, limitParam(url), fields));
    }
    if (method === "POST") {
      write(channel);
      const { data, ts } = messageBody(await readJsonBody(req, limits));
      return send(res, 200, await service.createMessage(agentId, channel, data, { ...(ts !== undefined ? { ts } : {}), author }));
    }
    throw methodNotAllowed(method, "GET, POST");
  }

  // one message
  const id = parseSnowflake(route.messageId, "message id")!;
  if (method === "GET") {
    read(channel);
    const m = await service.findMessage(agentId, channel, id);
    if (!m) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no message ${id} in ${agentId}/${channel}`);
    return send(res, 200, service.message(agentId, channel, m));
  }
  if (method === "POST") {
    write(channel);
    const { data } = messageBody(await readJsonBody(req, limits));
    return send(res, 200, await service.createMessage(agentId, channel, data, { id, author }));
  }
  if (method === "PATCH" || method === "PUT") {
    write(channel);
    const { data } = messageBody(await readJsonBody(req, limits));
    const m = await service.updateMessage(agentId, channel, id, data, { replace: method === "PUT", author });
    if (flag(url, "suppress_response", false)) return send(res, 204, undefined);
    return send(res, 200, m);
  }
  if (method === "DELETE") throw unsupported("deleting one message (tagwire's message log is trimmed by retention only)");
  throw methodNotAllowed(method, "GET, POST, PATCH, PUT");
}

/** `{data, ts?}` as pydoover's create_message sends it. */
function messageBody(body: unknown): { data: unknown; ts?: number } {
  if (body === null || typeof body !== "object" || Array.isArray(body) || !("data" in body)) {
    throw new TagwireError("TAGWIRE_ERR_PAYLOAD", 'a message body is {"data": ..., "ts"?: ms}');
  }
  const { data, ts } = body as { data: unknown; ts?: unknown };
  if (ts === undefined || ts === null) return { data };
  if (typeof ts !== "number" || !Number.isInteger(ts) || ts < 0)
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "ts must be milliseconds since the Unix epoch");
  return { data, ts };
}
