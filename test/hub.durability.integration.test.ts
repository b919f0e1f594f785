// kill -9 of a real hub process during acknowledged writes: after each kill, every write that was
// acknowledged is in storage (messages, checked in the SQLite file) and in the restarted hub
// (aggregates and versions, checked over the protocol). Several rounds, killed at seeded random
// moments, alternating synchronous=full and normal (both must survive a process kill).
import { expect, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createToken } from "../hub/auth.js";
import { decodeIds } from "../hub/storage/segment.js";
import { RawClient, cliPerFile, val } from "./hub-helpers.js";
import { testSeed, xorshift32 } from "./support/seed.js";

const SECRET = "durability-secret";
const WRITERS = ["dev-a", "dev-b", "dev-c"];
const IN_FLIGHT = 16;
const ROUNDS = 4;

const rand = xorshift32(testSeed("hub.durability"));

const tagwire = cliPerFile();

function startChild(sync: "full" | "normal"): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [tagwire.cli, "hub", "--port", "0", "--host", "127.0.0.1", "--data-dir", tagwire.dataDir, "--sync", sync, "--frames-per-second", "0"],
    {
      env: { ...process.env, TAGWIRE_SECRET: SECRET },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${err}`)), 15_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const m = /listening on (ws:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.once("exit", (code) => reject(new Error(`hub exited (${code}): ${err}`)));
  });
}

/** The state a writer's channel has after its writes 1..n (each write sets seq and one of 5 keys). */
function expectedAggregate(n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 1; i <= n; i++) out[`k${i % 5}`] = i;
  if (n > 0) out.seq = n;
  return out;
}

interface WriterState {
  next: number;
  maxAcked: number;
  ackedIds: Set<string>;
}

async function writeUntilClosed(url: string, agent: string, st: WriterState): Promise<void> {
  const c = await RawClient.connect(url, agent, createToken(SECRET, { agentId: agent, role: "device" }));
  await new Promise<void>((done) => {
    let inFlight = 0;
    let dead = false;
    const pump = () => {
      while (!dead && inFlight < IN_FLIGHT) {
        const n = st.next++;
        inFlight++;
        const diff = { seq: n, [`k${n % 5}`]: n };
        c.publish(agent, "state", diff, { log: true, messageId: `${agent}-${n}` }).then(
          (ack) => {
            inFlight--;
            // Acks of one connection come back in order, and every write changes seq.
            expect(ack.version).toBe(n);
            expect(ack.message.id).toBe(`${agent}-${n}`);
            st.maxAcked = Math.max(st.maxAcked, n);
            st.ackedIds.add(`${agent}-${n}`);
            pump();
          },
          () => {
            inFlight--;
            dead = true;
            if (inFlight === 0) done();
          },
        );
      }
    };
    pump();
  });
}

test("every acknowledged write survives kill -9 of the hub at a random moment", async () => {
  const require = createRequire(import.meta.url);
  const Database = require("better-sqlite3");
  const states = new Map<string, WriterState>(WRITERS.map((w) => [w, { next: 1, maxAcked: 0, ackedIds: new Set() }]));
  for (let round = 0; round < ROUNDS; round++) {
    const sync = round % 2 === 0 ? "full" : "normal";
    const { child, url } = await startChild(sync);
    const exited = new Promise((r) => child.once("exit", r));

    if (round > 0) {
      // After the previous kill: every acknowledged aggregate change is there, exactly.
      const reader = await RawClient.connect(url, "auditor", createToken(SECRET, { agentId: "auditor", role: "viewer" }));
      for (const [agent, st] of states) {
        const agg = await reader.request({ type: "getAggregate", reqId: 0, agentId: agent, channel: "state" });
        const stored = (val(agg.aggregate) as { seq?: number }).seq ?? 0;
        expect(stored, `${agent} round ${round}`).toBeGreaterThanOrEqual(st.maxAcked);
        // a write may have been committed without its ack getting out: never fewer, maybe more
        expect(val(agg.aggregate)).toEqual(expectedAggregate(stored));
        expect(agg.version).toBe(stored);
        st.next = stored + 1;
        st.maxAcked = stored;
      }
      await reader.close();
    }

    const writing = WRITERS.map((w) => writeUntilClosed(url, w, states.get(w)!));
    const delay = 300 + Math.floor(rand() * 1200);
    await new Promise((r) => setTimeout(r, delay));
    child.kill("SIGKILL");
    await exited;
    await Promise.all(writing);
    const acked = [...states.values()].reduce((n, s) => n + s.maxAcked, 0);
    console.log(
      `round ${round} (synchronous=${sync}): killed after ${delay} ms; highest acked seqs ${[...states.values()].map((s) => s.maxAcked).join(", ")} (total ${acked})`,
    );

    // Messages: every acknowledged id is in the database file (a tick's messages of a channel
    // are one segment row: hub/storage/message-log.ts).
    const db = new Database(join(tagwire.dataDir, "tagwire.db"));
    const ids = new Set<string>(
      db
        .prepare("SELECT n, payload FROM segments")
        .all()
        .flatMap((r: { n: number; payload: Uint8Array }) => decodeIds(r.payload, r.n)),
    );
    db.close();
    for (const st of states.values()) {
      for (const id of st.ackedIds) expect(ids.has(id), `message ${id}`).toBe(true);
      st.ackedIds.clear();
    }
  }
  // The rounds did real work.
  for (const st of states.values()) expect(st.maxAcked).toBeGreaterThan(ROUNDS * 5);
}, 60_000);
