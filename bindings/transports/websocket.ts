// WebSocket transport: one code path for browsers and Node. The WebSocket class is a parameter
// (as y-websocket takes it): by default the platform's `globalThis.WebSocket`, and in a Node
// without one, the `ws` package loaded by dynamic import, so a browser bundle never pulls a Node
// module. Only the WHATWG surface (`onopen`, `onmessage`, `binaryType`, `send`, `close`) is used,
// which both provide.
//
// One WebSocket message carries exactly one frame; a frame that batches several protocol
// messages is the codec's business, not the transport's.

import { TagwireError } from "../core/errors.js";
import { BaseTransport, type Transport, type TransportConnectOptions } from "./contract.js";

/** The part of the WHATWG WebSocket this transport uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** What Node's `ws` adds to the WHATWG surface and this transport uses when it is there. */
interface NodeWebSocket {
  on(event: "message", listener: (data: unknown, isBinary: boolean) => void): void;
}

export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketTransportOptions extends TransportConnectOptions {
  /** The WebSocket implementation; default `globalThis.WebSocket`, else the `ws` package. */
  WebSocket?: WebSocketClass;
  protocols?: string | string[];
}

const OPEN = 1;

let wsModule: Promise<WebSocketClass> | undefined;
/** With `ws` in Node: reads whole binary frames ahead of ws's own reader (ws-fast-read.ts). */
let fastRead: ((ws: unknown, onBinary: (data: Uint8Array) => void) => boolean) | undefined;

/** The platform WebSocket, or `ws` in a Node that has none (loaded once, on first use). */
export function defaultWebSocket(): WebSocketClass | Promise<WebSocketClass> {
  const native = (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
  if (native) return native;
  // Variable specifiers keep bundlers from resolving `ws` (and the reader made for it) into a
  // browser build.
  const specifier = "ws";
  const reader = "./ws-fast-read.js";
  // The reader is an optimisation: where it cannot be loaded (a Node bundle that left it out),
  // ws reads everything.
  wsModule ??= Promise.all([import(/* @vite-ignore */ specifier), import(/* @vite-ignore */ reader).catch(() => undefined)]).then(
    ([m, r]: any[]) => {
      fastRead = r?.readFramesFast;
      return (m.WebSocket ?? m.default) as WebSocketClass;
    },
  );
  return wsModule;
}

export class WebSocketTransport extends BaseTransport {
  private socket: WebSocketLike | undefined;
  private closeRequested: string | undefined;
  // Node's ws exposes its net.Socket; corking it for the rest of the tick turns a burst of sends
  // into one write (each write to a socket costs several microseconds here).
  private corkable: { cork(): void; uncork(): void } | undefined;
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.corkable?.uncork();
  };

  /** Client side: dials `url`. Server side: pass an accepted, already open socket. */
  constructor(source: { url: string; options?: WebSocketTransportOptions } | { socket: WebSocketLike }) {
    super();
    if ("socket" in source) {
      // Attach now so no message is missed; announce "open" after the caller attached handlers.
      this.attach(source.socket);
      queueMicrotask(() => {
        if (source.socket.readyState === OPEN) this.opened();
      });
      return;
    }
    const { url, options = {} } = source;
    const cls = options.WebSocket ?? defaultWebSocket();
    const dial = (C: WebSocketClass) => {
      if (this.closeRequested !== undefined) {
        this.closed({ reason: this.closeRequested, local: true });
        return;
      }
      let socket: WebSocketLike;
      try {
        socket = new C(withToken(url, options.token), options.protocols);
      } catch (err) {
        this.closed({ reason: `cannot open ${url}: ${(err as Error).message}`, error: err as Error });
        return;
      }
      this.attach(socket);
    };
    if (typeof (cls as Promise<WebSocketClass>).then === "function") {
      (cls as Promise<WebSocketClass>).then(dial, (err: Error) =>
        this.closed({ reason: `no WebSocket implementation: ${err.message}`, error: err }),
      );
    } else {
      // Dial on a microtask so the "connecting" -> ... transitions are never synchronous.
      queueMicrotask(() => dial(cls as WebSocketClass));
    }
  }

  override get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  send(frame: Uint8Array): void {
    this.assertOpen(frame);
    const c = this.corkable;
    if (c && !this.corked) {
      this.corked = true;
      c.cork();
      queueMicrotask(this.uncork);
    }
    this.socket!.send(frame);
  }

  close(reason = "closed locally"): void {
    if (this.state === "closed") return;
    const socket = this.socket;
    if (!socket) {
      // Still resolving the WebSocket class: `dial` will finish the close.
      this.closeRequested = reason;
      return;
    }
    this.closed({ reason, local: true });
    try {
      socket.close(1000, truncateReason(reason));
    } catch {
      // Already closing: nothing to tell the peer.
    }
  }

  private attach(socket: WebSocketLike): void {
    this.socket = socket;
    // ws accepts "nodebuffer" (a Uint8Array without a copy); browsers ignore it, so fall back.
    socket.binaryType = "nodebuffer";
    if (socket.binaryType !== "nodebuffer") socket.binaryType = "arraybuffer";
    const raw = (socket as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
    if (raw && typeof raw.cork === "function" && typeof raw.uncork === "function") {
      this.corkable = raw as { cork(): void; uncork(): void };
    }
    let lastError: Error | undefined;
    socket.onopen = () => {
      if (this.closeRequested !== undefined) {
        this.close(this.closeRequested);
        return;
      }
      // Whole binary frames skip ws's per-socket stream machinery (false, and nothing changed, for
      // any other WebSocket); the rest still comes through the listeners below.
      fastRead?.(socket, (data) => this.deliver(data));
      this.opened();
    };
    const refuseText = () => {
      // A text message is outside the protocol: refuse it the way RFC 6455 says (1003).
      const err = new TagwireError("TAGWIRE_ERR_PROTOCOL", "received a text WebSocket message");
      this.closed({ reason: err.message, error: err });
      socket.close(1003, "binary frames only");
    };
    const receive = (data: unknown) => {
      if (data instanceof Uint8Array) this.deliver(data);
      else if (data instanceof ArrayBuffer) this.deliver(new Uint8Array(data));
      else if (Array.isArray(data)) this.deliver(concat(data as Uint8Array[]));
      else refuseText();
    };
    const emitter = socket as Partial<NodeWebSocket>;
    if (typeof emitter.on === "function") {
      // Node's ws: its own "message" event hands over the Buffer; `onmessage` would wrap every
      // message in a MessageEvent first.
      emitter.on("message", (data, isBinary) => (isBinary ? receive(data) : refuseText()));
    } else {
      socket.onmessage = (event) => receive(event.data);
    }
    socket.onerror = (event) => {
      lastError = event?.error instanceof Error ? event.error : new Error(event?.message ?? "WebSocket error");
    };
    socket.onclose = (event) => {
      const why = event.reason || (lastError ? lastError.message : `code ${event.code}`);
      this.closed({ reason: `socket closed (${event.code}): ${why}`, local: false, error: lastError });
    };
  }
}

/** Dials a WebSocket URL (`ws:` or `wss:`). */
export function connectWebSocket(url: string, options: WebSocketTransportOptions = {}): Transport {
  return new WebSocketTransport({ url, options });
}

/** Wraps a socket a server has accepted (already open) as a transport. */
export function acceptWebSocket(socket: WebSocketLike): Transport {
  return new WebSocketTransport({ socket });
}

function withToken(url: string, token: string | undefined): string {
  if (!token) return url;
  const u = new URL(url);
  u.searchParams.set("token", token);
  return u.toString();
}

// RFC 6455 caps a close reason at 123 bytes of UTF-8.
function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "");
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
