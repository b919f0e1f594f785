// connect(url, { agentId, token }): an Agent on a hub, over the transport the URL names. The
// table below maps URL protocols to transport factories (as MQTT.js picks its stream by
// protocol); `registerTransport` adds more.
//
//   ws:, wss:          WebSocket (native in browsers, `ws` in Node)
//   mqtt:, mqtts:      a frame pipe through an MQTT broker that a hub bridges
//                      (mqtt://host:1883/<prefix>, prefix default "tagwire"; docs/PROTOCOL.md)
//   memory:            a hub in the same process (memory://<name>, see listenMemory)

import { TagwireError } from "../core/errors.js";
import { Agent, type AgentOptions } from "../sdk/agent.js";
import type { Transport } from "../transports/contract.js";
import { DeferredTransport } from "../transports/deferred.js";
import { connectMemory } from "../transports/memory.js";
import type { MqttModuleLike } from "../transports/mqtt.js";
import type { MqttPipeOptions } from "../transports/mqtt-pipe.js";
import { connectWebSocket, type WebSocketClass } from "../transports/websocket.js";
import type { Outbox } from "./outbox.js";
import { RemoteSession, type RemoteSessionOptions } from "./remote-session.js";
import { randomId } from "../protocol/ids.js";

/** Session tuning passed straight through to the RemoteSession (documented there). */
type SessionKeys =
  | "backoff"
  | "requestTimeoutMs"
  | "helloTimeoutMs"
  | "pingIntervalMs"
  | "pingTimeoutMs"
  | "catchUpMessages"
  | "highWaterBytes"
  | "maxQueuedBytes"
  | "onError";

export interface ConnectOptions extends Pick<RemoteSessionOptions, SessionKeys> {
  agentId: string;
  /** A hub token (`tagwire token create`); omit for a hub started with --no-auth. */
  token?: string;
  /**
   * Node: keep offline writes in a SQLite file in this directory, so they survive a restart.
   * Without it (and in browsers) they are kept in memory.
   */
  outboxDir?: string;
  /** A ready outbox instead (takes precedence over `outboxDir`). */
  outbox?: Outbox;
  /**
   * How long connect() waits for the first connection before rejecting with
   * TAGWIRE_ERR_TIMEOUT (default 10 s; retries continue meanwhile). 0: resolve at once and
   * connect in the background (writes wait in the outbox).
   */
  connectTimeoutMs?: number;
  /** WebSocket implementation (default: the platform's, else `ws`). */
  WebSocket?: WebSocketClass;
  /** mqtt.js module to use (default: `import("mqtt")`). */
  mqtt?: MqttModuleLike;
  /** Options of the returned Agent. */
  agent?: Omit<AgentOptions, "closeSession">;
}

/** What a transport factory gets besides the URL. */
export interface TransportContext {
  agentId: string;
  token?: string;
  /** Random per session: MQTT uses it for its client id and pipe topics. */
  clientId: string;
  options: ConnectOptions;
}

export type UrlTransportFactory = (url: string, context: TransportContext) => Transport;

const table = new Map<string, UrlTransportFactory>([
  ["ws:", (url, c) => connectWebSocket(url, { token: urlToken(c), WebSocket: c.options.WebSocket })],
  ["wss:", (url, c) => connectWebSocket(url, { token: urlToken(c), WebSocket: c.options.WebSocket })],
  ["mqtt:", (url, c) => mqttPipe(url, c)],
  ["mqtts:", (url, c) => mqttPipe(url, c)],
  ["memory:", (url) => connectMemory(url)],
]);

/**
 * The token for the WebSocket URL's query: browsers only (their WebSocket cannot send headers).
 * Elsewhere the session's hello frame carries it, so proxies and access logs never see it.
 */
function urlToken(c: TransportContext): string | undefined {
  const g = globalThis as { document?: unknown; process?: { versions?: { node?: string } } };
  return g.document !== undefined && !g.process?.versions?.node ? c.token : undefined;
}

/** Makes `connect()` handle URLs of `protocol` (e.g. "quic:") with `factory`. */
export function registerTransport(protocol: string, factory: UrlTransportFactory): void {
  table.set(protocol.endsWith(":") ? protocol : `${protocol}:`, factory);
}

/** The factory `connect()` would use for `url`; throws TAGWIRE_ERR_ARGUMENT for unknown ones. */
export function transportFor(url: string): UrlTransportFactory {
  const m = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  const factory = m ? table.get(m[1]!.toLowerCase()) : undefined;
  if (!factory) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `no transport for "${url}" (known: ${[...table.keys()].join(" ")})`);
  }
  return factory;
}

/** The MQTT topic prefix of an mqtt:// URL: its path, default "tagwire". */
export function mqttPrefixOf(url: string): string {
  const path = new URL(url).pathname.replace(/^\/+|\/+$/g, "");
  return path || "tagwire";
}

/** Topics of one client's frame pipe (docs/PROTOCOL.md, "MQTT topic layout"). */
export function mqttPipeTopics(
  prefix: string,
  clientId: string,
): { toHub: string; fromHub: string; presence: (agentId: string) => string } {
  return {
    toHub: `${prefix}/hub/in/${clientId}`,
    fromHub: `${prefix}/hub/out/${clientId}`,
    presence: (agentId) => `${prefix}/presence/${agentId}`,
  };
}

let mqttPipeModule: Promise<typeof import("../transports/mqtt-pipe.js")> | undefined;

/**
 * The MQTT pipe is imported only when an mqtt:/mqtts: URL is connected, so WebSocket-only
 * clients (browsers above all) do not carry it. The URL is checked here, synchronously, so a bad
 * one still throws from the factory; a failed import closes the attempt with
 * TAGWIRE_ERR_UNAVAILABLE and the next attempt imports again.
 */
function mqttPipe(url: string, c: TransportContext): Transport {
  const prefix = mqttPrefixOf(url);
  const u = new URL(url);
  // The pipe id is also the MQTT client id, so a broker ACL can tie the pipe topics to the
  // connection that uses them (Mosquitto: `pattern write P/hub/in/%c`, docs/SECURITY.md).
  const pipeId = `tw-${c.clientId}`;
  const topics = mqttPipeTopics(prefix, pipeId);
  const options: MqttPipeOptions = {
    brokerUrl: `${u.protocol}//${u.host}`,
    prefix,
    pipeId,
    toHub: topics.toHub,
    fromHub: topics.fromHub,
    presence: topics.presence(c.agentId),
  };
  if (c.token !== undefined) options.token = c.token;
  if (c.options.mqtt) options.mqtt = c.options.mqtt;
  const load = () => {
    mqttPipeModule ??= import("../transports/mqtt-pipe.js").catch((err: unknown) => {
      mqttPipeModule = undefined;
      throw err;
    });
    return mqttPipeModule.then((m) => () => m.openMqttPipe(options));
  };
  return new DeferredTransport(load, "the MQTT transport");
}

/** A RemoteSession for `url`; resolves once connected (see `connectTimeoutMs`). */
export async function connectSession(url: string, options: ConnectOptions): Promise<RemoteSession> {
  const factory = transportFor(url);
  const clientId = randomId();
  let outbox = options.outbox;
  if (!outbox && options.outboxDir) {
    // Node only: kept out of the static graph so browser bundles never load SQLite.
    const specifier = "./outbox-sqlite.js";
    const mod = (await import(/* @vite-ignore */ specifier)) as typeof import("./outbox-sqlite.js");
    outbox = mod.openSqliteOutbox(options.outboxDir, options.agentId);
  }
  const context: TransportContext = { agentId: options.agentId, clientId, options };
  if (options.token !== undefined) context.token = options.token;
  // The session reads its own keys (SessionKeys, agentId, token) and ignores the rest.
  const sessionOptions: RemoteSessionOptions = { ...options, transport: () => factory(url, context), clientId };
  if (outbox) sessionOptions.outbox = outbox;
  const session = new RemoteSession(sessionOptions);
  const wait = options.connectTimeoutMs ?? 10_000;
  if (wait <= 0) return session;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      session.firstConnection(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TagwireError("TAGWIRE_ERR_TIMEOUT", `could not reach ${url} in ${wait} ms`)), wait);
      }),
    ]);
  } catch (err) {
    await session.close(0);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
  return session;
}

/**
 * An Agent on the hub at `url`: the same Agent class LocalBus gives, over a RemoteSession
 * (reachable as `agent.session`). Closing the agent closes the session.
 */
export async function connect(url: string, options: ConnectOptions): Promise<Agent> {
  const session = await connectSession(url, options);
  return new Agent(session, options.agentId, { ...options.agent, closeSession: true });
}
