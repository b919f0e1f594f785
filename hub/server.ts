// startHub(): a Node http server and a ws WebSocketServer on one port, over one HubState.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { resolve } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { createCore } from "../bindings/core/index.js";
import { loadSecret } from "./auth.js";
import { Connection } from "./connection.js";
import type { HubContext } from "./context.js";
import { createHttpHandler, requestToken } from "./http.js";
import { createDooverApi } from "./doover/http.js";
import { startDeviceAgent, type DeviceAgentOptions, type RunningDeviceAgent } from "./doover/grpc.js";
import { DEFAULT_LIMITS, type HubLimits } from "./limits.js";
import { DEFAULT_RETENTION, HubState, type RetentionOptions } from "./state.js";
import { type Durability, SqliteStorage, type SyncMode } from "./storage/sqlite.js";
import type { Storage } from "./storage/storage.js";
import type { ClusterOptions } from "./cluster/jetstream-storage.js";

export interface HubOptions {
  /** TCP port; 0 picks a free one (the default). */
  port?: number;
  /** Interface to listen on (default all). */
  host?: string;
  /** Where tagwire.db and the generated secret live (default "./data"). */
  dataDir?: string;
  /** Token auth (default true). false = every connection may do everything: local experiments only. */
  auth?: boolean;
  /** HMAC secret for tokens; default TAGWIRE_SECRET, else `<dataDir>/secret` (generated once). */
  secret?: string;
  /** Cluster mode: keep channels in NATS JetStream instead of SQLite (docs/CLUSTER.md). */
  nats?: ClusterOptions;
  /** SQLite durability; see hub/storage/sqlite.ts. Default "full". */
  synchronous?: SyncMode;
  /**
   * With synchronous "full", who fsyncs each commit before its acks leave: "auto" (default: the
   * hub, on the event loop while the disk is fast, on the thread pool while it is slow, the loop
   * going on meanwhile), "fsync" (always the thread pool) or "inline" (SQLite, inside COMMIT).
   * See hub/storage/sqlite.ts.
   */
  durability?: Durability;
  /**
   * The storage to keep channels in (hub/storage/storage.ts), not yet opened; the hub opens and
   * closes it. Default: SQLite in `dataDir` with `synchronous`.
   */
  storage?: Storage;
  limits?: Partial<HubLimits>;
  retention?: Partial<RetentionOptions>;
  /** How often expired messages are deleted (ms, default 60 s). */
  retentionIntervalMs?: number;
  /** Log lines (default console.error with a "[tagwire hub]" prefix); pass `() => {}` to silence. */
  log?: (line: string) => void;
  /** Extra HTTP routes tried before the API (the viewer uses this later); return true if handled. */
  httpFallback?: (req: IncomingMessage, res: import("node:http").ServerResponse) => boolean;
  /** Serve Doover's Device Agent gRPC service for one agent (docs/DOOVER.md). */
  deviceAgent?: DeviceAgentOptions;
}

export interface RunningHub {
  /** ws://host:port */
  readonly url: string;
  /** http://host:port */
  readonly httpUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** Resolves when a storage failure stopped the hub (fail-stop; restart to recover). */
  readonly failed: Promise<Error>;
  /** host:port of the Device Agent endpoint, when `deviceAgent` was given. */
  readonly deviceAgentAddress?: string;
  /** Stops accepting, closes every connection (1001), commits what is pending, closes storage. */
  close(): Promise<void>;
}

export async function startHub(options: HubOptions = {}): Promise<RunningHub> {
  const dataDir = resolve(options.dataDir ?? "./data");
  const log = options.log ?? ((line: string) => console.error(`[tagwire hub] ${line}`));
  const auth = options.auth ?? true;
  const limits: HubLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const retention: RetentionOptions = { ...DEFAULT_RETENTION, ...options.retention };
  const secret = auth ? (options.secret ?? loadSecret(dataDir)) : "";
  if (!auth) {
    log("WARNING: authentication is OFF (--no-auth): anyone who can reach this port can read and write every channel.");
  }

  const core = await createCore({ maxPayloadBytes: limits.maxPayloadBytes, maxDepth: limits.maxDepth });
  // Cluster mode's module (and nats.js) is loaded only when asked for.
  const storage: Storage = options.nats
    ? new (await import("./cluster/jetstream-storage.js")).JetStreamStorage({ ...options.nats, log, retention })
    : (options.storage ??
      new SqliteStorage(dataDir, { synchronous: options.synchronous ?? "full", durability: options.durability ?? "auto" }));
  let state: HubState;
  try {
    state = await HubState.open(core, storage, limits, retention);
  } catch (err) {
    await storage.close();
    throw err;
  }
  const connections = new Map<number, Connection>();
  const ctx: HubContext = { state, limits, auth, secret, connections, log };

  const api = createHttpHandler(ctx);
  const doover = createDooverApi(ctx);
  const server: Server = createServer(
    {
      noDelay: true,
      // A request that never finishes its headers (or body) is closed instead of held forever.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      if (options.httpFallback?.(req, res)) return;
      if (doover.handle(req, res)) return;
      api(req, res);
    },
  );
  guardConnections(server, limits, log);
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardMaxMessageBytes, perMessageDeflate: false });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/" && path !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  let nextId = 1;
  wss.on("connection", (ws: WebSocket, req: IncomingMessage) => {
    // Writes are already batched per tick; Nagle would only add delay to a lone frame.
    req.socket.setNoDelay(true);
    const id = nextId++;
    if (nextId > 0xfffffffe) nextId = 1;
    const url = new URL(req.url ?? "/", "http://hub");
    const conn = new Connection(ctx, id, ws, requestToken(req, url), req.socket.remoteAddress ?? "?");
    connections.set(id, conn);
    state.addOutlet(conn);
  });
  // Hello deadlines and idle timeouts, checked by one sweep rather than a timer per socket.
  const shortest = Math.min(...[limits.helloTimeoutMs, limits.idleTimeoutMs].filter((t) => t > 0), 4000);
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const conn of connections.values()) conn.checkTimers(now);
    },
    Math.max(10, Math.floor(shortest / 4)),
  );
  sweep.unref();

  let failedResolve!: (e: Error) => void;
  const failed = new Promise<Error>((r) => (failedResolve = r));
  state.onFatal = (error) => {
    log(`FATAL: storage failed, stopping (restart to recover the last committed state): ${error.stack ?? error}`);
    for (const conn of connections.values()) {
      conn.ws.close(1011, "hub storage failed");
      conn.dispose();
    }
    failedResolve(error);
  };

  const timer = setInterval(() => {
    try {
      const n = state.expireMessages();
      if (n) log(`retention: ${n} expired messages deleted`);
    } catch (err) {
      log(`retention failed: ${(err as Error).message}`);
    }
  }, options.retentionIntervalMs ?? 60_000);
  timer.unref();

  // The ws server re-emits the http server's errors; without a listener a port in use would
  // crash the process instead of rejecting startHub().
  wss.on("error", (err) => log(`websocket server error: ${err.message}`));
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host, () => {
        server.off("error", reject);
        resolveListen();
      });
    });
  } catch (err) {
    clearInterval(timer);
    clearInterval(sweep);
    wss.close();
    await storage.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  let deviceAgent: RunningDeviceAgent | undefined;
  if (options.deviceAgent) {
    try {
      deviceAgent = await startDeviceAgent(ctx, options.deviceAgent, doover.service);
    } catch (err) {
      clearInterval(timer);
      wss.close();
      await new Promise((r) => server.close(r));
      storage.close();
      throw err;
    }
  }
  const host = !options.host || options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
  const shownHost = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(timer);
      await deviceAgent?.close();
      clearInterval(sweep);
      // Commit and send what is already queued, so every write the hub accepted is answered;
      // after this the state refuses new work (TAGWIRE_ERR_CLOSED).
      await state.close();
      for (const conn of [...connections.values()]) {
        conn.ws.close(1001, "hub shutting down");
        conn.dispose();
      }
      wss.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections?.();
      });
      await storage.close();
    })());

  return {
    url: `ws://${shownHost}:${address.port}`,
    ...(deviceAgent ? { deviceAgentAddress: deviceAgent.address } : {}),
    httpUrl: `http://${shownHost}:${address.port}`,
    port: address.port,
    dataDir,
    failed,
    close,
  };
}

/**
 * Caps open TCP connections (HTTP and WebSocket alike) in total and per IP address: one over
 * the cap is closed as soon as it is accepted. Refusals are logged at most once a second.
 */
function guardConnections(server: Server, limits: HubLimits, log: (line: string) => void): void {
  const perAddress = new Map<string, number>();
  let total = 0;
  let refused = 0;
  let lastLog = 0;
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "?";
    const mine = perAddress.get(address) ?? 0;
    if (total >= limits.maxConnections || mine >= limits.maxConnectionsPerAddress) {
      refused++;
      const now = Date.now();
      if (now - lastLog >= 1000) {
        const which =
          total >= limits.maxConnections
            ? `${limits.maxConnections} connections in total`
            : `${limits.maxConnectionsPerAddress} connections from ${address}`;
        log(`connection cap: refused ${refused} connection(s) beyond ${which}`);
        lastLog = now;
        refused = 0;
      }
      socket.destroy();
      return;
    }
    total++;
    perAddress.set(address, mine + 1);
    socket.once("close", () => {
      total--;
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n === 0) perAddress.delete(address);
      else perAddress.set(address, n);
    });
  });
  // Timeouts (headersTimeout, requestTimeout) and malformed requests end here: one line each.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? "ERR";
    const timeout = code === "ERR_HTTP_REQUEST_TIMEOUT" || code === "ERR_HTTP_HEADERS_TIMEOUT";
    const address = (socket as Socket).remoteAddress ?? "?";
    if (code !== "ECONNRESET") log(`http: ${timeout ? "request not complete in time" : "bad request"} from ${address} (${code}): closing`);
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      socket.end(`HTTP/1.1 ${timeout ? "408 Request Timeout" : "400 Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else socket.destroy();
  });
}
