// MQTT transport: a point-to-point frame pipe over a broker (mqtt.js). Each side publishes its
// frames to one topic and subscribes to the other's, at QoS 1, so frames arrive in order (MQTT
// orders messages of one QoS on one topic from one client) and whole (one frame per PUBLISH).
// A PUBLISH with an empty payload is the close marker: sent on `close()`, and set as the last
// will by default so the peer also learns of an abrupt disconnect. See docs/PROTOCOL.md,
// "MQTT topic layout", for the topics the session and the hub bridge use.

import { TagwireError } from "../core/errors.js";
import { BaseTransport, type Transport, type TransportConnectOptions } from "./contract.js";
import { randomId } from "../protocol/ids.js";
import { decodeBatch, encodeFrames } from "../protocol/frames.js";
import { encodeValue } from "../protocol/msgpack.js";
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
  splitToken,
  utf8,
} from "./pipe-auth.js";

/** The part of an mqtt.js client this transport uses. */
export interface MqttClientLike {
  connected: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(
    topic: string | string[],
    opts: { qos: 0 | 1 | 2 },
    cb: (err: Error | null | undefined, granted?: { qos: number }[]) => void,
  ): unknown;
  unsubscribe?(topic: string | string[], cb?: (err?: Error) => void): unknown;
  publish(
    topic: string,
    payload: Uint8Array | string,
    opts: { qos: 0 | 1 | 2; retain?: boolean; properties?: object },
    cb?: (err?: Error) => void,
  ): unknown;
  end(force?: boolean, cb?: () => void): unknown;
  stream?: { setNoDelay?(noDelay: boolean): void };
}

export interface MqttModuleLike {
  connect(url: string, options: Record<string, unknown>): MqttClientLike;
}

export interface MqttMessageSpec {
  topic: string;
  payload: Uint8Array | string;
  retain?: boolean;
  qos?: 0 | 1 | 2;
}

export interface MqttTransportOptions extends TransportConnectOptions {
  /** Topic the peer publishes to; this side subscribes to it. */
  inTopic: string;
  /** Topic this side publishes its frames to. */
  outTopic: string;
  clientId?: string;
  /** Last will. Default: the close marker (an empty payload) on `outTopic`. `null`: none. */
  will?: MqttMessageSpec | null;
  /** Published (after subscribing) once the pipe is open, e.g. a retained presence record. */
  hello?: MqttMessageSpec;
  /**
   * A retained JSON `{"online": bool}` the peer keeps (the hub bridge's `P/hub/status`): the
   * pipe opens only once it says online, and closes when it says offline. Without it the pipe
   * opens as soon as it is subscribed.
   */
  peerStatusTopic?: string;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  username?: string;
  password?: string;
  /** MQTT protocol level: 4 (3.1.1, default) or 5. */
  protocolVersion?: 4 | 5;
  /** The mqtt.js module (or one with the same `connect`); default: `import("mqtt")`. */
  mqtt?: MqttModuleLike;
  /**
   * Authenticate the pipe to a hub bridge (docs/PROTOCOL.md, "Frame pipes"): a handshake before
   * "open", then every frame MACed and numbered both ways; the token never leaves this process
   * (a hello's token field is blanked before it is sent). Without it the pipe is plain.
   */
  pipeAuth?: PipeAuthOptions;
}

export interface PipeAuthOptions {
  /** The hub token (its claims are sent, its signature only keys the MACs). */
  token: string | undefined;
  /** The pipe's client id (the last level of its topics). */
  clientId: string;
  /** Random bytes whose SHA-256 is committed in the handshake; revealing them ends the relay. */
  release: Uint8Array;
  /** How long to wait for the bridge's challenge (default 10 s). */
  handshakeTimeoutMs?: number;
}

/** How long a refusal or a challenge with a wrong proof stands before it is believed. */
const SUSPECT_GRACE_MS = 1000;

let mqttModule: Promise<MqttModuleLike> | undefined;

export function defaultMqtt(): Promise<MqttModuleLike> {
  mqttModule ??= import("mqtt").then((m: any) => (typeof m.connect === "function" ? m : m.default) as MqttModuleLike);
  return mqttModule;
}

const EMPTY = new Uint8Array(0);

export class MqttTransport extends BaseTransport {
  private client: MqttClientLike | undefined;
  private closeRequested: string | undefined;
  private readonly options: MqttTransportOptions;
  private pending = 0;
  /** Pipe authentication state (with options.pipeAuth). */
  private cipher: PipeCipher | undefined;
  private sentHello = false;
  /** A refusal to answer the session's hello with, once it is believed. */
  private refusal: TagwireError | undefined;

  constructor(url: string, options: MqttTransportOptions) {
    super();
    this.options = options;
    const start = (m: MqttModuleLike) => {
      if (this.closeRequested !== undefined) {
        this.closed({ reason: this.closeRequested, local: true });
        return;
      }
      try {
        this.attach(m, url);
      } catch (err) {
        this.closed({ reason: `cannot open ${url}: ${(err as Error).message}`, error: err as Error });
      }
    };
    if (options.mqtt) queueMicrotask(() => start(options.mqtt!));
    else defaultMqtt().then(start, (err: Error) => this.closed({ reason: `mqtt.js not available: ${err.message}`, error: err }));
  }

  /** Bytes of PUBLISHes handed to mqtt.js and not yet acknowledged by the broker. */
  override get bufferedAmount(): number {
    return this.pending;
  }

  send(frame: Uint8Array): void {
    this.assertOpen(frame);
    if (this.refusal) {
      // The bridge will not relay this pipe: answer the hello as the hub would, then close.
      const err = this.refusal;
      const reqId = helloReqId(frame);
      queueMicrotask(() => {
        if (reqId !== undefined) this.deliver(encodeFrames([{ type: "error", reqId, code: err.code, message: err.message }]));
        if (this.closed({ reason: err.message, error: err })) this.client?.end(false);
      });
      return;
    }
    let payload = frame;
    if (this.cipher) {
      if (!this.sentHello) {
        this.sentHello = true;
        payload = withoutToken(frame);
      }
      payload = this.cipher.seal(PipeKind.data, payload);
    }
    const bytes = payload.byteLength;
    this.pending += bytes;
    this.client!.publish(this.options.outTopic, payload, { qos: 1 }, () => {
      this.pending -= bytes;
    });
  }

  close(reason = "closed locally"): void {
    if (this.state === "closed") return;
    const client = this.client;
    if (!client) {
      this.closeRequested = reason;
      return;
    }
    const wasOpen = this.state === "open";
    this.closed({ reason, local: true });
    if (wasOpen && client.connected) {
      // Tell the peer, then leave cleanly (a clean DISCONNECT discards the will, so a will that
      // is not the close marker is published by hand).
      const will = this.options.will;
      const marker = this.cipher && !this.refusal ? this.cipher.seal(PipeKind.close, utf8(reason.slice(0, 120))) : EMPTY;
      client.publish(this.options.outTopic, marker, { qos: 1 });
      if (will && will.topic !== this.options.outTopic) {
        client.publish(will.topic, will.payload, { qos: will.qos ?? 1, retain: will.retain ?? false });
      }
    }
    client.end(false);
  }

  private attach(m: MqttModuleLike, url: string): void {
    const o = this.options;
    const will = o.will === undefined ? { topic: o.outTopic, payload: EMPTY, qos: 1 as const, retain: false } : o.will;
    const client = m.connect(url, {
      clientId: o.clientId ?? `tagwire-${randomId()}`,
      clean: true,
      // One transport is one connection: the session reconnects by building a new transport.
      reconnectPeriod: 0,
      keepalive: o.keepaliveS ?? 30,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      protocolVersion: o.protocolVersion ?? 4,
      username: o.username,
      password: o.password,
      will: will ? { topic: will.topic, payload: toPayload(will.payload), qos: will.qos ?? 1, retain: will.retain ?? false } : undefined,
    });
    this.client = client;
    let lastError: Error | undefined;
    let subscribed = false;
    let peerOnline = o.peerStatusTopic === undefined;
    const maybeOpen = () => {
      if (this.state !== "connecting" || !subscribed || !peerOnline) return;
      if (this.closeRequested !== undefined) {
        this.close(this.closeRequested);
        return;
      }
      if (o.hello) client.publish(o.hello.topic, o.hello.payload, { qos: o.hello.qos ?? 1, retain: o.hello.retain ?? false });
      if (o.pipeAuth) startHandshake();
      else this.opened();
    };
    // Pipe authentication: OPEN out, wait for a CHALLENGE whose proof only the hub can make.
    let handshake:
      | { nonce: string; key: Uint8Array; timer: ReturnType<typeof setTimeout>; suspect?: ReturnType<typeof setTimeout> }
      | undefined;
    const endHandshake = () => {
      if (!handshake) return;
      clearTimeout(handshake.timer);
      if (handshake.suspect) clearTimeout(handshake.suspect);
      handshake = undefined;
    };
    const startHandshake = () => {
      const a = o.pipeAuth!;
      const { claims, signature } = splitToken(a.token);
      const nonce = b64url(randomBytes(16));
      const timeoutMs = a.handshakeTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        endHandshake();
        if (this.closed({ reason: `no answer from the hub bridge in ${timeoutMs} ms` })) client.end(true);
      }, timeoutMs);
      handshake = { nonce, key: pipeKey(signature), timer };
      const open = { v: PIPE_VERSION, claims, nonce, release: b64url(sha256(a.release)) };
      client.publish(o.outTopic, encodeJsonEnvelope(PipeKind.open, open), { qos: 1 });
    };
    /** A refusal or a bad proof: believed only if no good challenge follows within the grace. */
    const suspect = (err: TagwireError) => {
      if (!handshake || handshake.suspect) return;
      handshake.suspect = setTimeout(() => {
        endHandshake();
        this.refusal = err;
        if (err.code === "TAGWIRE_ERR_AUTH") this.opened();
        else if (this.closed({ reason: err.message, error: err })) client.end(false);
      }, SUSPECT_GRACE_MS);
    };
    const onHandshake = (payload: Uint8Array) => {
      const a = o.pipeAuth!;
      const kind = payload[0];
      const body = decodeJsonEnvelope(payload);
      if (!handshake || !body) return;
      if (kind === PipeKind.refuse) {
        const code = body.code === "TAGWIRE_ERR_AUTH" ? "TAGWIRE_ERR_AUTH" : "TAGWIRE_ERR_CLOSED";
        suspect(new TagwireError(code, `the hub bridge refused the pipe: ${String(body.message ?? "")}`));
        return;
      }
      if (kind !== PipeKind.challenge || typeof body.nonce !== "string" || typeof body.proof !== "string") return;
      const expected = challengeProof(handshake.key, a.clientId, handshake.nonce, body.nonce);
      const given = fromB64url(body.proof);
      if (!given || !equalBytes(given, fromB64url(expected)!)) {
        suspect(new TagwireError("TAGWIRE_ERR_AUTH", "the hub bridge does not accept this token (signed with another secret?)"));
        return;
      }
      this.cipher = new PipeCipher(sessionKey(handshake.key, a.clientId, handshake.nonce, body.nonce), Direction.toHub);
      endHandshake();
      this.opened();
    };
    client.on("connect", () => {
      // Nagle would hold a lone frame for up to 40 ms behind an unacknowledged one.
      client.stream?.setNoDelay?.(true);
      const topics = o.peerStatusTopic ? [o.inTopic, o.peerStatusTopic] : [o.inTopic];
      client.subscribe(topics, { qos: 1 }, (err, granted) => {
        if (this.state !== "connecting") return;
        const refused = err ?? (granted?.some((g) => g.qos > 2) ? new Error(`subscription to ${topics.join(", ")} refused`) : undefined);
        if (refused) {
          this.closed({ reason: refused.message, error: refused });
          client.end(true);
          return;
        }
        subscribed = true;
        maybeOpen();
      });
    });
    client.on("message", (topic: string, payload: Uint8Array) => {
      if (topic === o.peerStatusTopic) {
        peerOnline = parseOnline(payload);
        if (peerOnline) maybeOpen();
        else if (this.closed({ reason: "peer offline", local: false })) client.end(false);
        return;
      }
      if (topic !== o.inTopic) return;
      if (payload.byteLength === 0) {
        // Unauthenticated: a bridge that lost this pipe (restart) says so this way. A forged one
        // only makes the client reconnect; broker ACLs keep others off this topic.
        endHandshake();
        if (this.closed({ reason: "peer closed", local: false })) client.end(false);
        return;
      }
      if (!o.pipeAuth) {
        this.deliver(payload);
        return;
      }
      if (this.state === "connecting") return onHandshake(payload);
      if (!this.cipher || this.state !== "open") return;
      const opened = this.cipher.open(payload);
      // Forged, replayed or reordered: dropped (the MAC and sequence say it is not the bridge's).
      if (typeof opened === "string") return;
      if (opened.kind === PipeKind.data) this.deliver(opened.payload);
      else if (opened.kind === PipeKind.close) {
        if (this.closed({ reason: `hub closed the pipe: ${new TextDecoder().decode(opened.payload)}`, local: false })) client.end(false);
      }
    });
    client.on("error", (err: Error) => {
      lastError = err;
      // mqtt.js keeps a refused CONNECT open for a retry we never want.
      if (this.state === "connecting") {
        this.closed({ reason: `broker refused: ${err.message}`, error: err });
        client.end(true);
      }
    });
    client.on("close", () => {
      endHandshake();
      this.closed({ reason: lastError ? `broker connection lost: ${lastError.message}` : "broker connection closed", error: lastError });
    });
  }
}

/** Opens a frame pipe over the broker at `url` (`mqtt:`, `mqtts:`, `ws:` or `wss:` as mqtt.js accepts). */
export function connectMqtt(url: string, options: MqttTransportOptions): Transport {
  if (!options.inTopic || !options.outTopic || options.inTopic === options.outTopic) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "an MQTT pipe needs two distinct topics (inTopic, outTopic)");
  }
  return new MqttTransport(url, options);
}

function parseOnline(payload: Uint8Array): boolean {
  try {
    return (JSON.parse(new TextDecoder().decode(payload)) as { online?: unknown }).online === true;
  } catch {
    return false;
  }
}

/** The reqId of a batch's leading hello, if it starts with one. */
function helloReqId(batch: Uint8Array): number | undefined {
  try {
    const f = decodeBatch(batch)[0];
    return Array.isArray(f) && f[0] === 1 && typeof f[1] === "number" ? f[1] : undefined;
  } catch {
    return undefined;
  }
}

/** The batch with its leading hello's token blanked: over a broker the handshake proves it. */
function withoutToken(batch: Uint8Array): Uint8Array {
  try {
    const frames = decodeBatch(batch);
    const f = frames[0];
    if (!Array.isArray(f) || f[0] !== 1 || f[4] == null) return batch;
    f[4] = null;
    return encodeValue(frames);
  } catch {
    return batch;
  }
}

function toPayload(p: Uint8Array | string): Uint8Array | string {
  return p;
}
