// The transport contract: the only thing a session needs from a wire. A transport is ONE
// connection attempt: it goes connecting -> open -> closed (or connecting -> closed) exactly once
// and never reopens; reconnecting means building a new transport, which is the session's job
// (bindings/client/). Keeping transports this small is what lets the same contract suite
// (test/transport.contract.test.ts) run against the in-process, WebSocket and MQTT ones.
//
// Frames are opaque bytes here: the transport never parses them. Rules every transport keeps:
// - frames arrive in the order they were sent, whole (no splitting or merging), byte for byte;
// - a frame has at least one byte (MQTT uses an empty payload as its close marker);
// - `send` is only valid while `state === "open"`; otherwise it throws TAGWIRE_ERR_CLOSED;
// - the caller must not mutate a frame after `send`; a received frame belongs to the handler;
// - state events are never emitted synchronously from the factory or from `onState`, so a
//   handler attached right after creation sees every transition;
// - after "closed", no frame is delivered and no event follows;
// - `bufferedAmount` never goes below 0, and falls back to 0 once the wire has taken everything
//   sent (the session's send queue reads it before each batch and stops above a high water).

import { TagwireError } from "../core/errors.js";

export type TransportState = "connecting" | "open" | "closed";

export interface TransportStateChange {
  state: TransportState;
  /** Why the transport closed (human readable); set with "closed". */
  reason?: string;
  /** True when this side called `close()`. */
  local?: boolean;
  /** The underlying failure, when the close was not a clean one. */
  error?: Error;
}

export type FrameHandler = (frame: Uint8Array) => void;
export type StateHandler = (change: TransportStateChange) => void;

export interface Transport {
  readonly state: TransportState;
  /**
   * Bytes accepted by `send` that the underlying socket has not written yet (0 when unknown;
   * MQTT: bytes of PUBLISHes the broker has not acknowledged). Lets a sender that produces faster
   * than the wire drains apply backpressure (bindings/client/send-queue.ts); there is no drain
   * event because browsers' WebSocket has none, so a blocked sender polls it.
   */
  readonly bufferedAmount: number;
  send(frame: Uint8Array): void;
  /** Returns a function that removes the handler. */
  onFrame(handler: FrameHandler): () => void;
  onState(handler: StateHandler): () => void;
  /** Idempotent. Emits "closed" with `local: true` unless already closed. */
  close(reason?: string): void;
}

/** Options every factory understands; a transport ignores what it cannot use. */
export interface TransportConnectOptions {
  /** Sent as a bearer token where the wire allows it (WebSocket query `?token=`). */
  token?: string;
  /** Agent this connection speaks for; MQTT uses it for presence. */
  agentId?: string;
}

/** Builds a transport for a URL; `connect()` picks one from a table by URL protocol. */
export type TransportFactory = (url: string, options: TransportConnectOptions) => Transport;

/**
 * Shared bookkeeping for transports: handler lists, the one-way state machine and the async
 * first transition. Implementations call `opened()`, `deliver()` and `closed()`.
 */
export abstract class BaseTransport implements Transport {
  #stateValue: TransportState = "connecting";
  readonly #frameHandlers: FrameHandler[] = [];
  readonly #stateHandlers: StateHandler[] = [];

  get state(): TransportState {
    return this.#stateValue;
  }

  get bufferedAmount(): number {
    return 0;
  }

  abstract send(frame: Uint8Array): void;
  abstract close(reason?: string): void;

  onFrame(handler: FrameHandler): () => void {
    this.#frameHandlers.push(handler);
    return () => remove(this.#frameHandlers, handler);
  }

  onState(handler: StateHandler): () => void {
    this.#stateHandlers.push(handler);
    return () => remove(this.#stateHandlers, handler);
  }

  /** Throws unless open; implementations call it first in `send`. */
  protected assertOpen(frame: Uint8Array): void {
    if (this.#stateValue !== "open") {
      throw new TagwireError("TAGWIRE_ERR_CLOSED", `transport is ${this.#stateValue}: cannot send`);
    }
    if (frame.byteLength === 0) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "a frame has at least one byte");
  }

  protected opened(): void {
    if (this.#stateValue !== "connecting") return;
    this.#stateValue = "open";
    this.#emit({ state: "open" });
  }

  protected deliver(frame: Uint8Array): void {
    if (this.#stateValue !== "open") return;
    const handlers = this.#frameHandlers;
    // A single handler is the common case (the session); skip the copy of the list.
    if (handlers.length === 1) handlers[0]!(frame);
    else for (const h of handlers.slice()) h(frame);
  }

  /** Returns false if it was already closed. */
  protected closed(change: Omit<TransportStateChange, "state">): boolean {
    if (this.#stateValue === "closed") return false;
    this.#stateValue = "closed";
    this.#emit({ state: "closed", reason: change.reason ?? "closed", ...change });
    this.#frameHandlers.length = 0;
    this.#stateHandlers.length = 0;
    return true;
  }

  #emit(change: TransportStateChange): void {
    for (const h of this.#stateHandlers.slice()) h(change);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** The error `close` reasons are wrapped in when a session surfaces them. */
export function closedError(change: TransportStateChange): TagwireError {
  return new TagwireError("TAGWIRE_ERR_CLOSED", `connection closed: ${change.reason ?? "closed"}`, {
    cause: change.error,
  });
}
