// Shared by the CLI tests (test/cli.*.test.ts): they run the BUILT command, `node
// dist/cli/tagwire.js`, as a user does after `npm run build`, in child processes (never
// spawnSync: the hub under test may live in this process and must keep answering).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist/cli/tagwire.js");

/** Fails (with what to do) when the build is missing or older than the CLI's sources. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`);
  const built = statSync(CLI).mtimeMs;
  const sources = [
    ...readdirSync(join(ROOT, "cli"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(ROOT, "cli", f)),
    join(ROOT, "examples/demo.ts"),
    join(ROOT, "viewer/serve.ts"),
  ];
  const stale = sources.filter((f) => statSync(f).mtimeMs > built + 1000);
  if (stale.length) throw new Error(`dist/ is older than ${stale.map((f) => f.slice(ROOT.length + 1)).join(", ")}: run \`npm run build\``);
}

/** The environment without the CLI's own variables, so the machine's settings never leak in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["TAGWIRE_URL", "TAGWIRE_TOKEN", "TAGWIRE_PORT", "TAGWIRE_SECRET"]) delete env[k];
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tagwire ...args` to completion. */
export function run(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? cleanEnv(), cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`tagwire ${args.join(" ")} did not finish in ${options.timeoutMs ?? 20_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, options.timeoutMs ?? 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when `pattern` appears in stdout or stderr; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/** Starts `tagwire ...args` and returns while it runs. */
export function start(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise((resolvePromise, reject) => {
        const end = Date.now() + timeoutMs;
        let done = false;
        const check = () => {
          if (done) return;
          const m = pattern.exec(out) ?? pattern.exec(err);
          if (m) {
            done = true;
            return resolvePromise(m);
          }
          if (Date.now() > end) {
            done = true;
            return reject(new Error(`timed out waiting for ${pattern}\nstdout: ${out}\nstderr: ${err}`));
          }
          setTimeout(check, 20);
        };
        exited.then((code) => {
          if (done) return;
          const m = pattern.exec(out) ?? pattern.exec(err);
          done = true;
          if (m) resolvePromise(m);
          else reject(new Error(`exited (${code}) before ${pattern}\nstdout: ${out}\nstderr: ${err}`));
        });
        check();
      }),
  };
}

/** A TCP port nothing listens on (bound, then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

/** Polls `read` until `accept` says yes; returns the accepted value. */
export async function until<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
