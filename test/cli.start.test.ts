// `tagwire start` (what `npm start` runs) and `tagwire bench`, as the built command in child
// processes: the demo's hub serves the viewer and the HTTP API, its device publishes and obeys
// commands sent with the other commands, SIGTERM/SIGINT stop it with exit code 0, --auth prints
// a viewer link carrying a working token, and a port in use is a clear error.
import { afterAll, beforeAll, expect, test } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertBuilt, ROOT, run, start, until } from "./cli.helpers.js";

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "tagwire-start-"));
  dirs.push(d);
  return d;
};

beforeAll(() => {
  assertBuilt();
  if (!existsSync(join(ROOT, "dist/viewer/www/index.html")))
    throw new Error("dist/viewer/www is missing: `npm run build` builds the viewer");
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("start: hub + viewer + a device that answers commands; SIGTERM stops it with 0", async () => {
  const demo = start(["start", "--port", "0", "--data-dir", temp(), "--loop-ms", "100"]);
  try {
    const [, base] = await demo.waitFor(/viewer: (http:\/\/localhost:\d+)\//);
    expect(demo.stdout()).toContain("device climate-chamber connected over WebSocket");
    expect(demo.stdout()).toMatch(/auth off, loopback only/);

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("'wasm-unsafe-eval'");
    expect(await page.text()).toContain('<script type="module" src="viewer.js">');
    expect((await fetch(`${base}/viewer.js`)).status).toBe(200);
    expect((await fetch(`${base}/health`)).status).toBe(200);

    // The device publishes its tags; the CLI reads them (no token: the demo runs without auth).
    const tags = await until(
      async () => JSON.parse((await run(["get", "climate-chamber/tag_values", "--url", base!, "--compact"])).stdout || "{}"),
      (v) => typeof v?.climate?.temperature === "number" && v.climate.temperature_stats?.count > 0,
      "the device's tags",
    );
    expect(tags.climate).toMatchObject({ heater: "off", setpoint: 24 });

    // A command through ui_cmds reaches the app's handler: a notification follows.
    const follow = start(["follow", "climate-chamber/notifications", "--no-sync", "--count", "1", "--url", base!]);
    await follow.waitFor(/following/);
    await new Promise((r) => setTimeout(r, 300));
    const sent = await run(["publish", "climate-chamber/ui_cmds", '{"climate": {"start": true}}', "--url", base!]);
    expect(sent.code).toBe(0);
    expect(await follow.exited).toBe(0);
    expect(follow.stdout()).toMatch(/climate-chamber\/notifications message \{"message":"Heater started \(setpoint 24 °C\)"/);
    await until(
      async () => JSON.parse((await run(["get", "climate-chamber/tag_values", "--url", base!, "--compact"])).stdout || "{}"),
      (v) => v?.climate?.heater === "on",
      "the heater tag to turn on",
    );
    // The action was cleared by the app once handled.
    expect(JSON.parse((await run(["get", "climate-chamber/ui_cmds", "--url", base!, "--compact"])).stdout)).toMatchObject({
      climate: { setpoint: 24 },
    });
    expect(JSON.parse((await run(["get", "climate-chamber/ui_cmds", "--url", base!, "--compact"])).stdout).climate.start).toBeUndefined();

    demo.child.kill("SIGTERM");
    expect(await demo.exited).toBe(0);
    expect(demo.stdout()).toContain("[tagwire start] stopped");
  } finally {
    demo.child.kill("SIGKILL");
  }
}, 60_000);

test("start --auth: the printed viewer link carries a token the hub accepts; SIGINT stops it", async () => {
  const demo = start(["start", "--port", "0", "--data-dir", temp(), "--auth", "--loop-ms", "100"]);
  try {
    const [, base, token] = await demo.waitFor(/viewer: (http:\/\/localhost:\d+)\/\?token=(\S+)/);
    const bare = await run(["get", "climate-chamber/ui_state", "--url", base!]);
    expect(bare.code).toBe(3);
    await until(
      () => run(["get", "climate-chamber/ui_state", "--url", base!, "--token", decodeURIComponent(token!)]),
      (r) => r.code === 0 && r.stdout.includes('"uiApplication"'),
      "the UI with the printed token",
    );
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
  } finally {
    demo.child.kill("SIGKILL");
  }
}, 60_000);

test("start: a port in use is a clear error (exit 4), a bad port a usage error (1)", async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await run(["start", "--port", String(port), "--data-dir", temp()]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`port ${port} is in use`);
  } finally {
    blocker.close();
  }
  expect((await run(["start", "--port", "99999"])).code).toBe(1);
  expect((await run(["start", "--host", "0.0.0.0", "--port", "0", "--data-dir", temp(), "--no-auth"])).code).toBe(1);
}, 60_000);

test("bench: runs the suites named (none matching here: it only starts the runner)", async () => {
  const r = await run(["bench", "no-such-suite-name"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("");
  expect((await run(["bench", "--help"])).stdout).toContain("Usage: tagwire bench [name...]");
}, 60_000);
