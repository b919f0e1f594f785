// A private NATS JetStream cluster for tests: N `nats-server` processes (Debian's
// /usr/sbin/nats-server, 2.9.x) on free loopback ports, each with its own temp store dir. Nodes are
// started, killed (-9) and restarted by PID; `stop()` ends every process it started and removes
// the store dirs. It never touches the shared server on 4222: every port is picked free here.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export interface NatsNode {
  readonly name: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  readonly url: string;
  /** PID of the running process, undefined while the node is down. */
  pid: number | undefined;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** Every node's client URL, comma-separated (what `--nats` takes). */
  readonly urls: string;
  /** kill -9 of one node (by PID). */
  kill(index: number): Promise<void>;
  /** Starts a killed node again with its ports and store dir; resolves when it serves clients. */
  restart(index: number): Promise<void>;
  /** Resolves when JetStream has a meta leader and every running node reports JetStream. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Kills every process started here (by PID) and removes the store dirs. Idempotent. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago (listen on 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
let exitHook = false;
/** A test process that dies (or forgets teardown) must not leave servers running. */
function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const p of live)
      if (p.pid !== undefined)
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
  });
}

async function fetchJson(url: string): Promise<any> {
  const res = await fetch(url);
  return res.json();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the cluster. Ports are probed free and then handed to nats-server, so another process
 * may take one in between: a start that fails is retried with fresh ports (three attempts).
 */
export async function startNatsCluster(options: { size?: number; name?: string } = {}): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOnce(options: { size?: number; name?: string }): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = options.name ?? `tw${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const root = mkdtempSync(join(tmpdir(), "tagwire-nats-"));
  killAllOnExit();
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freePort();
    const clusterPort = await freePort();
    const monitorPort = await freePort();
    nodes.push({ name: `n${i}`, clientPort, clusterPort, monitorPort, url: `nats://127.0.0.1:${clientPort}`, pid: undefined });
  }
  const procs: (ChildProcess | undefined)[] = new Array(size);
  const routes = nodes.map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  const confs = nodes.map((n, i) => {
    const storeDir = join(root, n.name);
    const conf = join(root, `${n.name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${n.name}`,
        `listen: 127.0.0.1:${n.clientPort}`,
        `http: 127.0.0.1:${n.monitorPort}`,
        `jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 1GB }`,
        // no_advertise: clients know only the URLs they were given (a test can cut a hub off by
        // relaying its only URL; it must not find the other nodes by itself).
        `cluster { name: ${clusterName}, listen: 127.0.0.1:${n.clusterPort}, no_advertise: true, routes: [${routes.filter((_, j) => j !== i).join(", ")}] }`,
        "",
      ].join("\n"),
    );
    return conf;
  });

  const launch = (i: number) => {
    const p = spawn(NATS_SERVER_BIN, ["-c", confs[i]!], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    p.once("exit", () => live.delete(p));
    (p as ChildProcess & { lastStderr(): string }).lastStderr = () => stderr;
    live.add(p);
    procs[i] = p;
    nodes[i]!.pid = p.pid;
  };

  const waitServing = async (i: number, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${nodes[i]!.monitorPort}/healthz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      const p = procs[i];
      if (!p || p.exitCode !== null) throw new Error(`nats-server ${nodes[i]!.name} exited: ${(p as any)?.lastStderr?.()}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${nodes[i]!.name} not serving after ${timeoutMs} ms`);
      await sleep(50);
    }
  };

  const killProc = async (i: number) => {
    const p = procs[i];
    procs[i] = undefined;
    nodes[i]!.pid = undefined;
    if (!p || p.pid === undefined || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once("exit", () => r()));
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      return;
    }
    await gone;
  };

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    async kill(i) {
      await killProc(i);
    },
    async restart(i) {
      if (procs[i]) throw new Error(`node ${i} is running`);
      launch(i);
      await waitServing(i);
    },
    async waitReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let ready = true;
        for (let i = 0; i < size && ready; i++) {
          if (!procs[i]) continue;
          try {
            const jsz = await fetchJson(`http://127.0.0.1:${nodes[i]!.monitorPort}/jsz`);
            const meta = jsz.meta_cluster;
            if (!meta?.leader) ready = false;
            const h = await fetch(`http://127.0.0.1:${nodes[i]!.monitorPort}/healthz`);
            if (!h.ok) ready = false;
          } catch {
            ready = false;
          }
        }
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`JetStream cluster has no meta leader after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      for (let i = 0; i < size; i++) await killProc(i);
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 0; i < size; i++) launch(i);
    for (let i = 0; i < size; i++) await waitServing(i);
    await cluster.waitReady();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
