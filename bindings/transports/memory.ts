// In-process transport: two ends of a pipe in one JavaScript realm. Frames are copied on send so
// the receiver owns its bytes exactly as it would after a socket, and delivered in a microtask
// batch so a handler never runs inside the sender's call stack (no re-entrancy a socket would
// not have). `memory://name` URLs reach a listener registered with `listenMemory(name, ...)`,
// which is how a hub in the same process accepts in-process agents.
//
// `bufferedAmount` is the bytes sent and not yet delivered to the peer's handlers, as on a socket
// whose reader is behind. `pause()` on the receiving end stops delivery (a reader that stopped
// reading), so a sender's backpressure can be exercised without a network; `resume()` delivers
// what waited, in order.

import { TagwireError } from "../core/errors.js";
import { BaseTransport, type Transport, type TransportConnectOptions } from "./contract.js";

/** One end of an in-process pipe; make the two ends with `createMemoryPair()`. */
export class MemoryTransport extends BaseTransport {
  #peer: MemoryTransport | undefined;
  #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #flushQueued = false;
  #paused = false;

  static pair(): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport();
    const b = new MemoryTransport();
    a.#peer = b;
    b.#peer = a;
    // Open on the next microtask: handlers attached right after creation see the transition.
    queueMicrotask(() => {
      a.opened();
      b.opened();
    });
    return [a, b];
  }

  /** Bytes this end sent that the peer has not delivered yet. */
  override get bufferedAmount(): number {
    const peer = this.#peer;
    return peer ? peer.#inboxBytes : 0;
  }

  /** Stops delivering received frames (they wait, counted in the sender's bufferedAmount). */
  pause(): void {
    this.#paused = true;
  }

  /** Delivers what waited, then everything as it comes. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#inbox.length > 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  send(frame: Uint8Array): void {
    this.assertOpen(frame);
    this.#peer!.#receive(frame.slice());
  }

  close(reason = "closed locally"): void {
    if (this.state === "closed") return;
    const peer = this.#peer;
    this.closed({ reason, local: true });
    this.#inbox = [];
    this.#inboxBytes = 0;
    // The peer sees the close after the frames already in flight to it, as on a socket.
    if (peer) queueMicrotask(() => peer.#drainThenClose(`peer closed: ${reason}`));
  }

  /** @internal */
  refuse(reason: string): void {
    this.closed({ reason, local: false });
  }

  #receive(frame: Uint8Array): void {
    this.#inbox.push(frame);
    this.#inboxBytes += frame.byteLength;
    if (!this.#flushQueued && !this.#paused) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#paused) return;
    const frames = this.#inbox;
    this.#inbox = [];
    this.#inboxBytes = 0;
    for (let i = 0; i < frames.length; i++) this.deliver(frames[i]!);
  }

  #drainThenClose(reason: string): void {
    // A paused reader still gets what was in flight before the close, as after a socket's FIN.
    this.#paused = false;
    this.#flush();
    this.closed({ reason, local: false });
  }
}

/** Two connected in-process transports; each receives what the other sends. */
export function createMemoryPair(): [Transport, Transport] {
  return MemoryTransport.pair();
}

export type MemoryAcceptor = (serverSide: Transport) => void;

const listeners = new Map<string, MemoryAcceptor>();

/**
 * Registers an in-process endpoint; `connectMemory("memory://name")` hands `accept` the server
 * side of a fresh pair. Returns a function that unregisters it.
 */
export function listenMemory(name: string, accept: MemoryAcceptor): () => void {
  if (listeners.has(name)) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `memory endpoint "${name}" is taken`);
  listeners.set(name, accept);
  return () => {
    if (listeners.get(name) === accept) listeners.delete(name);
  };
}

/** `memory://name` (or a bare name): the client side of a pair whose other end `name`'s listener gets. */
export function connectMemory(url: string, _options: TransportConnectOptions = {}): Transport {
  const name = url.startsWith("memory://") ? url.slice("memory://".length).replace(/[/?#].*$/, "") : url;
  const accept = listeners.get(name);
  if (!accept) {
    // Same observable shape as a refused socket: connecting, then closed, never open.
    const lone = new MemoryTransport();
    queueMicrotask(() => lone.refuse(`no memory endpoint "${name}"`));
    return lone;
  }
  const [client, server] = MemoryTransport.pair();
  accept(server);
  return client;
}
