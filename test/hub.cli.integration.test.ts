// The `tagwire` command as a user runs it: a real child process per command (sources transpiled
// to a temp dir), `--help` everywhere, `token create` against the data dir's secret, and
// `tagwire hub` serving with auth on by default, loud with --no-auth, stopping on SIGINT.
import { expect, test } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { loadSecret, verifyToken } from "../hub/auth.js";
import { RawClient, cliPerFile } from "./hub-helpers.js";

const tagwire = cliPerFile();

const env = { ...process.env, TAGWIRE_SECRET: "" };
const run = (...args: string[]) => spawnSync(process.execPath, [tagwire.cli, ...args], { encoding: "utf8", env, timeout: 15_000 });

test("--help on the command and each subcommand; unknown commands and options exit 1", () => {
  const top = run("--help");
  expect(top.status).toBe(0);
  expect(top.stdout).toMatch(/hub\s+run the tagwire hub/);
  expect(top.stdout).toMatch(/token\s+create access tokens/);
  for (const cmd of ["hub", "token"]) {
    const h = run(cmd, "--help");
    expect(h.status, cmd).toBe(0);
    expect(h.stdout).toContain(`Usage: tagwire ${cmd}`);
  }
  expect(run("hub", "--help").stdout).toContain("--no-auth");
  expect(run("frobnicate").status).toBe(1);
  expect(run("hub", "--prot", "1").stderr).toContain("unknown option --prot");
  expect(run("token", "create", "--agent", "x", "--role", "admin", "--data-dir", tagwire.dataDir).status).toBe(1);
});

test("token create prints a token signed with the data dir's secret", () => {
  const r = run(
    "token",
    "create",
    "--data-dir",
    tagwire.dataDir,
    "--agent",
    "pump-1",
    "--role",
    "device",
    "--grants",
    "agentA,agentB/*",
    "--ttl",
    "2h",
  );
  expect(r.status).toBe(0);
  const token = r.stdout.trim();
  const claims = verifyToken(loadSecret(tagwire.dataDir, {}), token);
  expect(claims).toMatchObject({ agentId: "pump-1", role: "device", grants: ["agentA/#", "agentB/#"] });
  expect(claims.expiresAt - claims.issuedAt).toBe(7200);
});

function startHub(...args: string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [tagwire.cli, "hub", "--port", "0", "--host", "127.0.0.1", "--data-dir", tagwire.dataDir, ...args],
    {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearInterval(timer);
        resolve({
          url: m[1]!,
          stderr: () => err,
          stop: () => {
            child.kill("SIGINT");
            return exited;
          },
        });
      }
    }, 20);
    exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`hub exited ${code}: ${err}`));
    });
  });
}

test("tagwire hub: auth on by default, tokens from `token create` work, SIGINT stops it cleanly", async () => {
  const hub = await startHub();
  const token = run("token", "create", "--data-dir", tagwire.dataDir, "--agent", "pump-1", "--role", "device").stdout.trim();
  const refused = await RawClient.open(hub.url);
  expect(await refused.reply({ type: "hello", reqId: 0, protocol: 1, agentId: "pump-1" })).toMatchObject({ code: "TAGWIRE_ERR_AUTH" });
  const c = await RawClient.connect(hub.url, "pump-1", token);
  expect((await c.publish("pump-1", "tag_values", { a: 1 })).version).toBe(1);
  await c.close();
  expect(await hub.stop()).toBe(0);
  expect(hub.stderr()).not.toContain("WARNING");

  const open = await startHub("--no-auth");
  expect(open.stderr()).toMatch(/WARNING: authentication is OFF/);
  const anon = await RawClient.connect(open.url, "anyone");
  const agg = await anon.request({ type: "getAggregate", reqId: 0, agentId: "pump-1", channel: "tag_values" });
  expect(agg.version).toBe(1); // kept across the restart
  await anon.close();
  expect(await open.stop()).toBe(0);
}, 30_000);

test("tagwire hub --mqtt bridges the broker: a hub write appears as a retained MQTT aggregate", async () => {
  const prefix = `tw-cli-${process.pid}-${Date.now()}`;
  const hub = await startHub("--no-auth", "--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-prefix", prefix);
  try {
    for (let i = 0; i < 100 && !hub.stderr().includes("bridging"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(hub.stderr()).toContain(`bridging mqtt://127.0.0.1:1883 under ${prefix}/`);
    const c = await RawClient.connect(hub.url, "pump-7");
    await c.publish("pump-7", "tag_values", { rpm: 1200 });
    await c.close();
    // The Mosquitto CLI reads the channel by following docs/PROTOCOL.md alone.
    let got = "";
    for (let i = 0; i < 10 && !got; i++) {
      const sub = spawnSync(
        "mosquitto_sub",
        ["-h", "127.0.0.1", "-q", "1", "-C", "1", "-W", "1", "-t", `${prefix}/agg/pump-7/tag_values`],
        { encoding: "utf8" },
      );
      got = sub.stdout.trim();
    }
    expect(JSON.parse(got)).toEqual({ rpm: 1200 });
  } finally {
    expect(await hub.stop()).toBe(0);
    spawnSync("mosquitto_pub", ["-h", "127.0.0.1", "-r", "-n", "-t", `${prefix}/agg/pump-7/tag_values`]);
    spawnSync("mosquitto_pub", ["-h", "127.0.0.1", "-r", "-n", "-t", `${prefix}/hub/status`]);
  }
  expect(
    run("hub", "--mqtt", "mqtt://127.0.0.1:1", "--mqtt-writes", "sometimes", "--port", "0", "--data-dir", tagwire.dataDir).status,
  ).toBe(1);
}, 30_000);
