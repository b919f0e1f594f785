// Request/reply matching: every client frame carries a reqId, and the hub answers it with one
// `ack` or `error` of the same reqId (docs/PROTOCOL.md). This module numbers frames, encodes them,
// keeps what each request is waiting for, and settles it when the answer comes.
//
// What a request does when the connection changes depends on its kind:
// - reads wait for a connection (up to `timeoutMs`, which also bounds the reply) and are sent
//   again on the next one if it drops first;
// - direct writes may or may not have been applied when the connection drops: `connectionLost`
//   hands them back so the session keeps them in the outbox (their ids make the replay safe);
// - writes sent from the outbox stay in the outbox; nothing to settle;
// - everything else (hello, subscribe, ping) ends with the connection.
//
// Writes and reads are refused with TAGWIRE_ERR_BACKPRESSURE when the send queue is full;
// control frames are always queued.

import { TagwireError, type TagwireErrorCode } from "../core/errors.js";
import { LIMITS, encodeFrame, type ClientFrame } from "../protocol/frames.js";
import type { OutboxWrite } from "./outbox.js";

export type RequestKind = "hello" | "subscribe" | "unsubscribe" | "write" | "read" | "ping";

export interface RequestSink {
  /** Queues a control frame. */
  enqueue(bytes: Uint8Array): void;
  /** Queues a write or read; false when the queue is full. */
  tryEnqueue(bytes: Uint8Array): boolean;
}

interface Pending {
  kind: RequestKind;
  frame: ClientFrame;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  /** For direct writes: what to keep in the outbox if the connection drops. */
  write?: OutboxWrite;
  /** Turns the ack's result into what the caller gets (see `request`). */
  shape?: ResultShape;
}

/**
 * Makes a request's answer from the ack's result (or the session's marker for a write kept in the
 * outbox) and the write; a throw rejects the request. It runs as the ack is dispatched, so a
 * write's caller gets its result without an async function and an await of its own in between.
 */
export type ResultShape = (result: unknown, write: OutboxWrite | undefined) => unknown;

export interface RequestsOptions {
  sink: RequestSink;
  /** Reads wait this long for a connection and a reply. */
  timeoutMs: number;
}

/** A direct write whose connection dropped before its ack; `settle` resolves its caller. */
export interface InDoubtWrite {
  write: OutboxWrite;
  settle(result: unknown): void;
}

export class Requests {
  readonly #sink: RequestSink;
  readonly #timeoutMs: number;
  #nextReqId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Reads waiting for a connection. */
  readonly #waiting: Pending[] = [];
  #online = false;
  /** The hub's frame size limit (from its hello; the protocol default until then). */
  maxMessageBytes: number = LIMITS.maxMessageBytes;

  constructor(options: RequestsOptions) {
    this.#sink = options.sink;
    this.#timeoutMs = options.timeoutMs;
  }

  /** True between `connected` and `connectionLost`: the hub accepted the hello. */
  get online(): boolean {
    return this.#online;
  }

  /** Frames sent and not answered yet. */
  get size(): number {
    return this.#pending.size;
  }

  /** True while a write awaits its ack. */
  hasWrites(): boolean {
    for (const p of this.#pending.values()) if (p.kind === "write") return true;
    return false;
  }

  /**
   * Sends `frame` (its reqId is assigned here) and resolves with the ack's result, or rejects
   * with the hub's error. `write` marks a direct write (see `connectionLost`); `shape`, if given,
   * makes the answer from the ack's result.
   */
  request(kind: RequestKind, frame: ClientFrame, write?: OutboxWrite, shape?: ResultShape): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // write and shape set even when undefined: one object shape for writes and the rest.
      const p: Pending = { kind, frame, resolve, reject, write, shape };
      if (kind === "read") {
        p.timer = setTimeout(() => {
          for (const [id, q] of this.#pending) if (q === p) this.#pending.delete(id);
          const i = this.#waiting.indexOf(p);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(new TagwireError("TAGWIRE_ERR_TIMEOUT", `no reply to ${frame.type} in ${this.#timeoutMs} ms`));
        }, this.#timeoutMs);
        if (!this.#online) {
          this.#waiting.push(p);
          return;
        }
      }
      this.#send(p);
    });
  }

  /** The hub accepted the hello: reads waiting for a connection go now. */
  connected(): void {
    this.#online = true;
    for (const p of this.#waiting.splice(0)) this.#send(p);
  }

  /** An `ack` arrived; false when nothing waited for it. */
  settle(reqId: number, result: unknown): boolean {
    const p = this.#take(reqId);
    if (!p) return false;
    answer(p, result);
    return true;
  }

  /** An `error` arrived; false when nothing waited for it (the caller reports it). */
  refuse(reqId: number, code: string, message: string): boolean {
    // reqIds start at 1: an error of reqId 0 (not about a request) finds nothing.
    const p = this.#take(reqId);
    if (!p) return false;
    // TAGWIRE_ERR_INTERNAL is a hub-only code; keep it (the union is for known codes).
    p.reject(new TagwireError(code as TagwireErrorCode, message));
    return true;
  }

  /**
   * The connection dropped: reads wait for the next one, control requests fail with
   * TAGWIRE_ERR_CLOSED, outbox writes are forgotten; direct writes are returned (in doubt).
   */
  connectionLost(reason: string): InDoubtWrite[] {
    this.#online = false;
    const inDoubt: InDoubtWrite[] = [];
    for (const [reqId, p] of this.#pending) {
      this.#pending.delete(reqId);
      if (p.kind === "read") this.#waiting.push(p);
      else if (p.kind === "write" && p.write) inDoubt.push({ write: p.write, settle: (result) => answer(p, result) });
      else if (p.kind === "write") {
        // An outbox entry: it stays in the outbox, marked attempted; nothing to do.
      } else p.reject(new TagwireError("TAGWIRE_ERR_CLOSED", `connection lost: ${reason}`));
    }
    return inDoubt;
  }

  /** Ends every request, waiting or sent, with `error` (fatal refusal or close). */
  failAll(error: Error): void {
    for (const p of this.#waiting.splice(0)) this.#end(p, error);
    for (const [reqId, p] of this.#pending) {
      this.#pending.delete(reqId);
      this.#end(p, error);
    }
  }

  /** The request sent as `reqId`, no longer pending (its timer stopped), if any. */
  #take(reqId: number): Pending | undefined {
    const p = this.#pending.get(reqId);
    if (p) {
      this.#pending.delete(reqId);
      clearTimeout(p.timer);
    }
    return p;
  }

  #send(p: Pending): void {
    const reqId = this.#nextReqId;
    this.#nextReqId = reqId >= 0xfffffffe ? 1 : reqId + 1;
    (p.frame as { reqId: number }).reqId = reqId;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(p.frame);
    } catch (err) {
      this.#end(p, new TagwireError("TAGWIRE_ERR_PAYLOAD", `cannot encode ${p.frame.type}: ${(err as Error).message}`));
      return;
    }
    const max = this.maxMessageBytes;
    if (bytes.length + 5 > max) {
      this.#end(p, new TagwireError("TAGWIRE_ERR_SIZE", `${p.frame.type} frame of ${bytes.length} bytes exceeds the hub's ${max}`));
      return;
    }
    // Outbox writes (kind write without `write`) are already safe in the outbox; they are paced
    // by the drain, so they are never refused here.
    const bounded = p.kind === "read" || (p.kind === "write" && p.write !== undefined);
    if (bounded) {
      if (!this.#sink.tryEnqueue(bytes)) {
        this.#end(p, new TagwireError("TAGWIRE_ERR_BACKPRESSURE", `${p.frame.type}: send queue full`));
        return;
      }
    } else this.#sink.enqueue(bytes);
    this.#pending.set(reqId, p);
  }

  #end(p: Pending, error: Error): void {
    clearTimeout(p.timer);
    p.reject(error);
  }
}

function answer(p: Pending, result: unknown): void {
  // resolve() never throws: a throw here is the shape's, and rejects the request.
  try {
    p.resolve(p.shape ? p.shape(result, p.write) : result);
  } catch (err) {
    p.reject(err as Error);
  }
}
