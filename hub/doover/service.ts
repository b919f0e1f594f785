// Doover's channel operations over a tagwire hub, shared by the Data API (http.ts) and the
// Device Agent (grpc.ts): snowflake message ids, Doover's aggregate write options, and the
// JSON shapes pydoover's models read (pydoover/models/data/*.py).
import { TagwireError } from "../../bindings/core/errors.js";
import { applyDiff } from "../../bindings/sdk/json.js";
import type { Json } from "../../bindings/sdk/session.js";
import { LIMITS } from "../../bindings/protocol/frames.js";
import { dooverAgentId, resolveAgent } from "./agents.js";
import type { HubPort, PortMessage } from "./port.js";
import { messageSnowflake, SnowflakeAllocator, SnowflakeType, snowflakeTime } from "./snowflake.js";

export interface DooverAggregate {
  data: Record<string, unknown>;
  attachments: never[];
  /** ms since the Unix epoch; null when this process has not seen the channel change. */
  last_updated: number | null;
}

export interface DooverMessage {
  id: bigint;
  author_id: bigint;
  channel: { agent_id: bigint; name: string };
  data: unknown;
  attachments: never[];
}

export interface DooverChannel {
  name: string;
  owner_id: bigint;
  is_private: boolean;
  aggregate_schema: unknown;
  message_schema: unknown;
  alarms_enabled: boolean;
  aggregate?: DooverAggregate;
}

export interface AggregateWrite {
  replace?: boolean;
  /** Doover's `replace` paths: dotted ("state.children.app") or top-level keys. */
  replaceKeys?: string[];
  log?: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `{a: {b: {c: null}}}` for "a.b.c": the merge patch that deletes that path. */
function deletionPatch(paths: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const path of paths) {
    const keys = path.split(".");
    let node = root;
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i]!;
      const next = node[k];
      if (next === null) break; // a shorter path already deletes this subtree
      node = isPlainObject(next) ? next : ((node[k] = {}) as Record<string, unknown>);
    }
    node[keys[keys.length - 1]!] = null;
  }
  return root;
}

export class DooverService {
  private readonly ids = new SnowflakeAllocator();
  /** When this process saw each channel's aggregate change (Doover's `last_updated`). */
  private readonly lastUpdatedMs = new Map<string, number>();

  constructor(readonly port: HubPort) {}

  /** The tagwire agent id a request names (its own id, or the Doover integer of a known agent). */
  agent(segment: string): string {
    return resolveAgent(segment, () => this.port.agents());
  }

  touched(agentId: string, channel: string, ms = Date.now()): void {
    this.lastUpdatedMs.set(`${agentId}/${channel}`, ms);
  }

  lastUpdated(agentId: string, channel: string): number | null {
    return this.lastUpdatedMs.get(`${agentId}/${channel}`) ?? null;
  }

  exists(agentId: string, channel: string): boolean {
    return this.port.channel(agentId, channel) !== undefined;
  }

  notFound(agentId: string, channel: string): TagwireError {
    return new TagwireError("TAGWIRE_ERR_NOT_FOUND", `channel ${agentId}/${channel} does not exist`);
  }

  aggregate(agentId: string, channel: string): DooverAggregate {
    const { data } = this.port.aggregate(agentId, channel);
    return { data, attachments: [], last_updated: this.lastUpdated(agentId, channel) };
  }

  channel(agentId: string, name: string, includeAggregate: boolean): DooverChannel {
    const out: DooverChannel = {
      name,
      owner_id: dooverAgentId(agentId),
      is_private: false,
      aggregate_schema: null,
      message_schema: null,
      alarms_enabled: false,
    };
    if (includeAggregate) out.aggregate = this.aggregate(agentId, name);
    return out;
  }

  /** Doover's channel id: stable per channel (its storage row), typed "channel". */
  channelId(agentId: string, name: string): bigint {
    const ch = this.port.channel(agentId, name);
    return (BigInt(ch?.rowId ?? 0) << 8n) | BigInt(SnowflakeType.channel << 4);
  }

  /** Creates the channel with an empty aggregate if it does not exist. */
  async ensureChannel(agentId: string, name: string): Promise<void> {
    if (this.exists(agentId, name)) return;
    await this.port.publish(agentId, name, {});
  }

  /**
   * Merges (or replaces) `data` into the aggregate with Doover's options. Dotted replace paths
   * become a deletion patch applied first, in the same tick (one commit, events in order).
   */
  async writeAggregate(agentId: string, channel: string, data: unknown, options: AggregateWrite, author?: string): Promise<void> {
    if (!isPlainObject(data)) throw new TagwireError("TAGWIRE_ERR_PAYLOAD", "aggregate data must be a JSON object");
    const keys = options.replaceKeys ?? [];
    const dotted = keys.filter((k) => k.includes("."));
    const top = keys.filter((k) => !k.includes(".") && k !== "");
    if (keys.length > 64) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "at most 64 replace keys");
    const writes: Promise<unknown>[] = [];
    if (dotted.length && !options.replace) writes.push(this.port.publish(agentId, channel, deletionPatch(dotted), {}, author));
    writes.push(
      this.port.publish(
        agentId,
        channel,
        data,
        {
          ...(options.replace ? { replace: true } : {}),
          ...(top.length && !options.replace ? { replaceKeys: top } : {}),
          ...(options.log ? { log: true } : {}),
        },
        author,
      ),
    );
    await Promise.all(writes);
    this.touched(agentId, channel);
  }

  /** A new message; `id` given = idempotent create under that snowflake. */
  async createMessage(
    agentId: string,
    channel: string,
    data: unknown,
    options: { ts?: number; id?: bigint; author: string },
  ): Promise<DooverMessage> {
    const id = options.id ?? this.ids.next(options.ts ?? Date.now());
    const m = await this.port.createMessage(agentId, channel, data, id.toString(), options.author);
    return this.message(agentId, channel, m, options.author);
  }

  message(agentId: string, channel: string, m: PortMessage, author?: string): DooverMessage {
    return {
      id: messageSnowflake(m.id, m.ts),
      // tagwire stores no author per message: the writer when we know it, else the channel's agent.
      author_id: dooverAgentId(author ?? agentId),
      channel: { agent_id: dooverAgentId(agentId), name: channel },
      data: m.data,
      attachments: [],
    };
  }

  /** Listeners of message updates (the Device Agent's event streams). */
  readonly onMessageUpdate = new Set<
    (agentId: string, channel: string, message: DooverMessage, request: unknown, author: string) => void
  >();

  /**
   * Doover's message update: merges `data` into the message (or replaces it). The id and time
   * stay; tagwire's own clients see the new data when they read the log again.
   */
  async updateMessage(
    agentId: string,
    channel: string,
    id: bigint,
    data: unknown,
    options: { replace?: boolean; author: string },
  ): Promise<DooverMessage> {
    const found = await this.findMessage(agentId, channel, id);
    if (!found) throw new TagwireError("TAGWIRE_ERR_NOT_FOUND", `no message ${id} in ${agentId}/${channel}`);
    if (!isPlainObject(data)) throw new TagwireError("TAGWIRE_ERR_PAYLOAD", "message data must be a JSON object");
    const next = options.replace ? data : applyDiff(found.data as Json, data as Json);
    await this.port.updateMessage(agentId, channel, found.id, next);
    const out = this.message(agentId, channel, { ...found, data: next });
    for (const fn of this.onMessageUpdate) fn(agentId, channel, out, data, options.author);
    return out;
  }

  /** The message with this Doover id, or undefined. */
  async findMessage(agentId: string, channel: string, id: bigint): Promise<PortMessage | undefined> {
    const direct = this.port.messageById(agentId, channel, id.toString());
    if (direct) return direct;
    // A message written natively: its id was derived from its time; look in that millisecond.
    const ms = snowflakeTime(id);
    for (const m of await this.port.messages(agentId, channel, ms + 1, ms - 1, LIMITS.maxMessageLimit)) {
      if (messageSnowflake(m.id, m.ts) === id) return m;
    }
    return undefined;
  }

  /**
   * pydoover's multi-agent listing: messages of several agents' channel with after < id < before,
   * OLDEST first (its iterator pages forward from `after`), at most `perAgent` per agent and
   * `limit` in all. The hub reads at most 1000 per agent and window (Doover caps a window at two
   * days).
   */
  async listMultiAgent(
    agents: string[],
    channel: string,
    before: bigint | undefined,
    after: bigint | undefined,
    limit: number,
    perAgent: number,
    fields?: string[],
  ): Promise<DooverMessage[]> {
    const all: DooverMessage[] = [];
    for (const agent of agents) {
      const rows = await this.listMessages(agent, channel, before, after, LIMITS.maxMessageLimit, fields);
      // rows are newest first: the oldest `perAgent` are at the end.
      all.push(...rows.slice(Math.max(0, rows.length - perAgent)));
    }
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all.slice(0, limit);
  }

  /**
   * Messages with after < id < before (snowflakes), newest first as Doover answers. The hub
   * filters on its stored time (the snowflake's top bits), then on the exact ids.
   */
  async listMessages(
    agentId: string,
    channel: string,
    before: bigint | undefined,
    after: bigint | undefined,
    limit: number,
    fields?: string[],
  ): Promise<DooverMessage[]> {
    const beforeMs = before === undefined ? undefined : snowflakeTime(before) + 1;
    const afterMs = after === undefined ? undefined : snowflakeTime(after) - 1;
    // Ids within one millisecond are filtered here, so ask for a few more than the limit.
    const rows = await this.port.messages(agentId, channel, beforeMs, afterMs, Math.min(limit + 16, LIMITS.maxMessageLimit));
    const out: DooverMessage[] = [];
    for (let i = rows.length - 1; i >= 0 && out.length < limit; i--) {
      const m = this.message(agentId, channel, rows[i]!);
      if (before !== undefined && m.id >= before) continue;
      if (after !== undefined && m.id <= after) continue;
      if (fields?.length && isPlainObject(m.data)) {
        const picked: Record<string, unknown> = {};
        for (const f of fields) if (f in m.data) picked[f] = m.data[f];
        m.data = picked;
      }
      out.push(m);
    }
    return out;
  }
}
