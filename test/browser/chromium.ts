// Shared by the browser tests: Debian's Chromium through playwright-core, the viewer and browser
// bundles built once per test file into a temp dir (so a test never depends on a stale dist/),
// and small polling helpers.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.TAGWIRE_CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set TAGWIRE_CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Builds the viewer (and, with `pkg`, the standalone bundles) into `outDir`. */
export async function buildBrowser(outDir: string, pkg = false): Promise<{ viewerDir: string; packageDir: string }> {
  const script = new URL("../../scripts/build-browser.mjs", import.meta.url).href;
  const build = (await import(script)) as {
    buildViewer(o: { outDir: string }): Promise<string>;
    buildPackage(o: { outDir: string }): Promise<string>;
  };
  const viewerDir = await build.buildViewer({ outDir });
  const packageDir = pkg ? await build.buildPackage({ outDir }) : join(outDir, "browser");
  return { viewerDir, packageDir };
}

/** Polls `read` until `accept` says yes; returns the accepted value. */
export async function until<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (accept(last)) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
