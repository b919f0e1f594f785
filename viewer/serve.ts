// Serves the built viewer (scripts/build-browser.mjs writes it to dist/viewer/www) from the hub's
// own port, through the hub's `httpFallback` option: the page, its script and styles at `/`,
// everything else (the API under /agents, /health, WebSocket upgrades) left to the hub.
//
// Files are read once, kept in memory with a gzip copy, and sent with `no-cache` plus an ETag, so
// a rebuilt viewer shows on the next reload. The page gets a strict Content Security Policy: its
// own scripts and styles only, WebSocket and fetch to its own origin, and 'wasm-unsafe-eval' so
// it can compile the tagwire core.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export interface ViewerHandlerOptions {
  /** The built viewer directory (default: dist/viewer/www next to this module's build). */
  dir?: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
};

const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
}

/** The directory the build writes the viewer to, as seen from this module (src or dist). */
export function defaultViewerDir(): string {
  const self = fileURLToPath(import.meta.url);
  // dist/viewer/serve.js -> dist/viewer/www; viewer/serve.ts (run from source) -> dist/viewer/www.
  return self.endsWith(".ts") ? resolve(self, "../../dist/viewer/www") : resolve(self, "../www");
}

/** True when `dir` holds a built viewer. */
export function viewerBuilt(dir: string = defaultViewerDir()): boolean {
  return existsSync(join(dir, "index.html"));
}

/**
 * An `httpFallback` for startHub: answers GET/HEAD for the viewer's files and returns false for
 * anything else, so the hub's API handles it.
 */
export function createViewerHandler(options: ViewerHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const dir = resolve(options.dir ?? defaultViewerDir());
  const cache = new Map<string, StaticFile>();
  let names: Set<string> | undefined;

  const load = (name: string): StaticFile | undefined => {
    names ??= existsSync(dir) ? new Set(readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile())) : new Set();
    if (!names.has(name)) return undefined;
    let file = cache.get(name);
    if (!file) {
      const body = readFileSync(join(dir, name));
      const type = TYPES[extname(name)] ?? "application/octet-stream";
      const compressible = !type.startsWith("image/png");
      file = {
        type,
        body,
        gzip: compressible && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined,
        etag: `"${createHash("sha1").update(body).digest("base64url").slice(0, 16)}"`,
      };
      cache.set(name, file);
    }
    return file;
  };

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (req.headers.upgrade) return false;
    const path = new URL(req.url ?? "/", "http://hub").pathname;
    let name: string;
    if (path === "/" || path === "/index.html") name = "index.html";
    else if (/^\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(path)) name = path.slice(1);
    else return false;
    const file = load(name);
    if (!file) {
      if (name !== "index.html") return false;
      const text = "The tagwire viewer is not built. Run `npm run build` (or `node scripts/build-browser.mjs`) and reload.\n";
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
      return true;
    }
    const headers: Record<string, string> = {
      "content-type": file.type,
      "cache-control": "no-cache",
      etag: file.etag,
      "x-content-type-options": "nosniff",
      // The page may carry a token in its address: never send it on as a referrer.
      "referrer-policy": "no-referrer",
    };
    if (name === "index.html") headers["content-security-policy"] = CSP;
    if (req.headers["if-none-match"] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = file.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? file.gzip! : file.body;
    if (gzip) headers["content-encoding"] = "gzip";
    headers.vary = "accept-encoding";
    headers["content-length"] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}
