// Builds the browser side of tagwire with esbuild (run after build:wasm, which generates
// bindings/core/wasm.generated.ts):
//
//   dist/viewer/www/           the channel viewer the hub serves (index.html, viewer.js and its
//                              chunks viewer.*-<hash>.js, viewer.css)
//   dist/browser/tagwire.js    the package as ONE ES module, wasm embedded (the MQTT pipe
//                              inlined): works from a plain <script type="module"> or an import
//                              map, no bundler needed, nothing else to copy
//   dist/browser/tagwire.slim.js + tagwire.wasm + tagwire.*-<hash>.js
//                              the same code fetching the wasm beside it (smaller over the wire:
//                              base64 in JS gzips worse than the binary), code split: its
//                              tagwire.chunk-* (modules shared with the MQTT pipe) load with it,
//                              tagwire.mqtt-pipe-* only when an mqtt: URL is connected
//
// In these builds "msgpackr" is replaced by bindings/browser/msgpack.ts (the same bytes, ~1.5 KB
// instead of ~12 KB gzipped) and "mqtt" stays external (imported only for mqtt: URLs; give
// connect() the `mqtt` option or an import map). Bundler users importing the npm package get
// msgpackr and let their bundler split mqtt off.
//
//   node scripts/build-browser.mjs            build everything into dist/
//   node scripts/build-browser.mjs --sizes    build, then print gzipped sizes against MQTT.js
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LITE_MSGPACK = join(root, "bindings/browser/msgpack.ts");
/** The chunks buildPackage writes beside the bundles (tagwire.<name>-<hash>.js). */
const CHUNK_FILE = /^tagwire\.[a-z0-9-]+-[A-Z0-9]{8}\.js$/;
const VIEWER_CHUNK_FILE = /^viewer\.[a-z0-9-]+-[A-Z0-9]{8}\.js$/;

/** @returns {import("esbuild").BuildOptions} */
function common(minify) {
  return {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify,
    alias: { msgpackr: LITE_MSGPACK },
    external: ["mqtt"],
    legalComments: "none",
    logLevel: "warning",
    // The SQLite outbox and the `ws` fallback are loaded by variable specifiers on purpose
    // (Node only); the browser build must leave them alone.
    logOverride: { "unsupported-dynamic-import": "silent" },
  };
}

/**
 * Replaces the embedded wasm with a fetch of `tagwire.wasm` next to the bundle. The core loader
 * takes base64 (bindings/core/instance.ts), so the fetched bytes are handed over as base64 until
 * the loader accepts bytes directly; that costs ~1 ms for 38 KB, once.
 */
/** @type {import("esbuild").Plugin} */
const slimWasm = {
  name: "tagwire-slim-wasm",
  setup(build) {
    build.onResolve({ filter: /wasm\.generated\.js$/ }, () => ({ path: "wasm-fetched", namespace: "tagwire-slim" }));
    build.onLoad({ filter: /.*/, namespace: "tagwire-slim" }, () => ({
      loader: "js",
      contents: [
        'const bytes = new Uint8Array(await (await fetch(new URL("./tagwire.wasm", import.meta.url))).arrayBuffer());',
        'let text = "";',
        "for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));",
        "export const WASM_BASE64 = btoa(text);",
        "export const WASM_BYTE_LENGTH = bytes.length;",
      ].join("\n"),
    }));
  },
};

/** The viewer into `<outDir>/viewer/www`. */
export async function buildViewer({ outDir = join(root, "dist"), minify = true } = {}) {
  const www = join(outDir, "viewer", "www");
  mkdirSync(www, { recursive: true });
  // Split like the package bundles (see buildPackage): the MQTT pipe the viewer never uses stays
  // in a chunk it never fetches. Unsplit, esbuild would inline that dynamic import and wrap the
  // modules it shares in lazy initialisers (+2 KB gzipped).
  for (const name of readdirSync(www)) if (VIEWER_CHUNK_FILE.test(name)) rmSync(join(www, name));
  await esbuild.build({
    ...common(minify),
    entryPoints: { viewer: join(root, "viewer/src/main.ts") },
    splitting: true,
    outdir: www,
    chunkNames: "viewer.[name]-[hash]",
    sourcemap: minify ? false : "inline",
  });
  await esbuild.build({
    entryPoints: [join(root, "viewer/style.css")],
    outfile: join(www, "viewer.css"),
    bundle: true,
    minify,
    logLevel: "warning",
  });
  copyFileSync(join(root, "viewer/index.html"), join(www, "index.html"));
  copyFileSync(join(root, "viewer/favicon.svg"), join(www, "favicon.svg"));
  return www;
}

/** The standalone package bundles into `<outDir>/browser`. */
export async function buildPackage({ outDir = join(root, "dist"), minify = true } = {}) {
  const dir = join(outDir, "browser");
  mkdirSync(dir, { recursive: true });
  const entry = join(root, "bindings/browser/index.ts");
  // tagwire.js stays ONE file (its point: copy it anywhere, import it, done), so the MQTT pipe is
  // inlined there. The slim build already needs tagwire.wasm beside it, so it is code split:
  // what connect() imports dynamically (the MQTT pipe) becomes a chunk fetched relative to it
  // only when used. Flat names, not a chunks/ folder, so a server of one flat directory (the
  // hub's viewer handler) serves them too; content hashes keep builds apart.
  // Chunks of an earlier build (content-hashed names) would pile up.
  for (const name of readdirSync(dir)) if (CHUNK_FILE.test(name)) rmSync(join(dir, name));
  await esbuild.build({ ...common(minify), entryPoints: [entry], outfile: join(dir, "tagwire.js") });
  await esbuild.build({
    ...common(minify),
    splitting: true,
    outdir: dir,
    chunkNames: "tagwire.[name]-[hash]",
    entryPoints: { "tagwire.slim": entry },
    plugins: [slimWasm],
  });
  copyFileSync(join(root, "build/tagwire.wasm"), join(dir, "tagwire.wasm"));
  return dir;
}

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

/**
 * Size of what a page loads up front: the entry plus the chunks it imports statically, built
 * as buildPackage does: split (chunks behind a dynamic import, such as the MQTT pipe, excluded)
 * or, for the one-file build, not.
 */
async function bundleSize(contents, { lite = true, slim = false, split = true } = {}) {
  /** @type {import("esbuild").BuildOptions} */
  const options = {
    ...common(true),
    entryPoints: { "size-entry": "size-entry" },
    splitting: split,
    absWorkingDir: root,
    outdir: join(root, "size-out"),
    write: false,
    metafile: true,
  };
  const entryPlugin = {
    name: "size-entry",
    setup(build) {
      build.onResolve({ filter: /^size-entry$/ }, () => ({ path: "size-entry", namespace: "size-entry" }));
      build.onLoad({ filter: /.*/, namespace: "size-entry" }, () => ({ contents, loader: "ts", resolveDir: root }));
    },
  };
  if (!lite) delete options.alias;
  options.plugins = slim ? [entryPlugin, slimWasm] : [entryPlugin];
  const out = await esbuild.build(options);
  const files = new Map(out.outputFiles.map((f) => [relative(root, f.path), f.contents]));
  let raw = 0;
  let gzip = 0;
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const js = files.get(file);
    raw += js.length;
    gzip += gz(js);
    for (const i of out.metafile.outputs[file].imports) if (i.kind === "import-statement") visit(i.path);
  };
  visit(Object.keys(out.metafile.outputs).find((f) => out.metafile.outputs[f].entryPoint !== undefined));
  return { raw, gzip };
}

/** Gzipped sizes (level 9) of the browser builds and of MQTT.js's browser bundle. */
export async function measureSizes({ outDir = join(root, "dist") } = {}) {
  const wasm = readFileSync(join(root, "build/tagwire.wasm"));
  const client = 'export { createCore } from "./bindings/core/index.js"; export { connect } from "./bindings/client/connect.js";';
  const rows = [];
  const add = (what, s, extra = 0, extraRaw = 0) => rows.push({ what, raw: s.raw + extraRaw, gzip: s.gzip + extra });
  add("core + WebSocket client, one file (wasm embedded)", await bundleSize(client, { split: false }));
  add("core + WebSocket client, slim JS + tagwire.wasm", await bundleSize(client, { slim: true }), gz(wasm), wasm.length);
  add("core + WebSocket client with msgpackr (npm package via a bundler)", await bundleSize(client, { lite: false }));
  add(
    "whole browser entry (dist/browser/tagwire.js, one file)",
    await bundleSize('export * from "./bindings/browser/index.js";', { split: false }),
  );
  try {
    // viewer.js and the chunks it imports statically (not the MQTT pipe behind import()).
    const www = join(outDir, "viewer/www");
    const viewer = readFileSync(join(www, "viewer.js"));
    const files = [viewer, ...[...viewer.toString("latin1").matchAll(/from\s*"\.\/([^"]+)"/g)].map((m) => readFileSync(join(www, m[1])))];
    rows.push({
      what: "viewer app (viewer.js + its static chunks)",
      raw: files.reduce((n, f) => n + f.length, 0),
      gzip: files.reduce((n, f) => n + gz(f), 0),
    });
  } catch {
    // the viewer was not built into outDir
  }
  const mqttPath = join(root, "node_modules/mqtt/dist/mqtt.min.js");
  try {
    const mqtt = readFileSync(mqttPath);
    rows.push({ what: "anchor: MQTT.js browser bundle (mqtt/dist/mqtt.min.js)", raw: mqtt.length, gzip: gz(mqtt) });
  } catch {
    rows.push({ what: "anchor: MQTT.js browser bundle not found", raw: 0, gzip: 0 });
  }
  rows.push({ what: "(tagwire.wasm alone)", raw: wasm.length, gzip: gz(wasm) });
  return rows;
}

async function main() {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const outDir = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "dist");
  const minify = !args.includes("--no-minify");
  const www = await buildViewer({ outDir, minify });
  const pkg = await buildPackage({ outDir, minify });
  console.log(`viewer -> ${www}\nbrowser bundles -> ${pkg}`);
  if (args.includes("--sizes")) {
    const rows = await measureSizes({ outDir });
    const kb = (n) => (n / 1024).toFixed(1).padStart(7);
    const width = Math.max(...rows.map((r) => r.what.length));
    console.log(`\n${"bundle".padEnd(width)}  ${"min KB".padStart(7)}  ${"gzip KB".padStart(7)}`);
    for (const r of rows) console.log(`${r.what.padEnd(width)}  ${kb(r.raw)}  ${kb(r.gzip)}`);
    writeFileSync(join(outDir, "browser", "sizes.json"), JSON.stringify(rows, null, 2) + "\n");
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
