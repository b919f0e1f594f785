// Shared by the hub tests: a raw protocol client over the `ws` package (frames by hand, so the
// tests check the wire itself), temp data dirs, and JSON helpers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { WebSocket } from "ws";
import { startHub, type HubOptions, type RunningHub } from "../hub/index.js";
import {
  decodeFrames,
  decodeValue,
  encodeFrames,
  encodeValue,
  type AckFrame,
  type ErrorFrame,
  type Frame,
} from "../bindings/protocol/index.js";

export function tempDir(prefix = "tagwire-hub-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Hooks for a file that runs `tagwire` as child processes: before its tests, the CLI sources
 * transpiled into a temp dir (`cli`, the file to run with node) and an empty data dir
 * (`dataDir`); both removed after its tests.
 */
export function cliPerFile(): { readonly cli: string; readonly dataDir: string } {
  let build: ReturnType<typeof tempDir> | undefined;
  let data: ReturnType<typeof tempDir> | undefined;
  let cli = "";
  beforeAll(async () => {
    build = tempDir("tagwire-build-");
    data = tempDir("tagwire-data-");
    cli = await transpileForChild("cli/tagwire.ts", build.dir);
  }, 30_000);
  afterAll(() => {
    build?.remove();
    data?.remove();
  });
  return {
    get cli() {
      return cli;
    },
    get dataDir() {
      return data!.dir;
    },
  };
}

/**
 * Hooks giving the calling suite one hub started with `options` on a fresh temp data dir before
 * its tests, closed and removed after them. Read `url` and `httpUrl` once the tests run.
 */
export function hubPerSuite(options: Omit<HubOptions, "dataDir">): { readonly url: string; readonly httpUrl: string } {
  let hub: RunningHub | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  beforeAll(async () => {
    dir = tempDir();
    hub = await startHub({ ...options, dataDir: dir.dir });
  });
  afterAll(async () => {
    await hub?.close();
    dir?.remove();
  });
  return {
    get url() {
      return hub!.url;
    },
    get httpUrl() {
      return hub!.httpUrl;
    },
  };
}

export const doc = (value: unknown): Uint8Array => encodeValue(value);
export const val = (bytes: Uint8Array): unknown => decodeValue(bytes);

type Waiter = { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class RawClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly received: Frame[] = [];
  /** Raw messages received (each a batch). */
  readonly messages: Uint8Array[] = [];
  closeCode: number | undefined;
  private waiters: Waiter[] = [];
  private nextReq = 1;
  private closedPromise: Promise<number>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer) => {
      this.messages.push(data);
      for (const f of decodeFrames(data)) {
        this.received.push(f);
        for (const w of this.waiters.slice()) {
          if (w.pred(f)) {
            clearTimeout(w.timer);
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(f);
          }
        }
      }
    });
    this.closedPromise = new Promise((resolve) =>
      ws.on("close", (code) => {
        this.closeCode = code;
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code}) while waiting`));
        }
        this.waiters = [];
        resolve(code);
      }),
    );
  }

  /** Wraps an already open socket (e.g. one made with special `ws` options). */
  static wrap(ws: WebSocket): RawClient {
    return new RawClient(ws);
  }

  static open(url: string, options: { token?: string; header?: string } = {}): Promise<RawClient> {
    const full = options.token ? `${url}/?token=${encodeURIComponent(options.token)}` : url;
    const ws = new WebSocket(full, options.header ? { headers: { authorization: `Bearer ${options.header}` } } : {});
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawClient(ws)));
      ws.once("error", reject);
    });
  }

  /** Opens and says hello; resolves after the ack (rejects on an error frame). */
  static async connect(url: string, agentId: string, token?: string): Promise<RawClient> {
    const c = await RawClient.open(url);
    await c.request({ type: "hello", reqId: 0, protocol: 1, agentId, token });
    return c;
  }

  reqId(): number {
    return this.nextReq++;
  }

  send(frames: Frame[]): void {
    this.ws.send(encodeFrames(frames));
  }

  sendBytes(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error("timed out waiting for a frame"));
      }, timeoutMs);
      const waiter: Waiter = { pred, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** Sends one request (reqId filled in when 0) and waits for its ack or error. */
  async reply(frame: Frame): Promise<AckFrame | ErrorFrame> {
    const f = { ...frame } as Frame & { reqId: number };
    if (f.reqId === 0) f.reqId = this.reqId();
    this.send([f]);
    return (await this.waitFor((r) => (r.type === "ack" || r.type === "error") && r.reqId === f.reqId)) as AckFrame | ErrorFrame;
  }

  /** Like `reply`, but an error frame rejects. */
  async request(frame: Frame): Promise<any> {
    const r = await this.reply(frame);
    if (r.type === "error") throw Object.assign(new Error(`${r.code}: ${r.message}`), { code: r.code });
    return r.result;
  }

  publish(agentId: string, channel: string, value: unknown, extra: Partial<Extract<Frame, { type: "publish" }>> = {}): Promise<any> {
    return this.request({ type: "publish", reqId: 0, agentId, channel, diff: doc(value), ...extra });
  }

  closed(): Promise<number> {
    return this.closedPromise;
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closedPromise;
  }
}

/**
 * Transpiles `entry` and every relative module it imports (TypeScript's transpileModule, no type
 * check) into a temp dir, so a test can run the hub in a real child process (`node <out>`)
 * without depending on a fresh `npm run build`. Returns the path of the entry's .js file.
 */
export async function transpileForChild(entry: string, outDir: string): Promise<string> {
  const ts = (await import("typescript")).default;
  const { readFileSync, writeFileSync, mkdirSync, symlinkSync, existsSync } = await import("node:fs");
  const { dirname, resolve, relative } = await import("node:path");
  const root = resolve(import.meta.dirname, "..");
  const seen = new Set<string>();
  const queue = [resolve(root, entry)];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)\.js["']/g)) {
      queue.push(resolve(dirname(file), m[1]! + ".ts"));
    }
    const out = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: file,
    });
    const target = resolve(outDir, relative(root, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out.outputText);
  }
  writeFileSync(resolve(outDir, "package.json"), JSON.stringify({ type: "module" }));
  if (!existsSync(resolve(outDir, "node_modules"))) symlinkSync(resolve(root, "node_modules"), resolve(outDir, "node_modules"), "dir");
  return resolve(outDir, entry.replace(/\.ts$/, ".js"));
}
