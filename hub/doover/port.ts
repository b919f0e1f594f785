// Everything the Doover-compatible surfaces (Data API, Device Agent) need from the hub, in one
// place: when the hub's internals move, this file changes and nothing else under hub/doover/.
import { TagwireError, type TagwireErrorCode } from "../../bindings/core/errors.js";
import { decodeValue, encodeValue } from "../../bindings/protocol/msgpack.js";
import type { HubContext } from "../context.js";
import { DooverHttpError } from "./errors.js";

export interface PortMessage {
  /** tagwire message id */
  id: string;
  /** hub arrival time, ms */
  ts: number;
  data: unknown;
}

export interface ChannelInfo {
  agentId: string;
  name: string;
  /** storage row id (stable) */
  rowId: number;
  version: number;
}

export type PortEvent =
  | { kind: "aggregate"; agentId: string; channel: string; version: number; diff: unknown }
  | { kind: "message"; agentId: string; channel: string; id: string; ts: number; data: unknown };

/** Outlet ids for the Device Agent's streams, far from the WebSocket connections' (1 upward). */
let nextOutletId = 0xfff00000;

export class HubPort {
  constructor(readonly ctx: HubContext) {}

  get state() {
    return this.ctx.state;
  }

  checkAddress(agentId: string, channel: string): void {
    this.state.checkAddress(agentId, channel);
  }

  channel(agentId: string, name: string): ChannelInfo | undefined {
    const ch = this.state.channel(agentId, name);
    return ch ? { agentId, name, rowId: ch.id, version: ch.version } : undefined;
  }

  channelNames(agentId: string): string[] {
    return this.state.channelNames(agentId);
  }

  /** Every agent id with at least one channel. */
  *agents(): Iterable<string> {
    const seen = new Set<string>();
    for (const ch of this.state.matching("+", "#")) {
      if (seen.has(ch.agentId)) continue;
      seen.add(ch.agentId);
      yield ch.agentId;
    }
  }

  /** The aggregate as a JS value (`{}` for a channel that has none yet). */
  aggregate(agentId: string, name: string): { version: number; data: Record<string, unknown> } {
    const { version, aggregate } = this.state.aggregate(agentId, name);
    return { version, data: decodeValue(aggregate) as Record<string, unknown> };
  }

  /** Merge (or replace) into the aggregate; resolves once the write is durable. */
  async publish(
    agentId: string,
    name: string,
    data: unknown,
    options: { replace?: boolean; replaceKeys?: string[]; log?: boolean; messageId?: string } = {},
    author?: string,
  ): Promise<{ version: number; diff: unknown; message?: { id: string; ts: number } }> {
    const out = await this.state.publishDurably(agentId, name, encodeValue(data), options, author);
    return {
      version: out.version,
      diff: decodeValue(out.diff),
      ...(out.message ? { message: { id: out.message.id, ts: out.message.ts } } : {}),
    };
  }

  /** Appends a message (idempotent on `messageId`); resolves once it is durable. */
  async createMessage(agentId: string, name: string, data: unknown, messageId?: string, author?: string): Promise<PortMessage> {
    const m = await this.state.createMessageDurably(agentId, name, encodeValue(data), messageId, author);
    return { id: m.id, ts: m.ts, data: decodeValue(m.data) };
  }

  /** Messages with after < ts < before, the newest `limit`, oldest first. */
  async messages(
    agentId: string,
    name: string,
    before: number | undefined,
    after: number | undefined,
    limit: number,
  ): Promise<PortMessage[]> {
    const rows = await this.state.messages(agentId, name, before, after, limit);
    return rows.map((m) => ({ id: m.id, ts: m.ts, data: decodeValue(m.data) }));
  }

  messageById(agentId: string, name: string, id: string): PortMessage | undefined {
    const ch = this.state.channel(agentId, name);
    if (!ch) return undefined;
    const m = this.state.storage.findMessage(ch.id, id);
    return m ? { id: m.id, ts: m.ts, data: decodeValue(m.data) } : undefined;
  }

  /**
   * Replaces a stored message's data (Doover's message update; tagwire's own protocol has no
   * such event, so only the Doover surfaces hear of it). Resolves after the commit.
   */
  async updateMessage(agentId: string, name: string, id: string, data: unknown): Promise<boolean> {
    const ch = this.state.channel(agentId, name);
    if (!ch) return false;
    const bytes = encodeValue(data);
    if (bytes.length > this.ctx.limits.maxPayloadBytes) {
      throw new TagwireError("TAGWIRE_ERR_SIZE", `message of ${bytes.length} bytes (limit ${this.ctx.limits.maxPayloadBytes})`);
    }
    const storage = this.state.storage;
    // Only a storage that keeps history in place can edit it (SQLite); a log cannot.
    if (!storage.updateMessageData) {
      throw new DooverHttpError(
        501,
        "TAGWIRE_ERR_UNSUPPORTED",
        `message updates: the ${storage.kind} storage keeps messages in an append-only log`,
      );
    }
    const changed = storage.updateMessageData(ch.id, id, bytes);
    await this.committed();
    return changed;
  }

  /**
   * Calls `listener` with every change of the channels `routePattern` matches, after each
   * commit, in order. Returns the unsubscribe function.
   */
  subscribe(routePattern: string, listener: (events: PortEvent[]) => void): () => void {
    const state = this.state;
    const id = nextOutletId++;
    if (nextOutletId > 0xfffffffe) nextOutletId = 0xfff00000;
    let queue: PortEvent[] = [];
    let sealed: PortEvent[][] = [];
    const outlet = {
      id,
      enqueue(frame: Uint8Array) {
        const f = decodeValue(frame) as unknown[];
        if (f[0] === 19) {
          queue.push({
            kind: "aggregate",
            agentId: f[1] as string,
            channel: f[2] as string,
            version: f[3] as number,
            diff: decodeValue(f[4] as Uint8Array),
          });
        } else if (f[0] === 20) {
          queue.push({
            kind: "message",
            agentId: f[1] as string,
            channel: f[2] as string,
            id: f[3] as string,
            ts: f[4] as number,
            data: decodeValue(f[5] as Uint8Array),
          });
        }
        state.markPending(outlet);
      },
      seal() {
        if (!queue.length) return false;
        sealed.push(queue);
        queue = [];
        return true;
      },
      // Events leave once their commit is durable (hub/tick.ts), oldest group first.
      release() {
        const events = sealed.shift();
        if (events?.length) listener(events);
      },
    };
    state.addOutlet(outlet);
    state.router.subscribe(routePattern, id);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      queue = [];
      sealed = [];
      try {
        state.router.unsubscribe(routePattern, id);
      } catch {
        // the core is gone (hub closing)
      }
      state.removeOutlet(outlet);
    };
  }

  committed(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.state.whenCommitted((error) =>
        error ? reject(new TagwireError("TAGWIRE_ERR_INTERNAL" as TagwireErrorCode, `storage failed: ${error.message}`)) : resolve(),
      ),
    );
  }
}
