// What the UI and alerts layers need from an Agent, as a structural type: any Agent (LocalBus or
// a remote session) satisfies it, and this layer depends on no concrete transport.
import type { ChannelEvent, Json } from "../session.js";

export interface AgentLike {
  readonly id: string;
  publish(channel: string, data: Json, options?: { log?: boolean; replace?: boolean; replaceKeys?: string[] }): Promise<unknown>;
  createMessage(channel: string, data: Json): Promise<unknown>;
  /** The aggregate, or `{}` for a channel that has none yet. */
  getAggregate(channel: string): Promise<Json>;
  /** Subscribes to one of the agent's own channels; returns (or resolves to) the unsubscribe function. */
  subscribe(channel: string, handler: (event: ChannelEvent) => void): (() => void) | Promise<() => void>;
  /** Where the agent sends failures nobody can catch (the SDK's Agent has it). */
  reportError?(error: unknown, context: string): void;
}
