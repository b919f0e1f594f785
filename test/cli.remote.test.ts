// The commands that talk to a running hub (channels, get, publish, follow, history), run as the
// built `tagwire` in child processes against a real hub in this process (auth on, random port):
// results, output formats, and the documented exit codes for usage errors (1), a hub that is
// down (2), a missing, bad or insufficient token (3) and other hub errors (4).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "../bindings/client/index.js";
import type { Agent } from "../bindings/sdk/agent.js";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { assertBuilt, cleanEnv, closedPort, run, start } from "./cli.helpers.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SECRET = "cli-remote-test-secret";
const DEV = createToken(SECRET, { agentId: "dev-1", role: "device" });
const OPS = createToken(SECRET, { agentId: "ops", role: "operator" });
const PEEK = createToken(SECRET, { agentId: "peek", role: "viewer", grants: ["dev-1"] });

let dataDir: string;
let hub: RunningHub;
let url: string;
let device: Agent;

beforeAll(async () => {
  assertBuilt();
  dataDir = mkdtempSync(join(tmpdir(), "tagwire-cli-"));
  hub = await startHub({ port: 0, host: "127.0.0.1", dataDir, auth: true, secret: SECRET, log: () => {} });
  url = hub.httpUrl;
  device = await connect(hub.url, { agentId: "dev-1", token: DEV });
}, 30_000);

afterAll(async () => {
  await device?.close();
  await hub?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const as = (token: string, ...args: string[]) => run([...args, "--url", url, "--token", token]);

test("--help on every command, with the exit codes where a hub is involved", async () => {
  const top = await run(["--help"]);
  expect(top.code).toBe(0);
  const commands = ["start", "channels", "get", "publish", "follow", "history", "bench"];
  const helps = await Promise.all(commands.map((cmd) => run([cmd, "--help"])));
  for (const [i, cmd] of commands.entries()) {
    expect(top.stdout, cmd).toMatch(new RegExp(`\\n  ${cmd}\\s+\\S`));
    const help = helps[i]!;
    expect(help.code, cmd).toBe(0);
    expect(help.stdout, cmd).toContain(`Usage: tagwire ${cmd}`);
    if (cmd !== "start" && cmd !== "bench") {
      expect(help.stdout, cmd).toContain("--url <url>");
      expect(help.stdout, cmd).toContain("--token <token>");
      expect(help.stdout, cmd).toContain("Exit codes: 0 ok, 1 usage, 2 hub unreachable, 3 authentication");
    }
  }
}, 90_000);

describe("writing and reading", () => {
  test("publish merges and reports the effective diff; get prints the aggregate", async () => {
    const first = await as(DEV, "publish", "dev-1/sensors/temp", '{"t": 21.5, "unit": "C"}');
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('version 1, diff {"t":21.5,"unit":"C"}\n');
    expect((await as(DEV, "publish", "dev-1/sensors/temp", '{"t": 21.5}')).stdout).toBe("version 1 (nothing changed)\n");
    expect((await as(DEV, "publish", "dev-1/sensors/temp", '{"t": 22, "unit": null}')).stdout).toBe(
      'version 2, diff {"t":22,"unit":null}\n',
    );

    const got = await as(OPS, "get", "dev-1/sensors/temp");
    expect(got.code).toBe(0);
    expect(got.stdout).toBe('{\n  "t": 22\n}\n');
    expect((await as(OPS, "get", "dev-1/sensors/temp", "--compact")).stdout).toBe('{"t":22}\n');
    expect(JSON.parse((await as(OPS, "get", "dev-1/sensors/temp", "--meta")).stdout)).toEqual({
      agentId: "dev-1",
      channel: "sensors/temp",
      version: 2,
      aggregate: { t: 22 },
    });
    // The in-process device sees the CLI's write like any other.
    expect(await device.getAggregate("sensors/temp")).toEqual({ t: 22 });

    // --replace, and JSON from stdin.
    const replaced = await run(["publish", "dev-1/sensors/temp", "-", "--replace", "--url", url, "--token", DEV], { input: '{"t": 23}' });
    expect(replaced.code).toBe(0);
    expect((await as(OPS, "get", "dev-1/sensors/temp", "--compact")).stdout).toBe('{"t":23}\n');
  }, 90_000);

  test("--log and --message append to the log; history prints it with times", async () => {
    const before = Date.now();
    expect((await as(DEV, "publish", "dev-1/events", '{"door": "open"}', "--log")).stdout).toMatch(
      /^version 1, diff \{"door":"open"\}\nlogged as message \S+\n$/,
    );
    const msg = await as(DEV, "publish", "dev-1/events", '"a plain string is fine for a message"', "--message");
    expect(msg.code).toBe(0);
    expect(msg.stdout).toMatch(/^message \S+ at \d{4}-\d\d-\d\dT/);

    const history = await as(OPS, "history", "dev-1/events", "--since", "1h");
    expect(history.code).toBe(0);
    const lines = history.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \{"door":"open"\}$/);
    expect(lines[1]).toMatch(/ "a plain string is fine for a message"$/);
    expect(Date.parse(lines[0]!.split(" ")[0]!)).toBeGreaterThanOrEqual(before - 5);

    const json = await as(OPS, "history", "dev-1/events", "--since", "1h", "--json", "--limit", "1");
    const parsed = JSON.parse(json.stdout) as { id: string; ts: number; data: unknown };
    expect(parsed.data).toBe("a plain string is fine for a message"); // the newest one
    expect(json.stderr).toContain("the newest 1 shown");

    const none = await as(OPS, "history", "dev-1/events", "--since", "2020-01-01", "--until", "2020-01-02");
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("no messages");
  }, 90_000);

  test("channels: one agent's names, or every agent with versions", async () => {
    await device.publish("tag_values", { level: 1 });
    const one = await as(PEEK, "channels", "dev-1");
    expect(one.code).toBe(0);
    expect(one.stdout.trim().split("\n")).toEqual(expect.arrayContaining(["events", "sensors/temp", "tag_values"]));

    const all = await as(OPS, "channels");
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^dev-1\n/);
    expect(all.stdout).toMatch(/\n {2}tag_values\s+v1\n/);
    expect(JSON.parse((await as(OPS, "channels", "--json")).stdout)["dev-1"]).toEqual(
      expect.arrayContaining(["events", "sensors/temp", "tag_values"]),
    );

    // A viewer limited to dev-1 may not list every agent: it is told to name one.
    const limited = await as(PEEK, "channels");
    expect(limited.code).toBe(3);
    expect(limited.stderr).toContain("tagwire channels <agent>");
  }, 90_000);

  test("follow prints one line per update and stops after --count", async () => {
    const f = start(["follow", "dev-1/sensors/#", "--no-sync", "--count", "2", "--url", url, "--token", OPS]);
    await f.waitFor(/following dev-1\/sensors\/# on ws:\/\//);
    // Its subscription is acknowledged a moment after that line: write until it has seen two.
    let n = 0;
    let exited = false;
    void f.exited.then(() => (exited = true));
    while (!exited && n < 100) {
      n++;
      if (n % 2) await device.publish("sensors/temp", { t: 30 + n });
      else await device.publish("sensors/hum", { rh: 40 + n }, { log: true });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await f.exited).toBe(0);
    const lines = f.stdout().trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z dev-1\/sensors\/(temp v\d+ \{"t":\d+\}|hum (v\d+|message) \{"rh":\d+\})$/);
    }

    // With the current state first, as JSON; SIGINT ends it with 0.
    const g = start(["follow", "dev-1/sensors/temp", "--json", "--url", url, "--token", OPS]);
    const sync = await g.waitFor(/\{"agentId":"dev-1","channel":"sensors\/temp","type":"sync".*\}\n/);
    expect(JSON.parse(sync[0])).toMatchObject({ type: "sync", aggregate: { t: expect.any(Number) } });
    g.child.kill("SIGINT");
    expect(await g.exited).toBe(0);
  }, 90_000);
});

describe("exit codes", () => {
  test("1: usage errors", async () => {
    const cases = [
      ["get"],
      ["get", "no-channel"],
      ["get", "bad agent/x"],
      ["publish", "dev-1/x", "{not json"],
      ["publish", "dev-1/x", "[1,2]"],
      ["history", "dev-1/x", "--since", "soon"],
      ["history", "dev-1/x", "--limit", "5000"],
      ["follow", "dev-1/a/#/b"],
      ["channels", "a", "b"],
    ];
    const results = await Promise.all(cases.map((args) => as(OPS, ...args)));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i]!.join(" ")).toBe(1);
      expect(r.stderr, cases[i]!.join(" ")).toMatch(/^tagwire \w+: /);
    }
  }, 90_000);

  test("2: the hub is unreachable", async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const cases = [
      ["get", "dev-1/x"],
      ["publish", "dev-1/x", "{}"],
      ["history", "dev-1/x"],
      ["channels", "dev-1"],
      ["channels"],
      ["follow", "dev-1/#"],
    ];
    const results = await Promise.all(cases.map((args) => run([...args, "--url", dead])));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i]!.join(" ")).toBe(2);
      expect(r.stderr, cases[i]!.join(" ")).toContain("cannot reach the hub");
    }
    // TAGWIRE_URL is the default --url.
    const viaEnv = await run(["get", "dev-1/x"], { env: cleanEnv({ TAGWIRE_URL: dead }) });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain(dead);
  }, 90_000);

  test("3: no token, a bad token, a token that does not allow it", async () => {
    const missing = await run(["get", "dev-1/sensors/temp", "--url", url]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("the hub requires a token: pass --token or set TAGWIRE_TOKEN");

    const forged = createToken("another-secret", { agentId: "ops", role: "operator" });
    const bad = await as(forged, "get", "dev-1/sensors/temp");
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("the hub refused the token");
    const badFollow = await as(forged, "follow", "dev-1/#");
    expect(badFollow.code).toBe(3);
    expect(badFollow.stderr).toContain("refused the token");

    // A device writes only its own channels; an operator only ui_cmds; a viewer only reads.
    const other = await as(DEV, "publish", "dev-2/tag_values", '{"x": 1}');
    expect(other.code).toBe(3);
    expect(other.stderr).toContain("not allowed");
    expect((await as(OPS, "publish", "dev-1/tag_values", '{"x": 1}')).code).toBe(3);
    expect((await as(OPS, "publish", "dev-1/ui_cmds", '{"app": {"go": true}}')).code).toBe(0);
    const peek = await as(PEEK, "follow", "dev-2/#");
    expect(peek.code).toBe(3);
    // TAGWIRE_TOKEN is the default --token.
    const viaEnv = await run(["get", "dev-1/sensors/temp", "--url", url], { env: cleanEnv({ TAGWIRE_TOKEN: OPS }) });
    expect(viaEnv.code).toBe(0);
  }, 90_000);

  test("4: not found and other hub errors", async () => {
    const missing = await as(OPS, "get", "dev-1/no/such/channel");
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("TAGWIRE_ERR_NOT_FOUND");
    // Nested deeper than the hub's limit (64).
    const deep = await as(DEV, "publish", "dev-1/deep", `{"a": ${"[".repeat(80)}${"]".repeat(80)}}`);
    expect(deep.code).toBe(4);
    expect(deep.stderr).toContain("TAGWIRE_ERR_DEPTH");
  }, 90_000);
});
