// A fresh LocalBus for each test of an SDK suite, and a recorder of the aggregate events it delivers.
import { afterEach, beforeEach, vi } from "vitest";
import { LocalBus, type ChannelEvent } from "../../bindings/index.js";

/** An aggregate event, stamped with the (possibly fake) time it arrived. */
export type AggregateEvent = Extract<ChannelEvent, { type: "aggregate" }> & { at: number };

export interface TestBus {
  /** The current test's bus's agent `id`. */
  agent(id: string): ReturnType<LocalBus["agent"]>;
  /** Every aggregate event of `agentId`'s `channel` from now on, seen by a watcher agent. */
  aggregates(agentId: string, channel: string): AggregateEvent[];
}

/**
 * Registers hooks giving each test of the calling suite a new LocalBus, closed after the test
 * (with real timers restored first, so a test may switch to fake ones).
 */
export function localBusPerTest(): TestBus {
  let bus: LocalBus;
  beforeEach(async () => {
    bus = await LocalBus.create();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await bus.close();
  });
  return {
    agent: (id) => bus.agent(id),
    aggregates(agentId, channel) {
      const list: AggregateEvent[] = [];
      bus.agent(`w-${agentId}`).subscribe(
        channel,
        (e) => {
          if (e.type === "aggregate") list.push({ ...e, at: Date.now() });
        },
        { agentId },
      );
      return list;
    },
  };
}

/**
 * Registers a hook closing, after each test of the calling suite, every LocalBus made by the
 * returned function during it (for suites that need several buses in one test).
 */
export function busesClosedAfterEach(): () => LocalBus {
  const buses: LocalBus[] = [];
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });
  return () => {
    const bus = new LocalBus();
    buses.push(bus);
    return bus;
  };
}
