// The hub <-> MQTT broker bridge: MQTT agents and WebSocket agents see the same channels.
// Topic layout: docs/PROTOCOL.md, "MQTT topic layout". It does three jobs, all through the hub's
// public WebSocket endpoint, so the hub's auth, limits and storage apply unchanged:
//
// 1. Frame pipes. A tagwire client on MQTT (`connect("mqtt://broker/<prefix>")`) publishes
//    batches to <P>/hub/in/<clientId> and reads <P>/hub/out/<clientId>. The bridge relays each
//    such client over its own WebSocket connection to the hub, byte for byte; the client's
//    hello carries its token. An empty payload closes the pipe either way.
// 2. The mirror. One viewer session subscribed to every channel republishes each aggregate
//    as retained JSON on <P>/agg/<agent>/<channel>, each effective diff on <P>/diff/..., each
//    message on <P>/msg/..., so plain MQTT tools read tagwire channels.
// 3. Plain writes. JSON published to <P>/set|put|post/<agent>/<channel> becomes a merge,
//    replace or message through a session that carries the publisher's token (MQTT 5 user
//    property "token"); refusals are published on <P>/error/<agent>/<channel>.

import { TagwireError } from "../bindings/core/errors.js";
import { decodeBatch } from "../bindings/protocol/frames.js";
import { connectSession } from "../bindings/client/connect.js";
import type { RemoteSession } from "../bindings/client/remote-session.js";
import type { ChannelEvent, Json } from "../bindings/sdk/session.js";
import { connectWebSocket, type WebSocketClass } from "../bindings/transports/websocket.js";
import { defaultMqtt, type MqttModuleLike } from "../bindings/transports/mqtt.js";
import type { Transport } from "../bindings/transports/contract.js";
import { createToken, MAX_TOKEN_BYTES, tokenSignature } from "./auth.js";
import { DEFAULT_PIPE_LIMITS, type PipeLimits } from "./limits.js";
import { encodeValue } from "../bindings/protocol/msgpack.js";
import {
  Direction,
  PIPE_VERSION,
  PipeCipher,
  PipeKind,
  b64url,
  challengeProof,
  decodeJsonEnvelope,
  encodeJsonEnvelope,
  equalBytes,
  fromB64url,
  pipeKey,
  randomBytes,
  sessionKey,
  sha256,
  utf8,
  writeMac,
} from "../bindings/transports/pipe-auth.js";

export interface MqttBridgeOptions {
  /** The hub's WebSocket URL (RunningHub.url). */
  hubUrl: string;
  /** The broker, e.g. mqtt://127.0.0.1:1883. */
  brokerUrl: string;
  /** First topic level of everything tagwire publishes or reads (default "tagwire"). */
  prefix?: string;
  /**
   * The hub secret, to mint the mirror's viewer token and, with `nativeWrites: "trusted"`,
   * device tokens for plain writers. Omit when the hub runs without auth.
   */
  secret?: string;
  /** A token for the mirror instead of minting one (it must be able to read what is mirrored). */
  mirrorToken?: string;
  /** Agent id the mirror connects as (default "mqtt-bridge"). */
  mirrorAgentId?: string;
  /**
   * Plain JSON writes on set/put/post topics:
   * - "token" (default): each write is signed (MQTT 5 user properties `claims`, `ts`, `mac`:
   *   `signMqttWrite`) or carries the hub token itself as user property `token`, which any
   *   broker user allowed to read the topic sees (a broker ACL must prevent that); the hub
   *   checks the token like any other connection's. Without either it is refused (unless the
   *   hub runs without auth).
   * - "signed": as "token", but a clear `token` property is ignored: only signed writes.
   * - "trusted": the broker's ACLs are the gate; the bridge writes as the topic's agent with
   *   a token it mints (needs `secret`).
   * - "off": not subscribed.
   */
  nativeWrites?: "token" | "signed" | "trusted" | "off";
  /** Caps on relayed pipes (defaults in hub/limits.ts). */
  pipeLimits?: Partial<PipeLimits>;
  mqtt?: MqttModuleLike;
  WebSocket?: WebSocketClass;
  log?: (line: string) => void;
}

export interface MqttBridge {
  readonly prefix: string;
  /** MQTT clients currently relayed to the hub. */
  readonly relayedClients: number;
  /** Pipe envelopes dropped since start: bad MAC or unknown kind (forged), or an old sequence number (replayed). */
  readonly droppedEnvelopes: { forged: number; replayed: number };
  /** Resolves once the mirror has published the retained state of every existing channel. */
  readonly mirrored: Promise<void>;
  close(): Promise<void>;
}

interface Relay {
  clientId: string;
  transport: Transport;
  queue: Uint8Array[];
  cipher: PipeCipher;
  /** SHA-256 of the secret the client's offline record reveals. */
  releaseHash: Uint8Array;
  /** Date.now() of the client's last authenticated envelope. */
  lastHeard: number;
}

/** A pipe that answered OPEN with a challenge and waits for its first MACed frame. */
interface Handshake {
  token: string | undefined;
  releaseHash: Uint8Array;
  cipher: PipeCipher;
  timer: ReturnType<typeof setTimeout>;
}

const EMPTY = new Uint8Array(0);
/** A signed plain write must be this fresh; its mac is remembered this long against replays. */
const SIGNED_WRITE_WINDOW_MS = 60_000;
const MAX_SEEN_WRITES = 100_000;
/** Lifetime of tokens the bridge mints for itself (10 years). */
const INTERNAL_TOKEN_TTL_S = 10 * 365 * 24 * 3600;
/** Sessions kept for plain writers (by token), least recently used dropped first. */
const MAX_WRITER_SESSIONS = 64;

export async function startMqttBridge(options: MqttBridgeOptions): Promise<MqttBridge> {
  const P = options.prefix ?? "tagwire";
  if (!P || /[+#]/.test(P)) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `invalid MQTT prefix "${P}"`);
  const log = options.log ?? ((line: string) => console.error(`[tagwire mqtt-bridge] ${line}`));
  const nativeWrites = options.nativeWrites ?? "token";
  if (nativeWrites === "trusted" && !options.secret)
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", 'nativeWrites "trusted" needs the hub secret');
  const mqttModule = options.mqtt ?? (await defaultMqtt());
  const relays = new Map<string, Relay>();
  const handshakes = new Map<string, Handshake>();
  const pipeLimits = { ...DEFAULT_PIPE_LIMITS, ...options.pipeLimits };
  const writers = new Map<string, Promise<RemoteSession>>();
  let closed = false;

  const statusTopic = `${P}/hub/status`;
  const client = mqttModule.connect(options.brokerUrl, {
    clientId: `tagwire-bridge-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    protocolVersion: 5,
    reconnectPeriod: 1000,
    keepalive: 30,
    will: { topic: statusTopic, payload: JSON.stringify({ online: false }), qos: 1, retain: true },
  });
  client.on("error", (err: Error) => log(`broker: ${err.message}`));

  const publish = (topic: string, payload: Uint8Array | string, retain = false) => {
    if (!closed || payload === EMPTY) client.publish(topic, payload, { qos: 1, retain });
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    client.on("error", onError);
    client.on("connect", () => {
      (client as any).removeListener?.("error", onError);
      resolve();
    });
  });
  (client.stream as { setNoDelay?(b: boolean): void } | undefined)?.setNoDelay?.(true);

  // -------------------------------------------------------------------------------------------
  // 1. Frame pipes (authenticated: bindings/transports/pipe-auth.ts)

  const outTopic = (clientId: string) => `${P}/hub/out/${clientId}`;
  const refuse = (clientId: string, code: string, message: string) => {
    if (dropLogBudget > 0 && dropLogBudget--) log(`pipe ${clientId}: refused: ${message}`);
    publish(outTopic(clientId), encodeJsonEnvelope(PipeKind.refuse, { code, message }));
  };
  /**
   * Forged or replayed envelopes are dropped and refused pipes answered; a few log lines a
   * minute say so, not one per envelope (anyone on the broker can send them).
   */
  let dropLogBudget = 20;
  const drops = { forged: 0, replayed: 0 };
  const dropped = (clientId: string, why: string) => {
    if (why.includes("replayed")) drops.replayed++;
    else drops.forged++;
    if (dropLogBudget > 0 && dropLogBudget--) log(`pipe ${clientId}: envelope dropped: ${why}`);
  };
  const dropLogRefill = setInterval(() => (dropLogBudget = 20), 60_000);
  dropLogRefill.unref();
  // Pipes whose client went quiet (sessions ping every 15 s) end even if no last will came.
  const idleMs = pipeLimits.pipeIdleTimeoutMs;
  const idleSweep = setInterval(
    () => {
      const now = Date.now();
      for (const relay of [...relays.values()]) {
        if (now - relay.lastHeard > idleMs) {
          log(`pipe ${relay.clientId}: client silent for ${idleMs} ms: closing`);
          publish(outTopic(relay.clientId), relay.cipher.seal(PipeKind.close, utf8("idle timeout")));
          closeRelay(relay.clientId, "client silent");
        }
      }
    },
    Math.max(20, Math.min(10_000, Math.floor((idleMs || 60_000) / 4))),
  );
  idleSweep.unref();
  if (!idleMs) clearInterval(idleSweep);

  const openRelay = (clientId: string, hs: Handshake): Relay => {
    const transport = connectWebSocket(options.hubUrl, { WebSocket: options.WebSocket });
    const relay: Relay = { clientId, transport, queue: [], cipher: hs.cipher, releaseHash: hs.releaseHash, lastHeard: Date.now() };
    relays.set(clientId, relay);
    transport.onFrame((frame) => publish(outTopic(clientId), relay.cipher.seal(PipeKind.data, frame)));
    transport.onState((change) => {
      if (change.state === "open") {
        for (const f of relay.queue.splice(0)) transport.send(f);
      } else if (change.state === "closed") {
        if (relays.get(clientId) === relay) relays.delete(clientId);
        // The hub side ended (or never opened): tell the client, authenticated.
        if (!change.local) publish(outTopic(clientId), relay.cipher.seal(PipeKind.close, utf8((change.reason ?? "closed").slice(0, 120))));
      }
    });
    return relay;
  };

  const closeRelay = (clientId: string, reason: string) => {
    const relay = relays.get(clientId);
    if (!relay) return;
    relays.delete(clientId);
    relay.transport.close(reason);
  };

  const onOpen = (clientId: string, payload: Uint8Array) => {
    const body = decodeJsonEnvelope(payload);
    const claims = body?.claims;
    const nonce = typeof body?.nonce === "string" ? body.nonce : "";
    const release = typeof body?.release === "string" ? fromB64url(body.release) : undefined;
    if (
      body?.v !== PIPE_VERSION ||
      typeof claims !== "string" ||
      claims.length > MAX_TOKEN_BYTES ||
      fromB64url(nonce)?.length !== 16 ||
      release?.length !== 32
    ) {
      return refuse(clientId, "TAGWIRE_ERR_PROTOCOL", "malformed pipe open");
    }
    // A newer OPEN for the same pipe replaces a pending one (the client retried). Forging one
    // only delays that client's handshake: it cannot complete it.
    const earlier = handshakes.get(clientId);
    if (earlier) {
      clearTimeout(earlier.timer);
      handshakes.delete(clientId);
    }
    if (handshakes.size >= pipeLimits.maxPendingPipes)
      return refuse(clientId, "TAGWIRE_ERR_RATE", `more than ${pipeLimits.maxPendingPipes} pipe handshakes in progress`);
    if (relays.size + handshakes.size >= pipeLimits.maxPipes)
      return refuse(clientId, "TAGWIRE_ERR_RATE", `more than ${pipeLimits.maxPipes} relayed pipes`);
    // The token's signature, recomputed: the key only a holder of the token can also derive.
    const signature = options.secret && claims ? tokenSignature(options.secret, claims) : new Uint8Array(0);
    const key = pipeKey(signature);
    const bridgeNonce = b64url(randomBytes(16));
    const hs: Handshake = {
      token: options.secret && claims ? `${claims}.${b64url(signature)}` : undefined,
      releaseHash: release,
      cipher: new PipeCipher(sessionKey(key, clientId, nonce, bridgeNonce), Direction.toClient),
      timer: setTimeout(() => {
        if (handshakes.get(clientId) === hs) {
          handshakes.delete(clientId);
          log(`pipe ${clientId}: handshake not completed in ${pipeLimits.pipeHandshakeTimeoutMs} ms: dropped`);
        }
      }, pipeLimits.pipeHandshakeTimeoutMs),
    };
    hs.timer.unref?.();
    handshakes.set(clientId, hs);
    publish(
      outTopic(clientId),
      encodeJsonEnvelope(PipeKind.challenge, { nonce: bridgeNonce, proof: challengeProof(key, clientId, nonce, bridgeNonce) }),
    );
  };

  const onPipe = (clientId: string, payload: Uint8Array) => {
    // An empty payload is no longer a close: anyone could publish one.
    if (payload.length === 0) return;
    const kind = payload[0];
    if (kind === PipeKind.open) return onOpen(clientId, payload);
    if (kind !== PipeKind.data && kind !== PipeKind.close) return dropped(clientId, `unknown envelope kind ${kind}`);
    const relay = relays.get(clientId);
    const hs = handshakes.get(clientId);
    if (!relay && !hs) {
      // Frames for a pipe this bridge does not have (it restarted): the unauthenticated reset
      // makes the client reconnect and say hello again.
      publish(outTopic(clientId), EMPTY);
      return;
    }
    // The relay's key first: a forged OPEN for this client id (a pending handshake) must not
    // stand in the way of the client's own frames.
    const viaRelay = relay ? relay.cipher.open(payload) : "no relay";
    if (typeof viaRelay !== "string") {
      relay!.lastHeard = Date.now();
      if (viaRelay.kind === PipeKind.close) return closeRelay(clientId, "client closed the pipe");
      if (relay!.transport.state === "open") relay!.transport.send(viaRelay.payload);
      else relay!.queue.push(viaRelay.payload);
      return;
    }
    if (!hs) return dropped(clientId, viaRelay);
    // The first MACed frame of a handshake proves the client holds the token; only then does
    // the hub see it.
    const opened = hs.cipher.open(payload);
    if (typeof opened === "string") return dropped(clientId, relay ? viaRelay : opened);
    clearTimeout(hs.timer);
    handshakes.delete(clientId);
    if (opened.kind === PipeKind.close) return;
    const hello = withToken(opened.payload, hs.token);
    if (!hello) return refuse(clientId, "TAGWIRE_ERR_PROTOCOL", "a pipe starts with a hello");
    // A new authenticated handshake replaces the client's older relay (it reconnected).
    closeRelay(clientId, "replaced by a new pipe");
    openRelay(clientId, hs).queue.push(hello);
  };

  const onPresence = (payload: Uint8Array) => {
    let record: { online?: boolean; clientId?: string; release?: string };
    try {
      record = JSON.parse(new TextDecoder().decode(payload)) as typeof record;
    } catch {
      return; // not a tagwire presence record
    }
    if (record.online !== false || typeof record.clientId !== "string") return;
    const relay = relays.get(record.clientId);
    if (!relay) return;
    // Only the client that committed to the release secret can reveal it.
    const release = typeof record.release === "string" ? fromB64url(record.release) : undefined;
    if (release && equalBytes(sha256(release), relay.releaseHash)) closeRelay(record.clientId, "client went offline");
    else log(`pipe ${record.clientId}: offline record without its release secret ignored (forged?)`);
  };

  // -------------------------------------------------------------------------------------------
  // 2. The mirror

  const mirrorAgentId = options.mirrorAgentId ?? "mqtt-bridge";
  // Tokens the bridge mints never leave this process; they outlive the hub's uptime (the hub
  // closes a connection whose token expires, and a session cannot renew its token).
  const mirrorToken =
    options.mirrorToken ??
    (options.secret
      ? createToken(options.secret, { agentId: mirrorAgentId, role: "viewer", ttlSeconds: INTERNAL_TOKEN_TTL_S })
      : undefined);
  const mirror = await connectSession(options.hubUrl, {
    agentId: mirrorAgentId,
    token: mirrorToken,
    WebSocket: options.WebSocket,
    backoff: { initialMs: 100, maxMs: 5000 },
    onError: (err, context) => log(`mirror: ${context}: ${(err as Error).message ?? err}`),
  });
  const agg = (e: { agentId: string; channel: string }) => `${P}/agg/${e.agentId}/${e.channel}`;
  let resolveMirrored!: () => void;
  const mirrored = new Promise<void>((r) => (resolveMirrored = r));
  const onEvent = (e: ChannelEvent) => {
    switch (e.type) {
      case "sync":
      case "resynced":
        if (e.version > 0) publish(agg(e), JSON.stringify(e.aggregate), true);
        return;
      case "aggregate":
        publish(agg(e), JSON.stringify(e.aggregate), true);
        publish(`${P}/diff/${e.agentId}/${e.channel}`, JSON.stringify({ version: e.version, diff: e.diff }));
        return;
      case "message":
        publish(`${P}/msg/${e.agentId}/${e.channel}`, JSON.stringify({ id: e.message.id, ts: e.message.ts, data: e.message.data }));
        return;
    }
  };
  const stopMirror = mirror.subscribe("+", "#", onEvent);
  // The subscribe ack follows every initial sync: a ping after it means all syncs were handled.
  void mirror.listChannels(mirrorAgentId).then(resolveMirrored, resolveMirrored);

  // -------------------------------------------------------------------------------------------
  // 3. Plain writes

  const writerFor = (agentId: string, token: string | undefined): Promise<RemoteSession> => {
    const key = `${agentId}\u0000${token ?? ""}`;
    let s = writers.get(key);
    if (s) {
      writers.delete(key);
      writers.set(key, s); // most recently used last
      return s;
    }
    s = connectSession(options.hubUrl, {
      agentId,
      token,
      WebSocket: options.WebSocket,
      connectTimeoutMs: 10_000,
      onError: (err, context) => log(`writer ${agentId}: ${context}: ${(err as Error).message ?? err}`),
    });
    s.catch(() => writers.delete(key));
    writers.set(key, s);
    while (writers.size > MAX_WRITER_SESSIONS) {
      const [oldest, session] = writers.entries().next().value as [string, Promise<RemoteSession>];
      writers.delete(oldest);
      void session.then(
        (x) => x.close(),
        () => {},
      );
    }
    return s;
  };

  const onWrite = async (
    verb: string,
    agentId: string,
    channel: string,
    payload: Uint8Array,
    properties: Record<string, unknown> | undefined,
  ) => {
    const errorTopic = `${P}/error/${agentId}/${channel}`;
    try {
      let data: Json;
      try {
        data = JSON.parse(new TextDecoder().decode(payload)) as Json;
      } catch {
        throw new TagwireError("TAGWIRE_ERR_PAYLOAD", "payload is not JSON");
      }
      const user = (properties?.userProperties ?? {}) as Record<string, string | string[]>;
      const messageId = first(user.messageId);
      // A signed write proves the token without carrying it; a clear token is accepted only in
      // mode "token" (any broker user that may read P/set/# can read it: docs/SECURITY.md).
      const signed = signedWriteToken(user, `${P}/${verb}/${agentId}/${channel}`, payload);
      const token = signed ?? (nativeWrites === "token" ? first(user.token) : undefined);
      let writerId = agentId;
      let writerToken = token;
      if (token) writerId = tokenAgent(token) ?? agentId;
      else if (nativeWrites === "trusted") writerToken = trustedToken(agentId);
      const session = await writerFor(writerId, writerToken);
      if (verb === "post") await session.createMessage(agentId, channel, data, messageId ? { messageId } : {});
      else await session.publish(agentId, channel, data, verb === "put" ? { replace: true } : {});
    } catch (err) {
      const e = err as TagwireError;
      publish(
        errorTopic,
        JSON.stringify({ code: e.code ?? "TAGWIRE_ERR_INTERNAL", message: e.message, topic: `${P}/${verb}/${agentId}/${channel}` }),
      );
    }
  };

  const trustedTokens = new Map<string, string>();
  /** One minted token per agent, so its writer session is reused (LRU in writerFor). */
  const trustedToken = (agentId: string): string => {
    let t = trustedTokens.get(agentId);
    if (!t) {
      t = createToken(options.secret!, { agentId, role: "device", ttlSeconds: INTERNAL_TOKEN_TTL_S });
      if (trustedTokens.size >= MAX_WRITER_SESSIONS * 16) trustedTokens.clear();
      trustedTokens.set(agentId, t);
    }
    return t;
  };

  /** Seen signed writes (mac -> ts), so each is applied once within the freshness window. */
  const seenWrites = new Map<string, number>();
  const signedWriteToken = (user: Record<string, string | string[]>, topic: string, payload: Uint8Array): string | undefined => {
    const claims = first(user.claims);
    const ts = first(user.ts);
    const mac = first(user.mac);
    if (claims === undefined || ts === undefined || mac === undefined) return undefined;
    const refuse = (why: string) => new TagwireError("TAGWIRE_ERR_AUTH", `signed write refused: ${why}`);
    const at = Number(ts);
    if (!/^[0-9]{1,16}$/.test(ts) || Math.abs(Date.now() - at) > SIGNED_WRITE_WINDOW_MS)
      throw refuse(`ts must be within ${SIGNED_WRITE_WINDOW_MS / 1000} s of the hub's clock`);
    if (!options.secret || claims.length > MAX_TOKEN_BYTES) throw refuse("this bridge cannot check signatures");
    const signature = tokenSignature(options.secret, claims);
    if (writeMac(pipeKey(signature), topic, ts, payload) !== mac) throw refuse("bad mac");
    const now = Date.now();
    for (const [m, t] of seenWrites) {
      if (now - t <= SIGNED_WRITE_WINDOW_MS) break;
      seenWrites.delete(m);
    }
    if (seenWrites.has(mac)) throw refuse("replayed");
    if (seenWrites.size >= MAX_SEEN_WRITES) throw new TagwireError("TAGWIRE_ERR_RATE", "too many signed writes in the replay window");
    seenWrites.set(mac, now);
    return `${claims}.${b64url(signature)}`;
  };

  // -------------------------------------------------------------------------------------------
  // Wiring

  const inPrefix = `${P}/hub/in/`;
  const presencePrefix = `${P}/presence/`;
  client.on("message", (topic: string, payload: Uint8Array, packet: { properties?: Record<string, unknown> }) => {
    if (topic.startsWith(inPrefix)) return onPipe(topic.slice(inPrefix.length), payload);
    if (topic.startsWith(presencePrefix)) return onPresence(payload);
    const rest = topic.slice(P.length + 1);
    const slash1 = rest.indexOf("/");
    const slash2 = rest.indexOf("/", slash1 + 1);
    if (slash1 < 0 || slash2 < 0) return;
    const verb = rest.slice(0, slash1);
    if (verb !== "set" && verb !== "put" && verb !== "post") return;
    void onWrite(verb, rest.slice(slash1 + 1, slash2), rest.slice(slash2 + 1), payload, packet.properties);
  });

  const topics = [`${P}/hub/in/+`, `${P}/presence/+`];
  if (nativeWrites !== "off") topics.push(`${P}/set/#`, `${P}/put/#`, `${P}/post/#`);
  const subscribeAll = () =>
    new Promise<void>((resolve, reject) => client.subscribe(topics, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  await subscribeAll();
  publish(statusTopic, JSON.stringify({ online: true }), true);
  // mqtt.js resubscribes by itself after a broker reconnect; say we are back.
  client.on("connect", () => publish(statusTopic, JSON.stringify({ online: true }), true));

  return {
    prefix: P,
    get relayedClients() {
      return relays.size;
    },
    get droppedEnvelopes() {
      return { ...drops };
    },
    mirrored,
    async close() {
      if (closed) return;
      // Tell every relayed client its pipe is gone, and that the hub is away.
      for (const relay of relays.values()) publish(outTopic(relay.clientId), relay.cipher.seal(PipeKind.close, utf8("bridge closing")));
      for (const hs of handshakes.values()) clearTimeout(hs.timer);
      handshakes.clear();
      clearInterval(dropLogRefill);
      clearInterval(idleSweep);
      client.publish(statusTopic, JSON.stringify({ online: false }), { qos: 1, retain: true });
      closed = true;
      for (const id of [...relays.keys()]) closeRelay(id, "bridge closing");
      stopMirror();
      await mirror.close(0);
      await Promise.allSettled([...writers.values()].map((s) => s.then((x) => x.close(1000))));
      writers.clear();
      await new Promise<void>((r) => client.end(false, () => r()));
    },
  };
}

/**
 * The batch with the token put into its leading hello (the client blanked it: over the broker the
 * handshake proved it), or undefined when the batch does not start with a hello.
 */
function withToken(batch: Uint8Array, token: string | undefined): Uint8Array | undefined {
  try {
    const frames = decodeBatch(batch);
    const f = frames[0];
    if (!Array.isArray(f) || f[0] !== 1 || f.length !== 5) return undefined;
    f[4] = token ?? null;
    return encodeValue(frames);
  } catch {
    return undefined;
  }
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The agent id a token names (unverified: the hub verifies it). */
function tokenAgent(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(new TextDecoder().decode(base64urlDecode(parts[1]!))) as { a?: unknown };
    return typeof claims.a === "string" ? claims.a : undefined;
  } catch {
    return undefined;
  }
}

function base64urlDecode(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
