// The security flags and clients of the `tagwire` command as a user runs them (child processes):
// `tagwire hub --hello-timeout-ms` acts and logs, and `tagwire follow` keeps its token out of the
// WebSocket URL (it goes in the hello frame).
import { expect, test } from "vitest";
import { spawn } from "node:child_process";
import { WebSocketServer } from "ws";
import { createToken } from "../hub/auth.js";
import { decodeFrames } from "../bindings/protocol/index.js";
import { RawClient, cliPerFile } from "./hub-helpers.js";

const tagwire = cliPerFile();
const env = { ...process.env, TAGWIRE_SECRET: "cli-security-secret", TAGWIRE_URL: "", TAGWIRE_TOKEN: "" };

test("tagwire hub --hello-timeout-ms closes a socket that never says hello, and logs it", async () => {
  const child = spawn(
    process.execPath,
    [tagwire.cli, "hub", "--port", "0", "--host", "127.0.0.1", "--data-dir", tagwire.dataDir, "--hello-timeout-ms", "200"],
    {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 20);
      exited.then((code) => reject(new Error(`hub exited ${code}: ${err}`)));
    });
    const c = await RawClient.open(url);
    const start = Date.now();
    expect(await c.closed()).toBe(4408);
    expect(Date.now() - start).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 50));
    expect(err).toContain("no hello within 200 ms");
  } finally {
    child.kill("SIGINT");
    await exited;
  }
}, 30_000);

test("tagwire follow sends its token in the hello frame, not the URL", async () => {
  const token = createToken("any", { agentId: "cli", role: "viewer" });
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  const port = (wss.address() as { port: number }).port;
  const seen = new Promise<{ url: string; first: Buffer }>((resolve) =>
    wss.on("connection", (ws, req) => ws.once("message", (data: Buffer) => resolve({ url: req.url ?? "", first: data }))),
  );
  const child = spawn(process.execPath, [tagwire.cli, "follow", "pump-1/#", "--url", `ws://127.0.0.1:${port}`, "--token", token], {
    env,
    stdio: "ignore",
  });
  try {
    const { url, first } = await seen;
    expect(url).not.toContain("token");
    expect(decodeFrames(first)[0]).toMatchObject({ type: "hello", token });
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => wss.close(r));
  }
}, 30_000);
