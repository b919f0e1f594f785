// One channel as the hub holds it: where it lives in the core (store slot, router id), its
// storage id, version and message count. Created only by the registry (hub/registry.ts).
import { eventPrefix } from "../bindings/protocol/frames.js";

/** msgpack of `{}`: the aggregate of a channel nobody published to, and the "nothing changed" diff. */
export const EMPTY_DOC: Uint8Array = new Uint8Array([0x80]);

export class Channel {
  /** The storage's id for the channel (StoredChannel.id). */
  readonly id: number;
  readonly agentId: string;
  readonly name: string;
  /** Routing key `${agentId}/${name}`. */
  readonly key: string;
  /** Slot in the core's ChannelStore (the aggregate). */
  readonly slot: number;
  /** Interned id in the core router (fast matching). */
  readonly routeId: number;
  /** Hub version: +1 per effective change, persisted. 0 = never published to. */
  version: number;
  messageCount: number;
  /** Changed in this tick: its aggregate is saved at the tick's commit (hub/tick.ts). */
  dirty = false;
  private aggregatePrefix: Uint8Array | undefined;
  private messagePrefix: Uint8Array | undefined;

  constructor(id: number, agentId: string, name: string, slot: number, routeId: number, version: number, messageCount: number) {
    this.id = id;
    this.agentId = agentId;
    this.name = name;
    this.key = `${agentId}/${name}`;
    this.slot = slot;
    this.routeId = routeId;
    this.version = version;
    this.messageCount = messageCount;
  }

  /** Constant head of this channel's aggregate events (built on first use). */
  get aggregateEventPrefix(): Uint8Array {
    return (this.aggregatePrefix ??= eventPrefix(19, this.agentId, this.name));
  }

  get messageEventPrefix(): Uint8Array {
    return (this.messagePrefix ??= eventPrefix(20, this.agentId, this.name));
  }
}
