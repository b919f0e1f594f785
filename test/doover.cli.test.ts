// `tagwire hub --device-agent`: the CLI flag starts the Device Agent for --device-agent-id (own
// file: the CLI is transpiled for a child process before these tests).
import { spawn, spawnSync } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, test } from "vitest";
import { loadDeviceAgentProto } from "../hub/doover/grpc.js";
import { cliPerFile } from "./hub-helpers.js";

const proto = loadDeviceAgentProto() as any;
const tagwire = cliPerFile();

function call<T = any>(method: string, request: unknown, c: any): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](request, { deadline: Date.now() + 5000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

describe("tagwire hub --device-agent", () => {
  test("serves the Device Agent for --device-agent-id; without the id it is a usage error", async () => {
    const bad = spawnSync(
      process.execPath,
      [tagwire.cli, "hub", "--port", "0", "--data-dir", tagwire.dataDir, "--device-agent", "127.0.0.1:0"],
      { encoding: "utf8", timeout: 15_000 },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--device-agent-id/);
    const child = spawn(
      process.execPath,
      [
        tagwire.cli,
        "hub",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--data-dir",
        tagwire.dataDir,
        "--device-agent",
        "127.0.0.1:0",
        "--device-agent-id",
        "gw-cli",
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /Device Agent \(gRPC\) for gw-cli on (\S+)/.exec(err);
          if (m) {
            clearInterval(timer);
            resolve(m[1]!);
          }
        }, 20);
        exited.then((code) => {
          clearInterval(timer);
          reject(new Error(`hub exited ${code}: ${err}`));
        });
      });
      const c = new proto.device_agent.deviceAgent(address, grpc.credentials.createInsecure());
      expect((await call("TestComms", { message: "cli" }, c)).response).toBe("cli");
      expect((await call("UpdateAggregate", { channel_name: "tag_values", data_json: '{"a":1}' }, c)).response_header.success).toBe(true);
      c.close();
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  }, 30_000);
});
