// The viewer end to end in real headless Chromium: the hub and the demo's climate chamber run in
// this process (random free port, temp data dir), the page is the real build (esbuild, into a
// temp dir), and every check reads what the page shows.
//  1. live values change; Start reaches the device app's handler (its state changes, the page
//     shows "heating"), its notification and the high-temperature alert appear, Stop asks for
//     confirmation; the setpoint input and the publish box write through the hub; the chart
//     draws. A screenshot goes to test-output/viewer.png.
//  2. a hub with auth: the page asks for a token, refuses a bad one, connects with a good one;
//     when the hub goes away it shows it is reconnecting and comes back by itself.
//  3. with a viewer-role token, a Doover 1.x app (viewer.ui1x.browser.test.ts has the rest) shows
//     its values with every control disabled.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { connect } from "../bindings/client/index.js";
import type { Agent } from "../bindings/sdk/agent.js";
import type { Json } from "../bindings/sdk/session.js";
import { APP_KEY, HIGH_TEMPERATURE_C, startDemo, type RunningDemo } from "../examples/demo.js";
import { createToken, startHub, type RunningHub } from "../hub/index.js";
import { createViewerHandler } from "../viewer/serve.js";
import { buildBrowser, launchChromium, tempDir, until } from "./browser/chromium.js";

const seed = Number(process.env.TAGWIRE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`viewer.browser seed=${seed} (set TAGWIRE_SEED to repeat)`);

const OUTPUT = resolve(import.meta.dirname, "../test-output");
let build: ReturnType<typeof tempDir>;
let viewerDir: string;
let browser: Browser;

beforeAll(async () => {
  build = tempDir("tagwire-viewer-build-");
  viewerDir = (await buildBrowser(build.dir)).viewerDir;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  build?.remove();
});

/** Text of the first element matching `selector`, or "" when there is none. */
async function text(page: Page, selector: string): Promise<string> {
  return (
    (await page
      .locator(selector)
      .first()
      .textContent({ timeout: 5000 })
      .catch(() => null)) ?? ""
  );
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return errors;
}

describe("the demo in the viewer", () => {
  let data: ReturnType<typeof tempDir>;
  let demo: RunningDemo;
  const log: string[] = [];

  beforeAll(async () => {
    data = tempDir("tagwire-viewer-data-");
    // 10x simulated time: the heater crosses the alert limit within seconds.
    demo = await startDemo({ port: 0, dataDir: data.dir, loopPeriodMs: 200, speed: 10, seed, viewerDir, log: (l) => log.push(l) });
  }, 30_000);

  afterAll(async () => {
    await demo?.close();
    data?.remove();
  });

  test("live values, an action reaching the device, notifications, publishing, the chart", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1700 } });
    const errors = watchErrors(page);
    await page.goto(demo.viewerUrl);

    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "online",
      "the connection pill to say online",
    );
    expect(await text(page, "#conn")).toBe("Connected");
    // The agent is found and selected by itself (it has a UI), with its channels listed.
    await until(
      () => text(page, "#agent-title"),
      (t) => t === "climate-chamber",
      "the chamber to be selected",
    );
    for (const ch of ["tag_values", "ui_state", "ui_cmds", "sensors/climate"]) {
      await page.locator(`[data-channel="climate-chamber/${ch}"]`).waitFor({ timeout: 10_000 });
    }

    // A value that changes: the temperature variable, rendered from ui_state with its units.
    const temperature = '[data-app="climate"] [data-element="temperature"] .value';
    const first = await until(
      () => text(page, temperature),
      (t) => /°C$/.test(t),
      "a temperature with units",
    );
    expect(first).toMatch(/^\d+\.\d°C$/); // precision 1 and the units, as the app declared
    await until(
      () => text(page, temperature),
      (t) => t !== first && t !== "",
      "the temperature to change",
    );

    // The tree of tag_values (the default channel) shows the app's tags, with the last change flashing.
    await page.locator('#tree [data-path="climate.temperature"]').waitFor();
    await until(
      () => page.locator("#tree .node.changed").count(),
      (n) => n > 0,
      "a just-changed key highlighted",
    );

    // Setpoint 35 through the parameter input: the device handles it (its tag follows).
    await page.fill('[data-app="climate"] [data-element="setpoint"] input', "35");
    await page.click('[data-app="climate"] [data-element="setpoint"] button[type="submit"]');
    await until(
      () => text(page, '#tree [data-path="climate.setpoint"]'),
      (t) => t.includes("35"),
      "the setpoint tag to become 35",
    );

    // Start: no confirmation asked; the app's handler turns the heater on, the page shows it.
    expect(demo.app.heaterState()).toBe("off");
    await page.click('[data-app="climate"] [data-action="start"]');
    await until(
      () => text(page, '[data-app="climate"] [data-element="heater"] .value'),
      (t) => t === "heating" || t === "holding",
      "the heater state to show heating",
    );
    expect(demo.app.heaterState()).not.toBe("off");
    await until(
      () => text(page, "#notifications"),
      (t) => t.includes("Heater started (setpoint 35 °C)"),
      "the start notification",
    );
    // The action is busy until the app clears it, then usable again.
    await until(
      () => page.locator('[data-app="climate"] [data-action="start"].busy').count(),
      (n) => n === 0,
      "the start button to leave busy",
    );

    // The heater passes the limit: the alert is sent once, listed as active and in the feed.
    await until(
      () => text(page, '#alerts [data-alert="high_temperature"]'),
      (t) => t.includes("Temperature high"),
      "the active high-temperature alert",
      20_000,
    );
    const highNotes = await page.locator("#notifications .note", { hasText: "Temperature high" }).count();
    expect(highNotes).toBe(1);
    expect(log.some((l) => l.includes(`above ${HIGH_TEMPERATURE_C} °C`))).toBe(true);

    // The chart: a series was picked by itself, has a current value, and pixels were drawn.
    await until(
      () => page.locator("#chart-legend .legend-item").count(),
      (n) => n >= 1,
      "a chart series",
    );
    expect(await text(page, "#chart-legend .legend-item .now")).toMatch(/°C$/);
    const inked = await page.evaluate(() => {
      const canvas = document.getElementById("chart") as HTMLCanvasElement;
      const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);

    // Chart a second field from the tree: humidity.
    await page.hover('#tree [data-path="climate.humidity"]');
    await page.click('#tree [data-path="climate.humidity"] .icon-btn');
    await until(
      () => page.locator("#chart-legend .legend-item").count(),
      (n) => n === 2,
      "a second series",
    );

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, "viewer.png") });

    // Stop asks for confirmation; cancelling sends nothing.
    await page.click('[data-app="climate"] [data-action="stop"]');
    await page.locator("#confirm-dialog[open]").waitFor();
    await page.click("#confirm-cancel");
    await page.waitForTimeout(300);
    expect(demo.app.heaterState()).not.toBe("off");
    await page.click('[data-app="climate"] [data-action="stop"]');
    await page.click("#confirm-ok");
    await until(
      () => text(page, '[data-app="climate"] [data-element="heater"] .value'),
      (t) => t === "off",
      "the heater state to show off",
    );
    expect(demo.app.heaterState()).toBe("off");
    await until(
      () => text(page, "#notifications"),
      (t) => t.includes("Heater stopped"),
      "the stop notification",
    );
    // Cooling clears the alert, with its resolution message.
    await until(
      () => page.locator('#alerts [data-alert="high_temperature"]').count(),
      (n) => n === 0,
      "the alert to clear",
      20_000,
    );
    await until(
      () => text(page, "#notifications"),
      (t) => t.includes("Temperature back to normal"),
      "the resolution notification",
    );

    // The publish box: bad keys are refused in the page (by the wasm core), good JSON is published.
    await page.click('[data-channel="climate-chamber/tag_values"]');
    await page.fill("#publish-text", '{"bad key!": 1}');
    await page.click("#publish-button");
    await until(
      () => text(page, "#publish-status"),
      (t) => t.includes("keys use only"),
      "the payload check",
    );
    await page.fill("#publish-text", '{"operator": {"note": "checked by the browser test"}}');
    await page.click("#publish-button");
    await until(
      () => text(page, "#publish-status"),
      (t) => t.startsWith("Published: v"),
      "the publish result",
    );
    await page.locator('#tree [data-path="operator.note"]').waitFor();
    expect(await demo.agent.getAggregate("tag_values")).toMatchObject({ operator: { note: "checked by the browser test" }, [APP_KEY]: {} });

    // Messages of a logged channel, with times.
    await page.click('[data-channel="climate-chamber/sensors/climate"]');
    await until(
      () => page.locator("#messages .msg").count(),
      (n) => n > 5,
      "logged readings",
    );
    expect(await text(page, "#messages .msg time")).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);

    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});

describe("a hub that requires tokens", () => {
  const SECRET = "viewer-browser-test-secret";
  let data: ReturnType<typeof tempDir>;
  let hub: RunningHub;
  let device: Agent;

  const start = (port = 0) =>
    startHub({
      port,
      host: "127.0.0.1",
      dataDir: data.dir,
      auth: true,
      secret: SECRET,
      log: () => {},
      httpFallback: createViewerHandler({ dir: viewerDir }),
    });

  beforeAll(async () => {
    data = tempDir("tagwire-viewer-auth-");
    hub = await start();
    device = await connect(hub.url, {
      agentId: "pump-7",
      token: createToken(SECRET, { agentId: "pump-7", role: "device" }),
      backoff: { initialMs: 50, maxMs: 300 },
    });
    await device.publish("tag_values", { level: 3 });
  }, 30_000);

  afterAll(async () => {
    await device?.close();
    await hub?.close();
    data?.remove();
  });

  test("asks for a token, refuses a bad one, connects, and reconnects by itself", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(page);
    await page.goto(`${hub.httpUrl}/`);

    await page.locator("#token-dialog[open]").waitFor({ timeout: 10_000 });
    expect(await page.getAttribute("#conn", "data-state")).toBe("auth");
    expect(await text(page, "#token-reason")).toContain("requires a token");

    await page.fill("#token-input", createToken("some-other-secret", { agentId: "eve", role: "operator" }));
    await page.click("#token-submit");
    await until(
      () => text(page, "#token-reason"),
      (t) => t.includes("refused the token"),
      "the bad token to be refused",
    );
    expect(await page.getAttribute("#conn", "data-state")).toBe("auth");

    await page.fill("#token-input", createToken(SECRET, { agentId: "alice", role: "operator" }));
    await page.click("#token-submit");
    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "online",
      "online with the good token",
    );
    expect(await text(page, "#identity")).toBe("alice · operator");
    await until(
      () => text(page, "#agent-title"),
      (t) => t === "pump-7",
      "the device to be selected",
    );
    await page.locator('#tree [data-path="level"]').waitFor();

    // The hub goes away: the page says so, and is back by itself when the hub returns.
    const port = hub.port;
    await hub.close();
    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "reconnecting",
      "the pill to show reconnecting",
    );
    hub = await start(port);
    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "online",
      "online again",
      20_000,
    );
    // Updates flow again after the reconnect (the device reconnected too).
    await (device.session as import("../bindings/client/index.js").RemoteSession).whenOnline(20_000);
    await device.publish("tag_values", { level: 4 });
    await until(
      () => text(page, '#tree [data-path="level"]'),
      (t) => t.includes("4"),
      "the new level after the reconnect",
    );
    // The token was kept for the next visit, and removed from nowhere: a reload connects directly.
    await page.reload();
    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "online",
      "online after a reload",
    );

    expect(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|net::/.test(e))).toEqual([]);
    await page.close();
  }, 90_000);

  test("a viewer token sees a 1.x app's values but cannot send its commands", async () => {
    const schema = JSON.parse(readFileSync(new URL("./fixtures/viewer-1x/pump.ui.json", import.meta.url), "utf8")) as Json;
    await (device.session as import("../bindings/client/index.js").RemoteSession).whenOnline(20_000);
    await device.publish("tag_values", { pump: { pressure: 207 } });
    await device.publish("ui_state", { state: { children: { pump: schema } } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    const errors = watchErrors(page);
    await page.goto(`${hub.httpUrl}/?token=${createToken(SECRET, { agentId: "bob", role: "viewer" })}`);
    await until(
      () => page.getAttribute("#conn", "data-state"),
      (s) => s === "online",
      "online with the viewer token",
    );
    await until(
      () => text(page, '[data-app="pump"] [data-element="pressure"] .value'),
      (t) => t === "207.0kPa",
      "the pressure tag",
    );
    for (const control of [
      '[data-action="start"]',
      '[data-element="speed"] input',
      '[data-element="enabled"] .toggle',
      '[data-element="setpoint"] button',
    ]) {
      expect(await page.locator(`[data-app="pump"] ${control}`).isDisabled(), control).toBe(true);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
