// Connection lifecycle and keepalive alone, over the in-process transport: one transport per
// attempt, the hello timeout, retries with backoff, events of old attempts ignored, stop; pings
// that go unanswered declare the connection dead.
import { afterEach, describe, expect, it } from "vitest";
import { Connection } from "../bindings/client/lifecycle.js";
import { Keepalive } from "../bindings/client/keepalive.js";
import { Backoff } from "../bindings/client/backoff.js";
import { connectMemory, createMemoryPair, listenMemory, type Transport, type TransportStateChange } from "../bindings/transports/index.js";
import { until } from "./fixtures/client-peer.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

let names = 0;
function endpoint(): { url: string; accepted: Transport[] } {
  const name = `lifecycle-${process.pid}-${++names}`;
  const accepted: Transport[] = [];
  cleanup.push(listenMemory(name, (t) => accepted.push(t)));
  return { url: `memory://${name}`, accepted };
}

function recorder(options: { transport: () => Transport; helloTimeoutMs?: number }) {
  const log: string[] = [];
  const opened: Transport[] = [];
  const frames: string[] = [];
  const conn: Connection = new Connection({
    transport: options.transport,
    backoff: new Backoff({ initialMs: 10, maxMs: 20, random: () => 0.5 }),
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    hooks: {
      opened: (t) => {
        opened.push(t);
        log.push(`open ${conn.gen}`);
      },
      frame: (bytes) => frames.push(new TextDecoder().decode(bytes)),
      lost: (change: TransportStateChange) => {
        log.push(`lost ${conn.gen}: ${change.reason}`);
        conn.retry();
      },
    },
  });
  cleanup.push(() => conn.stop()?.close());
  return { conn, log, opened, frames };
}

describe("connection lifecycle", () => {
  it("drops an attempt whose hello is not answered in time, and retries with a new transport", async () => {
    const ep = endpoint();
    const { conn, log, opened } = recorder({ transport: () => connectMemory(ep.url), helloTimeoutMs: 40 });
    conn.attempt();
    await until(() => opened.length === 2, 2_000);
    expect(ep.accepted.length).toBe(2);
    expect(log.slice(0, 3)).toEqual(["open 1", "lost 1: no hello reply in 40 ms", "open 2"]);
    // Established in time: no drop.
    conn.established();
    await new Promise((r) => setTimeout(r, 80));
    expect(opened.length).toBe(2);
    expect(opened[1]!.state).toBe("open");
  });

  it("ignores frames and closes of an older attempt", async () => {
    const ep = endpoint();
    const { conn, log, opened, frames } = recorder({ transport: () => connectMemory(ep.url) });
    conn.attempt();
    await until(() => opened.length === 1);
    conn.established();
    const oldServer = ep.accepted[0]!;
    oldServer.send(new TextEncoder().encode("from 1"));
    await until(() => frames.length === 1);
    // A second attempt while the first transport lives on (as after a stop/start race).
    conn.attempt();
    await until(() => opened.length === 2);
    oldServer.send(new TextEncoder().encode("late from 1"));
    ep.accepted[1]!.send(new TextEncoder().encode("from 2"));
    oldServer.close("old one ends");
    await until(() => frames.length === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(frames).toEqual(["from 1", "from 2"]);
    expect(log).toEqual(["open 1", "open 2"]);
  });

  it("treats a factory that throws as a lost attempt and keeps retrying; stop ends it", async () => {
    const ep = endpoint();
    let calls = 0;
    const { conn, log, opened } = recorder({
      transport: () => {
        if (++calls < 3) throw new Error(`boom ${calls}`);
        return connectMemory(ep.url);
      },
    });
    conn.attempt();
    await until(() => opened.length === 1);
    expect(log).toEqual(["lost 1: cannot create a transport: boom 1", "lost 2: cannot create a transport: boom 2", "open 3"]);
    const t = conn.stop();
    expect(t).toBe(opened[0]);
    t!.close("stopped");
    await new Promise((r) => setTimeout(r, 40));
    expect(log.length).toBe(3); // no lost after stop, no new attempt
    expect(calls).toBe(3);
  });

  it("retries an unreachable endpoint with growing delays", async () => {
    const { conn, log } = recorder({ transport: () => connectMemory("memory://nobody-here") });
    const start = Date.now();
    conn.attempt();
    await until(() => log.length >= 3);
    // Delays of 7.5, 15, 15 ms (equal jitter, random 0.5): at least ~20 ms for three attempts.
    expect(Date.now() - start).toBeGreaterThanOrEqual(20);
    expect(log[0]).toMatch(/^lost 1: no memory endpoint/);
  });
});

describe("keepalive", () => {
  /** A pair where the far end echoes pings while `answering`. */
  async function pingPair() {
    const [near, far] = createMemoryPair();
    cleanup.push(() => near.close());
    await until(() => near.state === "open");
    const state = { answering: true, pings: 0 };
    far.onFrame((f) => {
      state.pings++;
      if (state.answering) far.send(f);
    });
    let waiting: (() => void) | undefined;
    near.onFrame(() => waiting?.());
    const ping = () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        near.send(new Uint8Array([1]));
      });
    return { near, state, ping };
  }

  it("pings on its interval and stays quiet while answered", async () => {
    const { state, ping } = await pingPair();
    const dead: string[] = [];
    const k = new Keepalive({ intervalMs: 15, timeoutMs: 30, ping, dead: (r) => dead.push(r) });
    cleanup.push(() => k.stop());
    k.start();
    await until(() => state.pings >= 4);
    expect(dead).toEqual([]);
  });

  it("declares the connection dead when a ping goes unanswered, and stop forgets pending pings", async () => {
    const { state, ping } = await pingPair();
    const dead: string[] = [];
    const k = new Keepalive({ intervalMs: 15, timeoutMs: 30, ping, dead: (r) => dead.push(r) });
    cleanup.push(() => k.stop());
    k.start();
    await until(() => state.pings >= 1);
    state.answering = false;
    await until(() => dead.length >= 1);
    expect(dead[0]).toBe("ping unanswered for 30 ms");
    k.stop();
    const n = dead.length;
    const pings = state.pings;
    await new Promise((r) => setTimeout(r, 60));
    expect(dead.length).toBe(n);
    expect(state.pings).toBe(pings);
  });

  it("does nothing with an interval of 0", async () => {
    const { state, ping } = await pingPair();
    const k = new Keepalive({ intervalMs: 0, timeoutMs: 10, ping, dead: () => {} });
    k.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(state.pings).toBe(0);
  });
});
