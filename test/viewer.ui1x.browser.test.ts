// A Doover 1.x app beside a 0.4 one, in real headless Chromium. The demo's climate chamber (a 0.4
// app: values in ui_state, commands merged into ui_cmds) runs as in viewer.browser.test.ts; on the
// same agent this test plays a pydoover 1.x device app "pump": it publishes the schema pydoover
// itself produced (test/fixtures/viewer-1x/pump.ui.json, scripts/golden/viewer_ui1x.py) under its
// key in ui_state, its values in tag_values, its config in deployment_config, and answers the
// page's RPC commands as pydoover's UICommandsManager does (auto_update: the accepted value is
// written into the ui_cmds aggregate). Every check reads what the page shows or what reached
// the hub. A screenshot goes to test-output/viewer-1x.png.
import { readFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Json } from "../bindings/sdk/session.js";
import { startDemo, type RunningDemo } from "../examples/demo.js";
import { buildBrowser, launchChromium, tempDir, until } from "./browser/chromium.js";

const seed = Number(process.env.TAGWIRE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`viewer.ui1x.browser seed=${seed} (set TAGWIRE_SEED to repeat)`);

const OUTPUT = resolve(import.meta.dirname, "../test-output");
const SCHEMA = JSON.parse(readFileSync(new URL("./fixtures/viewer-1x/pump.ui.json", import.meta.url), "utf8")) as Json;
const APP = "pump";

let build: ReturnType<typeof tempDir>;
let data: ReturnType<typeof tempDir>;
let browser: Browser;
let demo: RunningDemo;
/** RPC requests the page sent to the pump app, in order. */
const requests: Array<{ [key: string]: Json }> = [];

beforeAll(async () => {
  build = tempDir("tagwire-viewer1x-build-");
  data = tempDir("tagwire-viewer1x-data-");
  const { viewerDir } = await buildBrowser(build.dir);
  browser = await launchChromium();
  demo = await startDemo({ port: 0, dataDir: data.dir, loopPeriodMs: 250, speed: 1, seed, viewerDir, log: () => {} });
  const agent = demo.agent;
  // The pump app's side of pydoover's command pattern.
  agent.subscribe("ui_cmds", async (event) => {
    if (event.type !== "message") return;
    const d = event.message.data as { [key: string]: Json };
    if (d.type !== "rpc" || typeof d.method !== "string") return;
    requests.push(d);
    // pydoover: an app takes a request with its own app_key, or with none (global).
    if (d.app_key !== APP && d.app_key !== undefined) return;
    // A handler that raises RPCError: an error reply, nothing stored.
    if (d.method === "label" && d.request === "forbidden") {
      await agent.createMessage("ui_cmds", {
        type: "rpc",
        reply_to: event.message.id,
        status: { code: "error", message: { code: "INVALID", message: "that label is reserved" } },
        response: {},
      });
      return;
    }
    // auto_update, then the success reply (tagwire's form of pydoover's message update).
    await agent.publish("ui_cmds", { [APP]: { [d.method]: d.request ?? null } });
    await agent.createMessage("ui_cmds", {
      type: "rpc",
      reply_to: event.message.id,
      status: { code: "success", message: null },
      response: {},
    });
  });
  await agent.publish("deployment_config", { applications: { [APP]: { APP_KEY: APP, APP_DISPLAY_NAME: "Borehole pump" } } });
  await agent.publish("tag_values", {
    [APP]: { pressure: 312.5, running: true, last_service: 1_700_000_000, next_start: Date.now() + 3 * 3600_000 },
  });
  // As pydoover's docker Application does: clear the app's key, then write the whole schema.
  await agent.publish("ui_state", { state: { children: { [APP]: null } } });
  await agent.publish("ui_state", { state: { children: { [APP]: SCHEMA } } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  build?.remove();
  data?.remove();
});

async function text(page: Page, selector: string): Promise<string> {
  return (
    (await page
      .locator(selector)
      .first()
      .textContent({ timeout: 5000 })
      .catch(() => null)) ?? ""
  );
}

const el = (name: string) => `[data-app="${APP}"] [data-element="${name}"]`;

/** Waits for the pump app to have received `count` requests; returns the last. */
async function nthRequest(count: number): Promise<{ [key: string]: Json }> {
  await until(
    () => requests.length,
    (n) => n >= count,
    `request ${count} to reach the app`,
  );
  return requests[count - 1]!;
}

describe("a Doover 1.x app beside a 0.4 app", () => {
  test("every element renders resolved values, follows tags live, and sends pydoover's commands", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 2200 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
    await page.goto(demo.viewerUrl);
    await until(
      () => text(page, "#agent-title"),
      (t) => t === "climate-chamber",
      "the chamber to be selected",
    );

    // Both generations on one page, each drawn by its own view.
    await page.locator(`[data-generation="1.x"] [data-app="${APP}"]`).waitFor({ timeout: 15_000 });
    await page.locator('[data-generation="0.4"] [data-app="climate"]').waitFor();
    // The title is a $config.app() reference, resolved from deployment_config.
    await until(
      () => text(page, `[data-app="${APP}"] .card-head h2`),
      (t) => t === "Borehole pump",
      "the configured display name",
    );

    // Variables: tag values with units and precision, or the reference's default when absent.
    await until(
      () => text(page, `${el("pressure")} .value`),
      (t) => t === "312.5kPa",
      "the pressure tag",
    );
    expect(await text(page, `${el("running")} .value`)).toBe("Yes");
    expect(await text(page, `${el("mode_text")} .value`)).toBe("auto"); // absent tag: default "auto"
    expect(await text(page, `${el("last_service")} .value`)).toContain("2023"); // epoch seconds
    expect(await text(page, `${el("next_start")} .value`)).toMatch(/^in 2 h 59 min|^in 3 h/);
    expect(await text(page, `${el("flow")} .value`)).toBe("12.50L/s"); // default 12.5, precision 2
    expect(await text(page, `${el("note")} .value`)).toBe("fixed text"); // a literal in a Container
    expect(await page.locator(`${el("pressure")} .range-bar .seg`).count()).toBe(3);
    expect(await text(page, `${el("pressure")} .hint`)).toContain("Trip 450kPa");

    // Interactions show $cmds.app() values, which are their defaults until a command is accepted.
    expect(await page.inputValue(`${el("setpoint")} input`)).toBe("250");
    expect(await text(page, `${el("setpoint")} .hint`)).toBe("current 250 kPa · 50 to 450");
    expect(await page.inputValue(`${el("label")} input`)).toBe("north");
    expect(await page.inputValue(`${el("mode")} select`)).toBe("auto");
    expect(await page.locator(`${el("mode")} option`).allTextContents()).toEqual(["—", "Auto", "Manual", "Off"]);
    expect(await page.inputValue(`${el("speed")} input`)).toBe("40");
    expect(await page.getAttribute(`${el("enabled")} .toggle`, "aria-checked")).toBe("true");
    expect(await page.getAttribute(`${el("service_due")} input`, "type")).toBe("datetime-local");
    expect(await page.getAttribute(`${el("quiet_from")} input`, "type")).toBe("time");
    expect(await text(page, `[data-app="${APP}"] [data-action="start"]`)).toBe("Start pump");

    // Containers: the submodule is open by its tag's default, with the status from a tag.
    expect(await page.getAttribute(el("details"), "open")).not.toBeNull();
    expect(await text(page, `${el("details")} .status`)).toBe("normal");
    // Tabs: defaultPage 1 opens the second tab (Cameras); the cameras are placeholders with settings.
    expect(await page.getAttribute('[data-tab="cameras"]', "aria-selected")).toBe("true");
    expect(await page.locator(el("front_live")).isVisible()).toBe(true);
    expect(await page.locator(el("trend_plot")).isVisible()).toBe(false);
    expect(await text(page, el("front_live"))).toMatch(/cam_front.*main.*PTZ controlyes/);
    expect(await text(page, el("front_history"))).toContain("cam_front");
    await page.click('[data-tab="trends"]');
    expect(await page.locator(el("trend_plot")).isVisible()).toBe(true);
    expect(await page.locator(`${el("trend_plot")} .series .series-value`).allTextContents()).toEqual(["312.5 kPa", "12.5 L/s"]);
    // Special elements.
    await until(
      () => text(page, `${el("connection")} .value`),
      (t) => t === "Online",
      "the connection online",
    );
    expect(await text(page, el("connection"))).toContain("periodic · every 600 s · next within 900 s · offline after 1800 s");
    expect(await text(page, el("significantEvent"))).toContain("Notifications panel");
    expect(await text(page, el("remote_map"))).toContain("https://example.com/map.js");
    // The warning is hidden while its tag (level_ok, default true) says all is well.
    expect(await page.locator(el("low_level")).isHidden()).toBe(true);

    // Live: tag changes reach the page without a reload.
    await demo.agent.publish("tag_values", {
      [APP]: { pressure: 401.25, level_ok: false, level_status: "low", details_open: false, flow: 3 },
    });
    await until(
      () => text(page, `${el("pressure")} .value`),
      (t) => t === "401.3kPa",
      "the new pressure",
    );
    await until(
      () => page.locator(el("low_level")).isVisible(),
      (v) => v,
      "the warning to show",
    );
    expect(await text(page, `${el("details")} .status`)).toBe("low");
    expect(await page.getAttribute(el("details"), "open")).toBeNull(); // defaultOpen followed the tag
    expect(await text(page, `${el("flow")} .value`)).toBe("3.00L/s");
    expect(await page.locator(`${el("trend_plot")} .series .series-value`).allTextContents()).toEqual(["401.3 kPa", "3 L/s"]);
    // A burst of tag writes: the page draws at most once a frame and ends on the last value.
    const burstStart = Date.now();
    for (let i = 1; i <= 200; i++) void demo.agent.publish("tag_values", { [APP]: { pressure: 100 + i } });
    await until(
      () => text(page, `${el("pressure")} .value`),
      (t) => t === "300.0kPa",
      "the last of 200 pressure writes",
      30_000,
    );
    console.log(`viewer.ui1x: 200 tag writes published and shown in ${Date.now() - burstStart} ms`);
    await page.click(`${el("details")} summary`); // opened by hand: the tag no longer folds it
    await demo.agent.publish("tag_values", { [APP]: { details_open: false, level_status: "ok" } });
    await until(
      () => text(page, `${el("details")} .status`),
      (t) => t === "ok",
      "the status to follow",
    );
    expect(await page.getAttribute(el("details"), "open")).not.toBeNull();

    // Commands, as pydoover's UICommandsManager expects them: one RPC message on ui_cmds each.
    const rpc = (method: string, request: Json) => ({ type: "rpc", method, request, status: { code: "sent" }, response: {}, app_key: APP });
    await page.click(`[data-app="${APP}"] [data-action="start"]`);
    expect(await nthRequest(1)).toEqual(rpc("start", true));
    expect(Object.keys(requests[0]!)).toEqual(["type", "method", "request", "status", "response", "app_key"]);

    // The slider: the accepted value comes back through $cmds.app().speed.
    await page.locator(`${el("speed")} input`).evaluate((input: HTMLInputElement) => {
      input.value = "65";
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    expect(await nthRequest(2)).toEqual(rpc("speed", 65));
    await until(
      () => text(page, `${el("speed")} .hint`),
      (t) => t === "65%",
      "the accepted speed",
    );
    await until(
      () => page.locator(`${el("speed")} input.busy`).count(),
      (n) => n === 0,
      "the slider to leave busy",
    );

    // The switch sends the new state; the app's acceptance turns it off on the page.
    await page.click(`${el("enabled")} .toggle`);
    expect(await nthRequest(3)).toEqual(rpc("enabled", false));
    await until(
      () => page.getAttribute(`${el("enabled")} .toggle`, "aria-checked"),
      (v) => v === "false",
      "the switch off",
    );

    // Stop asks first, with pydoover's ConfirmDialog title and reason; cancelling sends nothing.
    await page.click(`[data-app="${APP}"] [data-action="stop"]`);
    await page.locator("#confirm-dialog[open]").waitFor();
    expect(await text(page, "#confirm-title")).toBe("Stop the pump?");
    expect(await text(page, "#confirm-text")).toContain("Flow stops at once.");
    await page.click("#confirm-cancel");
    await page.waitForTimeout(300);
    expect(requests.length).toBe(3);
    await page.click(`[data-app="${APP}"] [data-action="stop"]`);
    await page.click("#confirm-ok");
    expect(await nthRequest(4)).toEqual(rpc("stop", true));

    // A number input and a select.
    await page.fill(`${el("setpoint")} input`, "300");
    await page.click(`${el("setpoint")} button[type="submit"]`);
    expect(await nthRequest(5)).toEqual(rpc("setpoint", 300));
    await until(
      () => text(page, `${el("setpoint")} .hint`),
      (t) => t.startsWith("current 300 kPa"),
      "the accepted setpoint",
    );
    await page.selectOption(`${el("mode")} select`, "manual");
    expect(await nthRequest(6)).toEqual(rpc("mode", "manual"));
    await page.fill(`${el("label")} input`, "south well");
    await page.click(`${el("label")} button[type="submit"]`);
    expect(await nthRequest(7)).toEqual(rpc("label", "south well"));
    await until(
      () => page.locator(`${el("label")} button.busy`).count(),
      (n) => n === 0,
      "the label's set to leave busy",
    );
    // An error reply from the app's handler is shown, and the value stays.
    await page.fill(`${el("label")} input`, "forbidden");
    await page.click(`${el("label")} button[type="submit"]`);
    await until(
      () => text(page, "#toasts"),
      (t) => t.includes("Site label: INVALID: that label is reserved"),
      "the error reply",
    );
    expect(await text(page, `${el("label")} .hint`)).toBe("current south well");
    await until(
      () => page.locator(`${el("label")} button.busy`).count(),
      (n) => n === 0,
      "busy to end on the error reply",
    );
    requests.pop(); // the refused request is not counted below

    // Dates: epoch milliseconds, within the element's direction and maxFuture; a time of day:
    // seconds into the day.
    await page.fill(`${el("service_due")} input`, "2020-01-01T10:00");
    await page.click(`${el("service_due")} button[type="submit"]`);
    await until(
      () => text(page, "#toasts"),
      (t) => t.includes("Service due: between"),
      "the date to be refused",
    );
    const due = await page.evaluate(() => {
      const d = new Date(Date.now() + 2 * 86_400_000);
      d.setSeconds(0, 0);
      return { local: new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16), ms: d.getTime() };
    });
    await page.fill(`${el("service_due")} input`, due.local);
    await page.click(`${el("service_due")} button[type="submit"]`);
    expect(await nthRequest(8)).toEqual(rpc("service_due", due.ms));
    await page.fill(`${el("quiet_from")} input`, "06:30");
    await page.click(`${el("quiet_from")} button[type="submit"]`);
    expect(await nthRequest(9)).toEqual(rpc("quiet_from", 6 * 3600 + 30 * 60));
    await until(
      () => page.inputValue(`${el("quiet_from")} input`),
      (v) => v === "06:30",
      "the accepted time",
    );

    // A direct button writes the ui_cmds aggregate itself (no RPC); a global one sends its RPC
    // request without an app key.
    await page.click(`[data-app="${APP}"] [data-action="reset"]`);
    await until(
      () => demo.agent.getAggregate("ui_cmds"),
      (a) => (a as { [k: string]: { [k: string]: Json } })[APP]?.reset === true,
      "the direct write",
    );
    await page.click(`[data-app="${APP}"] [data-action="camera_get_now"]`);
    expect(await nthRequest(10)).toEqual({ type: "rpc", method: "camera_get_now", request: true, status: { code: "sent" }, response: {} });
    expect(requests.some((r) => r.method === "reset")).toBe(false);

    // The chart: a 1.x variable charts its tag from tag_values (the first numeric variable with a
    // value may have been charted by itself already: the button toggles it either way).
    await page.locator("#chart-legend .legend-item").first().waitFor();
    const pressureSeries = () => page.locator("#chart-legend .legend-item", { hasText: "Pressure" }).count();
    const before = await pressureSeries();
    await page.click(`${el("pressure")} .icon-btn`);
    await until(pressureSeries, (n) => n === 1 - before, "the pressure series to toggle");
    if (before === 0) await page.click(`${el("pressure")} .icon-btn`);
    await page.click(`${el("pressure")} .icon-btn`);
    await until(pressureSeries, (n) => n === 1, "the pressure series");
    await demo.agent.publish("tag_values", { [APP]: { pressure: 333 } });
    await until(
      () => text(page, '#chart-legend .legend-item:has-text("Pressure") .now'),
      (t) => t.startsWith("333"),
      "the chart to follow the tag",
    );

    // The 0.4 app beside it still works: values from ui_state, Start reaches its handler.
    await until(
      () => text(page, '[data-app="climate"] [data-element="temperature"] .value'),
      (t) => /°C$/.test(t),
      "the 0.4 temperature",
    );
    expect(demo.app.heaterState()).toBe("off");
    await page.click('[data-app="climate"] [data-action="start"]');
    await until(
      () => text(page, '[data-app="climate"] [data-element="heater"] .value'),
      (t) => t === "heating" || t === "holding",
      "the 0.4 heater on",
    );
    expect(demo.app.heaterState()).not.toBe("off");
    expect(requests.length).toBe(10); // 0.4 commands are not RPC requests

    await page.locator(`[data-app="${APP}"]`).scrollIntoViewIfNeeded();
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, "viewer-1x.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
