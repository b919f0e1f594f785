// The browser package: the standalone ES modules scripts/build-browser.mjs makes (one file with
// the wasm embedded, and the slim one that fetches tagwire.wasm) loaded by a plain
// <script type="module"> in headless Chromium, talking to a real hub; the small msgpack codec
// those builds use in place of msgpackr, checked byte for byte against msgpackr with seeded
// random values; the MQTT pipe chunk loaded only for mqtt:// URLs; and the size budget of core +
// WebSocket client (under 44 KB gzipped).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { Packr as LitePackr } from "../bindings/browser/msgpack.js";
import { packr as msgpackr } from "../bindings/protocol/msgpack.js";
import { decodeFrames } from "../bindings/protocol/frames.js";
import { startHub, type RunningHub } from "../hub/index.js";
import { createViewerHandler } from "../viewer/serve.js";
import { buildBrowser, launchChromium, tempDir } from "./browser/chromium.js";

const seed = Number(process.env.TAGWIRE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`browser.package seed=${seed} (set TAGWIRE_SEED to repeat)`);

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** A random value of the protocol's data model (what documents and frames hold). */
function randomValue(r: () => number, depth = 0): unknown {
  const kind = Math.floor(r() * (depth > 4 ? 6 : 9));
  const ints = [
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53 - 1,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2 ** 31),
    -(2 ** 31) - 1,
  ];
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return r() < 0.5 ? ints[Math.floor(r() * ints.length)] : Math.floor((r() - 0.5) * 2 ** (r() * 40));
    case 3:
      return r() < 0.2 ? [NaN, Infinity, -Infinity, -0.5][Math.floor(r() * 4)] : (r() - 0.5) * 10 ** Math.floor(r() * 12);
    case 4: {
      const lengths = [0, 5, 31, 32, 255, 256, 70_000];
      const n = r() < 0.9 ? Math.floor(r() * 40) : lengths[Math.floor(r() * lengths.length)]!;
      const alphabet = "abcXYZ019 _-é€😀\u0000";
      let s = "";
      while (s.length < n) s += alphabet[Math.floor(r() * alphabet.length)];
      return s;
    }
    case 5: {
      const n = [0, 1, 20, 255, 256, 300][Math.floor(r() * 6)]!;
      return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    }
    case 6:
    case 7: {
      const n = r() < 0.1 ? 20 : Math.floor(r() * 6);
      return Array.from({ length: n }, () => randomValue(r, depth + 1));
    }
    default: {
      const n = r() < 0.1 ? 17 : Math.floor(r() * 6);
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) o[`k${Math.floor(r() * 1000)}`] = randomValue(r, depth + 1);
      return o;
    }
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Normalises what a decoder returns (msgpackr gives Buffers in Node) for comparison. */
const plain = (v: unknown): unknown =>
  v instanceof Uint8Array
    ? Array.from(v)
    : Array.isArray(v)
      ? v.map(plain)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
        : v;

describe("the browser msgpack codec (replaces msgpackr in browser builds)", () => {
  const lite = new LitePackr({ int64AsType: "number" });

  test("encodes the same bytes as msgpackr and decodes them to the same values (seeded)", () => {
    const r = rng(seed);
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(r);
      const expected = msgpackr.pack(value);
      const actual = lite.pack(value);
      expect(hex(actual), `value #${i}`).toBe(hex(expected));
      expect(plain(lite.unpack(expected)), `value #${i}`).toEqual(plain(msgpackr.unpack(expected)));
    }
  });

  test("input cut short is marked incomplete; trailing bytes, ext types and 0xc1 are refused", () => {
    const bytes = lite.pack({ frames: [1, "two", new Uint8Array([3])], more: "x".repeat(40) });
    for (let cut = 0; cut < bytes.length; cut++) {
      let error: unknown;
      try {
        lite.unpack(bytes.subarray(0, cut));
      } catch (e) {
        error = e;
      }
      expect((error as { incomplete?: boolean })?.incomplete, `cut at ${cut}`).toBe(true);
    }
    expect(() => lite.unpack(Uint8Array.of(0xc0, 0xc0))).toThrow(/after the msgpack value/);
    expect(() => lite.unpack(Uint8Array.of(0xd4, 0x01, 0x00))).toThrow(/not supported/);
    expect(() => lite.unpack(Uint8Array.of(0xc1))).toThrow(/not supported/);
    expect(() => lite.pack(new Date())).toThrow();
    // The codec still works after refusing input.
    expect(lite.unpack(lite.pack({ ok: true }))).toEqual({ ok: true });
  });

  test("frames.ts decodes a batch through it exactly as through msgpackr", () => {
    const batch = msgpackr.pack([
      [16, 7, { version: 3, diff: msgpackr.pack({ a: 1 }), message: null }],
      [19, "dev", "tag_values", 4, msgpackr.pack({ b: 2 })],
    ]);
    const viaLite = lite.unpack(batch) as unknown[];
    expect(plain(viaLite)).toEqual(plain(msgpackr.unpack(batch)));
    expect(decodeFrames(batch)[1]).toMatchObject({ type: "aggregate", agentId: "dev", version: 4 });
  });

  test("__proto__ keys stay data", () => {
    const bytes = Uint8Array.of(0x81, 0xa9, ...Buffer.from("__proto__"), 0x81, 0xa1, 0x78, 0x01);
    const value = lite.unpack(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

test("the browser entry exports what the main entry does, less the MQTT transport classes", async () => {
  const main = Object.keys(await import("../bindings/index.js")).sort();
  const browserEntry = Object.keys(await import("../bindings/browser/index.js")).sort();
  expect(browserEntry).toEqual(main.filter((name) => name !== "MqttTransport" && name !== "connectMqtt"));
  expect(main).toEqual(expect.arrayContaining(["MqttTransport", "connectMqtt"]));
});

describe("the standalone bundles in Chromium", () => {
  let build: ReturnType<typeof tempDir>;
  let data: ReturnType<typeof tempDir>;
  let packageDir: string;
  let hub: RunningHub;
  let browser: Browser;

  beforeAll(async () => {
    build = tempDir("tagwire-pkg-build-");
    data = tempDir("tagwire-pkg-data-");
    ({ packageDir } = await buildBrowser(build.dir, true));
    // A page that uses the package the way a plain HTML file would: no bundler, no import map.
    const page = (file: string) => `<!doctype html><meta charset="utf-8"><title>tagwire ${file}</title>
<script type="module">
  import { createCore, connect, NumericVariable } from "./${file}";
  try {
    const core = await createCore();
    const valid = [core.validatePayload({ ok_key: 1 }), core.validatePayload({ "bad key": 1 })];
    const merged = core.applyDiff({ a: { b: 1, c: 2 } }, { a: { c: null, d: 3 } });
    const agent = await connect("ws://" + location.host + "/", { agentId: "browser-${file.replace(/\W/g, "-")}" });
    const events = [];
    agent.subscribe("tag_values", (e) => events.push(e.type + ":" + e.version));
    const first = await agent.publish("tag_values", { level: 7, unit: "%" }, { log: true });
    const second = await agent.publish("tag_values", { level: 8 });
    const aggregate = await agent.getAggregate("tag_values");
    const messages = await agent.getMessages("tag_values");
    const ui = new NumericVariable("level", "Level", { precision: 1, units: "%" }).toJSON().type;
    await new Promise((r) => setTimeout(r, 200));
    await agent.close();
    window.result = { valid, merged, versions: [first.version, second.version], aggregate, messages: messages.length, events, ui };
  } catch (error) {
    window.result = { error: String(error && error.stack || error) };
  }
</script>`;
    // (Not index.html: the viewer handler serving these files puts the viewer's CSP, which
    // allows no inline script, on that one.)
    writeFileSync(join(packageDir, "embedded.html"), page("tagwire.js"));
    writeFileSync(join(packageDir, "slim.html"), page("tagwire.slim.js"));
    // connect() over mqtt:// from the slim build. This Mosquitto has no WebSocket listener, which
    // is all a browser could reach, so the page hands connect() a stand-in mqtt.js module that
    // records the broker it was asked for: enough to see the MQTT pipe chunk load and run.
    writeFileSync(
      join(packageDir, "slim-mqtt.html"),
      `<!doctype html><meta charset="utf-8"><title>tagwire slim mqtt</title>
<script type="module">
  import { connectSession } from "./tagwire.slim.js";
  try {
    const loaded = () => performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname);
    const before = loaded();
    const calls = [];
    const mqtt = { connect(url, o) { calls.push({ url, clientId: o.clientId }); throw new Error("no broker in this test"); } };
    const session = await connectSession("mqtt://127.0.0.1:1883/tw-browser", {
      agentId: "browser-mqtt", connectTimeoutMs: 0, mqtt, backoff: { initialMs: 20, maxMs: 50 }, onError: () => {},
    });
    const end = Date.now() + 10000;
    while (calls.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await session.close(0);
    window.result = { before, after: loaded(), calls };
  } catch (error) {
    window.result = { error: String(error && error.stack || error) };
  }
</script>`,
    );
    // What a bundler user gets: the package's browser entry with the real msgpackr (its browser
    // build) and mqtt.js split into a chunk loaded only for mqtt: URLs.
    const esbuild = await import("esbuild");
    await esbuild.build({
      entryPoints: { bundled: join(import.meta.dirname, "../bindings/browser/index.ts") },
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      outdir: packageDir,
      chunkNames: "chunk-[hash]",
      logLevel: "error",
      logOverride: { "unsupported-dynamic-import": "silent" },
    });
    writeFileSync(join(packageDir, "bundled.html"), page("bundled.js"));
    hub = await startHub({
      port: 0,
      host: "127.0.0.1",
      dataDir: data.dir,
      auth: false,
      log: () => {},
      httpFallback: createViewerHandler({ dir: packageDir }),
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    build?.remove();
    data?.remove();
  });

  for (const [name, path] of [
    ["tagwire.js (wasm embedded)", "/embedded.html"],
    ["tagwire.slim.js + tagwire.wasm", "/slim.html"],
    ["a bundler's build (esbuild, msgpackr, code splitting)", "/bundled.html"],
  ] as const) {
    test(`${name} from a plain <script type="module">: core, connect, publish, subscribe`, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const requests: string[] = [];
      page.on("request", (r) => requests.push(new URL(r.url()).pathname));
      await page.goto(`${hub.httpUrl}${path}`);
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 20_000 });
      const result = await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result);
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({
        valid: [true, false],
        merged: { a: { b: 1, d: 3 } },
        versions: [1, 2],
        aggregate: { level: 8, unit: "%" },
        messages: 1,
        ui: "uiVariable",
      });
      expect(result.events).toEqual(expect.arrayContaining(["aggregate:1", "aggregate:2"]));
      // Only the slim build fetches the wasm file; none loads anything else (no MQTT code, no Node module).
      expect(requests.includes("/tagwire.wasm")).toBe(path === "/slim.html");
      // Code splitting puts what the entry shares with the chunks behind its dynamic imports
      // (the MQTT pipe, mqtt.js) in a chunk the entry imports statically; that one loads, the
      // MQTT pipe and mqtt.js must not.
      const chunks = requests.filter((p) => /^\/(tagwire\.)?chunk-[A-Z0-9]+\.js$/.test(p));
      // tagwire.js is the one-file build: copied alone, it must work alone.
      if (path === "/embedded.html") expect(requests.filter((p) => /^\/tagwire\.[a-z-]+-[A-Z0-9]+\.js$/.test(p))).toEqual([]);
      for (const c of chunks) {
        const code = readFileSync(join(packageDir, c.slice(1)), "utf8");
        expect(code, `${c} carries mqtt.js`).not.toMatch(/node_modules\/mqtt\//);
        expect(code, `${c} carries the MQTT pipe`).not.toMatch(/\/hub\/status/);
      }
      const known = [
        "/embedded.html",
        "/slim.html",
        "/bundled.html",
        "/tagwire.js",
        "/tagwire.slim.js",
        "/bundled.js",
        "/tagwire.wasm",
        "/favicon.ico",
      ];
      expect(requests.filter((p) => !known.includes(p) && !chunks.includes(p))).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    }, 60_000);
  }

  test("the slim build loads the MQTT pipe chunk only when connect() is given an mqtt:// URL", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on("request", (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${hub.httpUrl}/slim-mqtt.html`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 20_000 });
    const result = await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result);
    expect(result.error).toBeUndefined();
    const pipe = /^\/tagwire\.mqtt-pipe-[A-Z0-9]+\.js$/;
    // Not with the bundle, nor in the bundle itself; then fetched once the mqtt: factory ran,
    // and that code opened the broker connection (through the stand-in mqtt.js).
    expect((result.before as string[]).filter((p) => pipe.test(p))).toEqual([]);
    expect(readFileSync(join(packageDir, "tagwire.slim.js"), "utf8")).not.toMatch(/\/hub\/status/);
    expect(requests.filter((p) => pipe.test(p))).toHaveLength(1);
    const calls = result.calls as Array<{ url: string; clientId: string }>;
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toEqual({ url: "mqtt://127.0.0.1:1883", clientId: expect.stringMatching(/^tw-/) });
    // mqtt.js itself was never asked for: the stand-in took its place.
    expect(requests.filter((p) => /mqtt(\.min)?\.js$|\/mqtt$/.test(p))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

// 40 KB until the MQTT pipe gained its own authentication (pure-TS HMAC-SHA256, ~3 KB gzipped),
// which connect()'s static transport table carried into every client bundle; 44 KB until issue
// 13's core work (one-cache-line map cells and an inlined output writer, +0.8 KB of wasm; block
// records for rolling statistics) took it to 44.0; 45 KB at 44.2. Since connect() imports the
// MQTT pipe only for mqtt:// URLs (a chunk of its own) it measures 41.5: the pipe's ~4.4 KB left,
// less the chunk shared with it that the entry now imports statically (gzipped apart, ~0.5 KB
// worse than inside the entry) and the deferring transport. 40 KB is out of reach this way.
// 43 KB since issue 13's third round took it from 41.5 to 42.5: the client's own msgpack reader
// (shared with the browser codec, +0.1 KB net) and its fast receive path (+0.4 KB), packing into
// the core's input region for the app loop (+0.35 KB), lazy M2 for rolling statistics (+0.2 KB).
// 44 KB since the merge's fast path (fastPairs in assembly/doc.ts, issue 13's merge target: store.apply
// ~190 -> ~150 ns) took the wasm from 18,009 to 18,567 B gzipped, the slim build from 43.0 to 43.5.
test("size: core + WebSocket client under 44 KB gzipped (slim build), against MQTT.js", async () => {
  const script = new URL("../scripts/build-browser.mjs", import.meta.url).href;
  const { measureSizes } = (await import(script)) as { measureSizes(): Promise<Array<{ what: string; raw: number; gzip: number }>> };
  const rows = await measureSizes();
  for (const r of rows)
    console.log(`${r.what.padEnd(70)} ${(r.raw / 1024).toFixed(1).padStart(7)} KB min ${(r.gzip / 1024).toFixed(1).padStart(6)} KB gzip`);
  const slim = rows.find((r) => r.what.startsWith("core + WebSocket client, slim"))!;
  const mqtt = rows.find((r) => r.what.startsWith("anchor: MQTT.js"))!;
  expect(slim.gzip).toBeLessThan(44 * 1024);
  expect(mqtt.gzip).toBeGreaterThan(slim.gzip);
}, 60_000);
