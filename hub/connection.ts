// One WebSocket connection: decodes incoming batches, applies the per-connection limits, hands
// each frame to its family's handler (handlers.ts), and queues outgoing frames until the hub's
// tick writes them as one batch per socket per commit group, once that commit is durable.
import type { WebSocket } from "ws";
import { TagwireError } from "../bindings/core/errors.js";
import {
  FrameError,
  decodeBatch,
  encodeFrame,
  isPlainPublishBatch,
  joinFrames,
  toFrame,
  type ProtocolErrorCode,
} from "../bindings/protocol/frames.js";
import { readFramesFast } from "../bindings/transports/ws-fast-read.js";
import type { Principal } from "./access.js";
import { sendFramed } from "./ws-batch-write.js";
import { RateBucket } from "./limits.js";
import type { HubContext } from "./context.js";
import type { Outlet } from "./state.js";
import { dispatch } from "./handlers.js";

const OPEN = 1;

/** One commit group's frames for this connection, written once that commit is durable. */
interface Sealed {
  readonly frames: Uint8Array[];
  readonly bytes: number;
  /** closeSoon was called before the seal: close after writing these. */
  readonly close: { code: number; reason: string } | undefined;
}

export class Connection implements Outlet {
  readonly id: number;
  readonly ws: WebSocket;
  /** The token that came with the upgrade request (header or ?token=), if any. */
  readonly upgradeToken: string | undefined;
  /** The peer's IP address (for logs and the per-address cap). */
  readonly address: string;
  private principalValue: Principal | undefined;
  /** performance.now() when the connection opened and when it last sent a message. */
  readonly openedAt = performance.now();
  lastMessageAt = this.openedAt;
  /** A keepalive ping is out and unanswered. */
  private pinged = false;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** ws.bufferedAmount after the last flush: enqueue checks against it without asking ws. */
  private unsentAtFlush = 0;
  /** subId -> routing-key pattern. */
  readonly subs = new Map<number, string>();
  /** routing-key pattern -> number of this connection's subscriptions using it. */
  private readonly patternRefs = new Map<string, number>();
  private queue: Uint8Array[] = [];
  /** Bytes queued or sealed in commit groups waiting for their fsync: not yet handed to ws. */
  private queuedBytes = 0;
  /** Bytes of `queue` alone (the part the next seal takes). */
  private openBytes = 0;
  /** Sealed parts of commit groups, oldest first (hub/tick.ts releases them in order). */
  private sealed: Sealed[] = [];
  /** closeAfterFlush went into a sealed part already. */
  private closeSealed = false;
  private readonly bucket: RateBucket;
  private closeAfterFlush: { code: number; reason: string } | undefined;
  private closed = false;
  readonly ctx: HubContext;

  constructor(ctx: HubContext, id: number, ws: WebSocket, upgradeToken: string | undefined, address = "?") {
    this.ctx = ctx;
    this.id = id;
    this.ws = ws;
    this.upgradeToken = upgradeToken;
    this.address = address;
    this.bucket = new RateBucket(ctx.limits.framesPerSecond);
    ws.on("message", (data, isBinary) => this.onMessage(data as Buffer | Buffer[], isBinary));
    // Whole binary frames skip ws's per-socket stream machinery; the rest still comes as above.
    readFramesFast(ws, (data) => this.onMessage(data, true));
    // A pong answers the keepalive ping below: the peer is there even if it has nothing to say.
    ws.on("pong", () => {
      this.lastMessageAt = performance.now();
      this.pinged = false;
    });
    ws.on("close", () => this.dispose());
    ws.on("error", () => this.dispose());
  }

  // -------------------------------------------------------------------------------------------
  // Incoming

  get principal(): Principal | undefined {
    return this.principalValue;
  }

  /** Set once by a good hello; arms the close at the token's expiry. */
  set principal(p: Principal | undefined) {
    this.principalValue = p;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (p?.expiresAt === undefined) return;
    // setTimeout holds at most ~24.8 days: a longer-lived token re-arms on the way.
    const arm = () => {
      const left = p.expiresAt! * 1000 - Date.now();
      if (left <= 0) return this.expire();
      this.expiryTimer = setTimeout(arm, Math.min(left, 0x7fffffff));
      this.expiryTimer.unref?.();
    };
    arm();
  }

  /** The token ran out: say so, then close (4401). */
  private expire(): void {
    if (this.closed || this.closeAfterFlush) return;
    const at = new Date((this.principalValue?.expiresAt ?? 0) * 1000).toISOString();
    this.ctx.log(`connection ${this.id} (${this.address}, ${this.principalValue?.agentId}): token expired at ${at}: closing`);
    this.error(0, "TAGWIRE_ERR_AUTH", `token expired at ${at}`);
    this.closeSoon(4401, "token expired");
  }

  /**
   * Called by the hub's timer sweep: closes a connection that has not said hello within
   * helloTimeoutMs or has been silent for idleTimeoutMs (4408), with a log line.
   */
  checkTimers(now: number): void {
    if (this.closed || this.closeAfterFlush) return;
    const { helloTimeoutMs, idleTimeoutMs } = this.ctx.limits;
    if (!this.principalValue && helloTimeoutMs > 0 && now - this.openedAt > helloTimeoutMs) {
      this.ctx.log(`connection ${this.id} (${this.address}): no hello within ${helloTimeoutMs} ms: closing`);
      this.error(0, "TAGWIRE_ERR_TIMEOUT", `no hello within ${helloTimeoutMs} ms`);
      this.closeSoon(4408, "hello timeout");
    } else if (idleTimeoutMs > 0 && now - this.lastMessageAt > idleTimeoutMs) {
      this.ctx.log(`connection ${this.id} (${this.address}): silent for ${idleTimeoutMs} ms (no frame, no pong): closing`);
      this.error(0, "TAGWIRE_ERR_TIMEOUT", `no frame and no pong for ${idleTimeoutMs} ms`);
      this.closeSoon(4408, "idle timeout");
    } else if (idleTimeoutMs > 0 && !this.pinged && now - this.lastMessageAt > idleTimeoutMs / 2) {
      // Keepalive: a peer that only listens is asked once per half timeout; a WebSocket answers
      // a ping by itself, a dead or stuck peer does not.
      this.pinged = true;
      try {
        this.ws.ping();
      } catch {
        // closing already
      }
    }
  }

  /**
   * Refuses a read whose reply (`bytes`) would take what this connection has queued or unsent
   * past maxQueuedBytes. A reply on an empty queue always goes, so one read of any size the
   * other limits allow still works; a batch of them cannot pile up.
   */
  checkReplyBudget(bytes: number, what: string): number {
    const held = this.queuedBytes + this.ws.bufferedAmount;
    const limit = this.ctx.limits.maxQueuedBytes;
    if (held > 0 && held + bytes > limit) {
      throw new TagwireError(
        "TAGWIRE_ERR_RATE",
        `${what}: ${bytes} bytes would join ${held} already queued for this connection (limit ${limit}); read again once they arrived`,
      );
    }
    /** What is left of the budget (a reply cut to it still carries at least one item). */
    return Math.max(0, limit - held);
  }

  private onMessage(data: Buffer | Buffer[], isBinary: boolean): void {
    if (this.closed || this.closeAfterFlush) return;
    this.lastMessageAt = performance.now();
    this.pinged = false;
    const p = this.principalValue;
    if (p?.expiresAt !== undefined && p.expiresAt * 1000 <= Date.now()) return this.expire();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data;
    if (!isBinary) return this.error(0, "TAGWIRE_ERR_PROTOCOL", "text messages are not part of the protocol; send binary batches");
    if (bytes.length > this.ctx.limits.maxMessageBytes) {
      return this.error(0, "TAGWIRE_ERR_SIZE", `message of ${bytes.length} bytes (limit ${this.ctx.limits.maxMessageBytes})`);
    }
    const now = performance.now();
    const writer = this.pipelineWriter();
    if (writer !== null && isPlainPublishBatch(bytes)) {
      // Telemetry: only publishes, within the rate budget as a whole. The core does the batch in
      // one call; anything else (or a batch over budget) takes the frame-by-frame path below.
      const frames = bytes[0]! < 0xa0 ? bytes[0]! & 0x0f : (bytes[1]! << 8) | bytes[2]!;
      if (frames <= this.ctx.limits.maxFramesPerBatch && this.bucket.takeMany(frames, now)) {
        try {
          this.ctx.state.ingestPublishes(this, bytes, writer);
        } catch (err) {
          this.fail(err, 0);
        }
        return;
      }
    }
    let raw: unknown[];
    try {
      raw = decodeBatch(bytes, this.ctx.limits.maxFramesPerBatch);
    } catch (err) {
      return this.fail(err, 0);
    }
    for (let i = 0; i < raw.length; i++) {
      if (this.closeAfterFlush) return;
      const r = raw[i];
      if (!this.bucket.take(now)) {
        const reqId = Array.isArray(r) && typeof r[1] === "number" && r[1] >>> 0 === r[1] ? r[1] : 0;
        this.error(reqId, "TAGWIRE_ERR_RATE", `more than ${this.ctx.limits.framesPerSecond} frames per second`);
        continue;
      }
      let reqId = 0;
      try {
        const frame = toFrame(r);
        if ("reqId" in frame) reqId = frame.reqId;
        dispatch(this, frame);
      } catch (err) {
        this.fail(err, reqId);
      }
    }
  }

  /**
   * Who may write through the core pipeline: undefined = any agent (no auth), an agent id = only
   * that agent's channels (a device), null = not this connection (before hello; viewers and
   * operators, whose rules the pipeline cannot express, take the general path).
   */
  private pipelineWriter(): string | undefined | null {
    const p = this.principal;
    if (!p) return null;
    if (p.unrestricted) return undefined;
    return p.role === "device" ? p.agentId : null;
  }

  /** Turns a thrown error into an error frame; unexpected errors are logged and reported as internal. */
  private fail(err: unknown, reqId: number): void {
    if (err instanceof FrameError) return this.error(err.reqId || reqId, err.code, err.message);
    if (err instanceof TagwireError) return this.error(reqId, err.code, err.message);
    this.ctx.log(`connection ${this.id}: internal error: ${(err as Error)?.stack ?? err}`);
    this.error(reqId, "TAGWIRE_ERR_INTERNAL", "internal error");
  }

  // -------------------------------------------------------------------------------------------
  // Outgoing

  enqueue(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.queue.length === 0) this.ctx.state.markPending(this);
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    this.openBytes += frame.length;
    // Checked as frames are produced, not after a whole tick was queued.
    if (this.queuedBytes + this.unsentAtFlush > this.ctx.limits.maxBufferedBytes)
      this.closeSlowConsumer(this.queuedBytes + this.unsentAtFlush);
  }

  private closeSlowConsumer(unsent: number): void {
    this.ctx.log(`connection ${this.id} (${this.address}): closing a slow consumer (${unsent} bytes unsent)`);
    try {
      this.ws.close(1013, "slow consumer: too much unsent data");
    } catch {
      // already closing
    }
    // Runs inside a fan-out loop that reads the router's subscriber list from core memory, and
    // unsubscribing is a core call (it may grow that memory and detach the view): the routes
    // go after the loop.
    if (this.forget()) queueMicrotask(() => this.unroute());
  }

  /** Queues an ack; `result` is encoded now (its documents may be views that change later). */
  ack(reqId: number, result: unknown): void {
    this.enqueue(encodeFrame({ type: "ack", reqId, result }));
  }

  error(reqId: number, code: ProtocolErrorCode, message: string): void {
    this.enqueue(encodeFrame({ type: "error", reqId, code, message }));
  }

  /** Sends what is queued, then closes with `code`. */
  closeSoon(code: number, reason: string): void {
    this.closeAfterFlush = { code, reason };
    this.ctx.state.markPending(this);
  }

  seal(): boolean {
    if (this.closed) return false;
    const close = this.closeAfterFlush && !this.closeSealed ? this.closeAfterFlush : undefined;
    if (this.queue.length === 0 && !close) return false;
    if (close) this.closeSealed = true;
    this.sealed.push({ frames: this.queue, bytes: this.openBytes, close });
    this.queue = [];
    this.openBytes = 0;
    return true;
  }

  release(): void {
    const part = this.sealed.shift();
    if (!part) return;
    this.queuedBytes -= part.bytes;
    if (part.frames.length && !this.closed && this.ws.readyState === OPEN) this.write(part.frames, part.bytes);
    if (part.close && !this.closed) {
      this.ws.close(part.close.code, part.close.reason);
      this.dispose();
    }
  }

  private write(queue: Uint8Array[], bytes: number): void {
    const { maxFramesPerBatch, maxMessageBytes } = this.ctx.limits;
    if (queue.length <= maxFramesPerBatch && bytes <= maxMessageBytes) {
      sendFramed(this.ws, this.ctx.state.joinCached(queue));
    } else {
      // Split so every batch is one a peer with the default limits accepts.
      let start = 0;
      while (start < queue.length) {
        let end = start;
        let size = 0;
        while (end < queue.length && end - start < maxFramesPerBatch && (end === start || size + queue[end]!.length <= maxMessageBytes)) {
          size += queue[end]!.length;
          end++;
        }
        this.ws.send(joinFrames(queue.slice(start, end)), { binary: true });
        start = end;
      }
    }
    this.unsentAtFlush = this.ws.bufferedAmount;
    if (this.unsentAtFlush > this.ctx.limits.maxBufferedBytes) this.closeSlowConsumer(this.unsentAtFlush);
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions

  addSubscription(subId: number, routePattern: string): void {
    const refs = this.patternRefs.get(routePattern) ?? 0;
    if (refs === 0) this.ctx.state.router.subscribe(routePattern, this.id);
    this.patternRefs.set(routePattern, refs + 1);
    this.subs.set(subId, routePattern);
  }

  removeSubscription(subId: number): boolean {
    const routePattern = this.subs.get(subId);
    if (routePattern === undefined) return false;
    this.subs.delete(subId);
    const refs = (this.patternRefs.get(routePattern) ?? 1) - 1;
    if (refs === 0) {
      this.patternRefs.delete(routePattern);
      this.ctx.state.router.unsubscribe(routePattern, this.id);
    } else this.patternRefs.set(routePattern, refs);
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Forgets the connection: router entries, outlet. Idempotent. */
  dispose(): void {
    if (this.forget()) this.unroute();
  }

  /** All of dispose but the router entries; false when the connection was already closed. */
  private forget(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.queue = [];
    this.sealed = [];
    this.queuedBytes = 0;
    this.openBytes = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.ctx.state.removeOutlet(this);
    this.ctx.connections.delete(this.id);
    return true;
  }

  private unroute(): void {
    for (const routePattern of this.patternRefs.keys()) {
      try {
        this.ctx.state.router.unsubscribe(routePattern, this.id);
      } catch {
        // the core is gone (hub closing): nothing to undo
      }
    }
    this.patternRefs.clear();
    this.subs.clear();
  }
}
