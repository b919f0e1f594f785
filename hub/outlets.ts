// Where the hub's frames go: the open WebSocket connections by id, and fan-out to the ones the
// core router says are subscribed to a channel. Frames are only queued here; the tick writes
// them once their commit is durable (hub/tick.ts).
import type { Router } from "../bindings/core/router.js";
import type { Channel } from "./channel.js";

/** A queue of frames for one peer (a WebSocket connection, see connection.ts). */
export interface Outlet {
  readonly id: number;
  /** Queues one encoded frame for the next commit group. */
  enqueue(frame: Uint8Array): void;
  /**
   * Called by the tick at a commit: sets aside what is queued (and a pending close) as this
   * outlet's part of the commit group. False when there is nothing to set aside (then the group
   * does not call `release` for it).
   */
  seal(): boolean;
  /** Writes the oldest sealed part (called by the tick once its commit is durable, in order). */
  release(): void;
}

export class Outlets {
  private readonly router: Router;
  private readonly byId = new Map<number, Outlet>();

  constructor(router: Router) {
    this.router = router;
  }

  add(outlet: Outlet): void {
    this.byId.set(outlet.id, outlet);
  }

  remove(outlet: Outlet): void {
    this.byId.delete(outlet.id);
  }

  /**
   * The ids of the connections subscribed to the channel (once per connection), for `enqueueTo`:
   * asked before an event is encoded, so a channel nobody watches costs no frame. A view of core
   * memory: read it before the next core call (encoding a frame makes none).
   */
  subscribers(ch: Channel): Uint32Array {
    return this.router.matchId(ch.routeId);
  }

  /**
   * Queues `frame` for the connections whose ids are `ids[from..to)`. The ids live in core
   * memory: they are read fully before the next core call (enqueue makes none).
   */
  enqueueTo(ids: Uint32Array, from: number, to: number, frame: Uint8Array): void {
    for (let i = from; i < to; i++) this.byId.get(ids[i]!)?.enqueue(frame);
  }
}
